"""The in-process benchmarks run: every scenario, with and without the middleware stack, against a real
PostgreSQL without an error (printing the middleware's cost per request), and both request styles."""

from __future__ import annotations

import subprocess
import sys

from devstack.config import REPO


def _run(*argv: str) -> str:
    result = subprocess.run(
        [sys.executable, *argv], cwd=REPO, capture_output=True, text=True, timeout=180, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_every_scenario_answers_as_expected_with_and_without_the_middleware() -> None:
    output = _run(
        "-m", "benchmarks.api_cpu_per_request", "--seconds", "0.4", "--rounds", "2", "--concurrency", "2"
    )
    assert "target: at most 15 us" in output
    rows = {line.split()[0]: line.split() for line in output.splitlines()[-3:]}
    assert set(rows) == {"hello", "list20", "create"}
    for name, (_, requests, errors, cpu_us, bare_us, middleware_us, _share) in rows.items():
        assert int(requests) > 0, name
        assert int(errors) == 0, name
        assert float(cpu_us) > 0, name
        assert float(bare_us) > 0, name
        assert abs(float(cpu_us) - float(bare_us) - float(middleware_us)) < 0.11, name


def test_the_request_style_comparison_runs_both_styles() -> None:
    output = _run("-m", "benchmarks.api_request_style", "--rounds", "1", "--requests", "50")
    figures = {line.split()[0]: float(line.split()[1]) for line in output.splitlines()[:2]}
    assert set(figures) == {"depends", "fastpath"}
    assert all(micros > 0 for micros in figures.values())
