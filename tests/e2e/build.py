"""Build the frontend for the browser tests only when needed: dist missing or older than its sources."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.frontend.support import FRONTEND, ensure_node_modules, npm

DIST = FRONTEND / "dist"
BUILD_TIMEOUT_SECONDS = 300
SOURCES = (
    "src",
    "public",
    "index.html",
    "package.json",
    "package-lock.json",
    "vite.config.ts",
    "tsconfig.json",
)


def newest_source_mtime(root: Path = FRONTEND) -> float:
    newest = 0.0
    for name in SOURCES:
        path = root / name
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
        elif path.is_dir():
            for child in path.rglob("*"):
                if child.is_file():
                    newest = max(newest, child.stat().st_mtime)
    return newest


def dist_is_fresh(root: Path = FRONTEND) -> bool:
    index = root / "dist" / "index.html"
    return index.is_file() and index.stat().st_mtime >= newest_source_mtime(root)


def ensure_built() -> Path:
    if not dist_is_fresh():
        ensure_node_modules()
        subprocess.run([npm(), "run", "build"], cwd=FRONTEND, check=True, timeout=BUILD_TIMEOUT_SECONDS)
        (DIST / "index.html").touch()
    return DIST
