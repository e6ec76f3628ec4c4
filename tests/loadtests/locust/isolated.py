"""Run a snippet that imports Locust in a child interpreter.

Importing locust monkey-patches the whole process with gevent; doing that inside pytest would change
sockets and threads under every other test, so Locust-facing checks run in a subprocess and print JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

from devstack.config import REPO

ROOT = REPO


def run_isolated(code: str, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
    child_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"child failed ({done.returncode}):\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])
