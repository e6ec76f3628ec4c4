"""The in-process CPU benchmark runs every scenario, with and without the middleware stack, against a real
PostgreSQL without an error, and prints the middleware's cost per request."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_scenario_answers_as_expected_with_and_without_the_middleware() -> None:
    result = subprocess.run(
        [sys.executable, "loadtests/api_cpu_per_request.py", "--seconds", "0.3", "--concurrency", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "target: at most 15 us" in result.stdout
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[-3:]}
    assert set(rows) == {"hello", "list20", "create"}
    for name, (_, requests, errors, cpu_us, bare_us, middleware_us, _share) in rows.items():
        assert int(requests) > 0, name
        assert int(errors) == 0, name
        assert float(cpu_us) > 0, name
        assert float(bare_us) > 0, name
        assert abs(float(cpu_us) - float(bare_us) - float(middleware_us)) < 0.11, name
