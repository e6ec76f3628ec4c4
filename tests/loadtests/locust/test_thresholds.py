from pathlib import Path

import pytest

from loadtests.locust.thresholds import (
    AGGREGATED,
    EndpointStats,
    Thresholds,
    main,
    read_stats_csv,
    violations,
)
from tests.loadtests.locust.isolated import run_isolated

# Writes real Locust stats CSVs (one child interpreter for all): requests are logged into Locust's own
# statistics objects and written as --csv writes them.
WRITE_CSVS = """
import csv, json
from locust.env import Environment
from locust.stats import StatsCSV, PERCENTILES_TO_REPORT
for prefix, slow_ms, failures in {runs!r}:
    env = Environment()
    for i in range(100):
        env.stats.log_request("GET", "GET /api/tasks", 10 + i % 10, 100)
    for i in range(20):
        env.stats.log_request("POST", "POST /api/tasks", slow_ms if i == 19 else 30, 50)
    for i in range(failures):
        env.stats.log_error("DELETE", "DELETE /api/tasks/{{id}}", "HTTP 500")
        env.stats.log_request("DELETE", "DELETE /api/tasks/{{id}}", 5, 0)
    with open(prefix + "_stats.csv", "w", newline="") as handle:
        StatsCSV(env, PERCENTILES_TO_REPORT).requests_csv(csv.writer(handle))
print(json.dumps("ok"))
"""


@pytest.fixture(scope="module")
def csvs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("locust-csv")
    runs = {"good": (40, 0), "slow": (2000, 0), "fail": (40, 3)}
    run_isolated(WRITE_CSVS.format(runs=[(str(base / name), *values) for name, values in runs.items()]))
    return {name: base / f"{name}_stats.csv" for name in runs}


def row(name, requests=10, failures=0, p95=100.0):
    return EndpointStats("GET", name, requests, failures, 10, p95, p95, 1.0)


def test_sign_ins_have_their_own_limit():
    sign_in = EndpointStats("AUTH", "cognito sign in", 5, 0, 900, 1500, 1500, 0.1)
    first_list = row("GET /api/tasks [after sign-in]", p95=1200)
    rows = [sign_in, first_list, row("GET /api/tasks", p95=40), row(AGGREGATED, requests=15, p95=60)]
    assert violations(rows, Thresholds(p95_ms=100, auth_p95_ms=2000)) == []
    assert violations(rows, Thresholds(p95_ms=100, auth_p95_ms=1000)) == [
        "p95 of AUTH cognito sign in is 1500 ms (limit 1000 ms)",
        "p95 of GET /api/tasks [after sign-in] is 1200 ms (limit 1000 ms)",
    ]


def test_a_clean_run_passes():
    rows = [row("GET /api/tasks"), row(AGGREGATED, requests=10)]
    assert violations(rows, Thresholds(max_failures=0, p95_ms=200)) == []


def test_failures_slow_endpoints_and_empty_runs_are_each_reported():
    rows = [row("/a", p95=900), row("/b", failures=2), row(AGGREGATED, requests=20, failures=2, p95=300)]
    broken = violations(rows, Thresholds(max_failures=0, p95_ms=250))
    assert broken == [
        "2 failed requests (at most 0 allowed)",
        "p95 of GET /a is 900 ms (limit 250 ms)",
    ]
    assert violations([row(AGGREGATED, requests=0, p95=0)], Thresholds())[0].startswith("only 0 requests")
    assert violations([row("/a")], Thresholds()) == ["no Aggregated row in the statistics"]


def test_reads_a_real_locust_csv(csvs):
    rows = {r.name: r for r in read_stats_csv(csvs["good"])}
    assert rows["GET /api/tasks"].requests == 100
    assert rows["GET /api/tasks"].method == "GET"
    assert rows["POST /api/tasks"].p50_ms == 30
    assert rows["POST /api/tasks"].p95_ms == 40  # Locust's p95 of 20 samples is the slowest one
    assert rows[AGGREGATED].requests == 120
    assert rows[AGGREGATED].failures == 0


def test_cli_exit_codes(csvs, tmp_path, capsys):
    good = csvs["good"]
    assert main([str(good), "--p95-ms", "100"]) == 0
    assert "thresholds met" in capsys.readouterr().out

    slow = csvs["slow"]
    assert main([str(slow), "--p95-ms", "100"]) == 1
    assert "p95 of POST /api/tasks is 2000 ms" in capsys.readouterr().err

    assert main([str(good), "--p95-ms", "100", "--markdown"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("| endpoint | requests |")
    assert "| GET /api/tasks | 100 | 0 |" in "\n".join(table)

    failing = csvs["fail"]
    assert main([str(failing), "--p95-ms", "100"]) == 1
    assert "3 failed requests" in capsys.readouterr().err

    assert main([str(tmp_path / "missing_stats.csv")]) == 2
