"""Runs the frontend's vitest suite and its type check, so `make test` covers the browser code too."""

from __future__ import annotations

from tests.frontend.support import ensure_node_modules, run_npx


def test_typescript_type_check():
    ensure_node_modules()
    result = run_npx("tsc", "--noEmit", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr


def test_vitest_suite():
    ensure_node_modules()
    result = run_npx("vitest", "run", "--reporter=dot", timeout=240)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
