"""Every benchmark runs as `python -m benchmarks.<name>` from the repository root (what the Makefile and
docs/performance.md say), and imports and parses its options without starting anything."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devstack.config import REPO

BENCHMARKS = sorted(p.stem for p in (REPO / "benchmarks").glob("*.py") if p.stem != "__init__")


def test_the_benchmarks_are_found() -> None:
    assert {"idp", "scheduler", "stack_startup"} <= set(BENCHMARKS)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_a_benchmark_starts_from_the_repository_root(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{name}", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: "), done.stdout
