"""Helpers for the frontend's checks: where it lives and how to get its npm packages installed (bounded)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
NPM_TIMEOUT_SECONDS = 300


def npm() -> str:
    path = shutil.which("npm")
    if path is None:
        pytest.skip("npm is not installed (Node 20 + npm are needed for the frontend checks)")
    return path


def ensure_node_modules(directory: Path = FRONTEND) -> None:
    """`npm ci` in `directory` (the frontend unless told) only when node_modules is missing or older than
    package-lock.json."""
    marker = directory / "node_modules" / ".package-lock.json"
    lock = directory / "package-lock.json"
    if marker.exists() and marker.stat().st_mtime >= lock.stat().st_mtime:
        return
    subprocess.run(
        [npm(), "ci", "--no-audit", "--no-fund"],
        cwd=directory,
        check=True,
        timeout=NPM_TIMEOUT_SECONDS,
    )
    marker.touch()


def run_npx(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [npm(), "exec", "--", *args],
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
