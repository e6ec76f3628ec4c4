"""benchmarks.api's wrk driving, on real wrk output against a tiny local server: the Lua script sends the
header and body, the figures are parsed, and wrk's and the server's CPU are measured for the bottleneck check.
.ci/run installs wrk; without it (a bare developer machine) the test is skipped."""

from __future__ import annotations

import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.api import (
    GENERATOR_CPU_LIMIT,
    Load,
    WrkResult,
    bottleneck_verdict,
    cpu_stat,
    parse_wrk,
    run_wrk,
    steal_share,
    summarize,
    wrk_script,
)
from devstack.net import free_port
from devstack.processes import LoggedProcess

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (.ci/run installs it)"
)

# Answers 201 only to a POST with the expected token and body, 400 to anything else.
TINY_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        good = self.headers.get("authorization") == "Bearer t0ken]]" and body == b'{"a": "]]"}'
        self.send_response(201 if good else 400)
        self.send_header("content-length", "0")
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


@pytest.fixture
def tiny_server(tmp_path: Path) -> Iterator[tuple[str, int]]:
    url = f"http://127.0.0.1:{free_port()}/"
    argv = [sys.executable, "-c", textwrap.dedent(TINY_SERVER), url.split(":")[2].strip("/")]
    # Any answer means it is up (it answers this bare request with 400).
    with LoggedProcess(argv, tmp_path / "tiny.log", ready_url=url, ready=lambda _status: True) as server:
        assert server.process is not None
        yield url, server.process.pid


def _run(url: str, pid: int, headers: dict[str, str], body: bytes, **watch: int) -> Load:
    script = wrk_script("POST", headers, body)
    return run_wrk(url, script, seconds=1, connections=2, server_pid=pid, **watch)


def test_the_script_sends_the_header_and_body_and_the_figures_are_read(tiny_server: tuple[str, int]) -> None:
    url, pid = tiny_server
    # "]]" in both: the Lua strings must survive what would close a plain long bracket.
    load = _run(
        url, pid, {"Authorization": "Bearer t0ken]]", "Content-Type": "application/json"}, b'{"a": "]]"}'
    )
    result = load.result
    assert result.requests > 20
    assert result.errors == 0
    assert 0.5 < result.seconds < 3
    assert result.rps == pytest.approx(result.requests / result.seconds)
    assert 0 < result.p50_ms <= result.p99_ms
    # Both sides' CPU was measured: wrk's from its own rusage, the server's from its process.
    assert load.wrk_cpu_seconds > 0
    assert load.server_cpu_seconds > 0
    assert 0.8 < load.wall_seconds < 10


def test_answers_that_are_not_2xx_count_as_errors(tiny_server: tuple[str, int]) -> None:
    url, pid = tiny_server
    load = _run(url, pid, {"Authorization": "Bearer wrong"}, b"{}")
    assert load.result.requests > 0
    assert load.result.errors == load.result.requests


def test_the_bottleneck_check_names_a_saturated_generator(tiny_server: tuple[str, int]) -> None:
    url, pid = tiny_server
    load = _run(url, pid, {"Authorization": "Bearer t0ken]]"}, b'{"a": "]]"}')
    # A Python server on threads is far slower than wrk: wrk idles most of the time.
    assert not load.generator_bound
    assert bottleneck_verdict({"tiny": load}).startswith("wrk was not the bottleneck")
    saturated = Load(load.result, 1.0, GENERATOR_CPU_LIMIT + 0.05, 0.5)
    assert bottleneck_verdict({"hello": saturated, "tiny": load}) == (
        f"wrk WAS the bottleneck in hello (above {GENERATOR_CPU_LIMIT:.0%} of its CPU)"
    )


def test_output_without_the_scripts_line_is_refused() -> None:
    with pytest.raises(ValueError, match="no WRK_RESULT line"):
        parse_wrk("Running 1s test @ http://127.0.0.1:1/\n  1 threads and 1 connections\n")


def test_the_database_and_the_steal_on_the_servers_cpu_are_measured(tiny_server: tuple[str, int]) -> None:
    url, pid = tiny_server
    # The tiny server stands in for the database too: its CPU is counted a second time, as the database's.
    load = _run(url, pid, {"Authorization": "Bearer t0ken]]"}, b'{"a": "]]"}', db_pid=pid, server_cpu=0)
    assert load.db_cpu_seconds > 0
    assert load.db_us_per_request == pytest.approx(load.server_us_per_request, rel=0.5)
    assert 0 <= load.steal_share < 1
    without = _run(url, pid, {"Authorization": "Bearer t0ken]]"}, b"{}")
    assert without.db_cpu_seconds == 0


def test_cpu_stat_reads_one_cpus_ticks_and_steal(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  10 0 10 100 0 0 0 4 0 0\ncpu0 5 0 5 50 0 0 0 2 0 0\ncpu1 5 1 5 50 1 1 1 2 7 0\nintr 12345\n"
    )
    assert cpu_stat(1, stat) == (66, 2)  # guest time (7) is already in user: not added twice
    assert cpu_stat(5, stat) == (0, 0)
    assert cpu_stat(0, tmp_path / "missing") == (0, 0)
    assert steal_share((100, 10), (300, 30)) == pytest.approx(0.1)
    assert steal_share((100, 10), (100, 10)) == 0


def _load(rps: float) -> Load:
    result = WrkResult(requests=int(rps), seconds=1.0, rps=rps, p50_ms=1.0, p99_ms=2.0, errors=0)
    return Load(result, 1.0, 0.2, 1.0)


def test_each_rounds_ratio_is_taken_against_the_same_rounds_hello() -> None:
    # The machine got twice as fast in round two: each figure doubled, the ratio did not move.
    rounds = [
        {"hello": _load(1000), "list20": _load(450)},
        {"hello": _load(2000), "list20": _load(900)},
        {"hello": _load(1500), "list20": _load(600)},
    ]
    summary = summarize(rounds)["list20"]
    assert summary.ratios == pytest.approx([0.45, 0.45, 0.40])
    assert summary.median("rps") == 600
    assert summary.median("server_us_per_request") == pytest.approx(1e6 / 600)
    assert summarize(rounds)["hello"].ratios == [1.0, 1.0, 1.0]
