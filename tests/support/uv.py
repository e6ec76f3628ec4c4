"""The `uv` the Makefile uses, for tests that run it: never assume it is on PATH (`make` installs it into
~/.local/bin, which a fresh machine's PATH often lacks)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def uv_executable() -> str:
    """`uv run` exports UV (its own path); then PATH; then where `make uv` installs it."""
    for candidate in (os.environ.get("UV"), shutil.which("uv"), str(Path.home() / ".local" / "bin" / "uv")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise FileNotFoundError("uv is not installed: run `make install` (it installs uv into ~/.local/bin)")
