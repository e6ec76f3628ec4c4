"""Build the SPA with npm when its static build is missing or older than its sources."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

# What the build reads; anything newer than dist/index.html makes the build stale.
SOURCE_NAMES = (
    "src",
    "public",
    "index.html",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "vite.config.ts",
    "vite.config.js",
    "vite.config.mts",
)


def _newest_mtime(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        if path.is_dir():
            for child in path.rglob("*"):
                if child.is_file():
                    newest = max(newest, child.stat().st_mtime)
        elif path.is_file():
            newest = max(newest, path.stat().st_mtime)
    return newest


def dist_is_stale(frontend: Path) -> bool:
    index = frontend / "dist" / "index.html"
    if not index.is_file():
        return True
    return _newest_mtime([frontend / name for name in SOURCE_NAMES]) > index.stat().st_mtime


def dependencies_are_stale(frontend: Path) -> bool:
    """npm writes node_modules/.package-lock.json on every install; older than the lock file means stale."""
    installed = frontend / "node_modules" / ".package-lock.json"
    lock = frontend / "package-lock.json"
    if not installed.is_file():
        return True
    return lock.is_file() and lock.stat().st_mtime > installed.stat().st_mtime


def build(frontend: Path, log: Callable[[str], None]) -> bool:
    """Install and build when needed. False (after saying why) when npm is missing or the build fails."""
    if not (frontend / "package.json").is_file():
        log(f"no {frontend.name}/package.json: serving no frontend build")
        return False
    if not dist_is_stale(frontend):
        log("frontend build is up to date")
        return True
    npm = shutil.which("npm")
    if npm is None:
        log("npm is not installed: cannot build the frontend (install Node 20+); serving the last build")
        return False
    steps = []
    if dependencies_are_stale(frontend):
        steps.append([npm, "ci", "--no-audit", "--no-fund"])
    steps.append([npm, "run", "build"])
    for argv in steps:
        log("$ npm " + " ".join(argv[1:]))
        process = subprocess.Popen(  # noqa: S603 - fixed argv
            argv,
            cwd=frontend,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert process.stdout is not None
        for line in process.stdout:
            log(line.rstrip("\n"))
        if process.wait() != 0:
            log(f"`npm {' '.join(argv[1:])}` failed (exit code {process.returncode}); fix it and rerun")
            return False
    return True
