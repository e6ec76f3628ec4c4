"""Run the real API process: `tasks-api migrate`, then `tasks-api serve` on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from devstack.net import free_port
from devstack.processes import LoggedProcess, run_once
from tests.support.tokens import DEFAULT_CLIENT_ID

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 30.0


def api_env(database_url: str, issuer: str, **overrides: str) -> dict[str, str]:
    """Environment for the API process; every override is an upper-case setting name."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DB_SECRET"}}
    env.update(
        DATABASE_URL=database_url,
        AUTH_ISSUER=issuer,
        AUTH_CLIENT_IDS=DEFAULT_CLIENT_ID,
        SCHEDULER_ENABLED="false",
        MIGRATE_ON_START="false",
        WRITE_RATE_PER_MINUTE="0",
        LOG_LEVEL="WARNING",
    )
    env.update(overrides)
    return env


def migrate(env: dict[str, str]) -> None:
    run_once([sys.executable, "-m", "tasks_api", "migrate"], env, timeout=60)


def _temp_log() -> Path:
    handle, name = tempfile.mkstemp(prefix="tasks-api-", suffix=".log")
    os.close(handle)
    return Path(name)


@dataclass
class ServedApi:
    """One `tasks-api serve` process on a free port; its log goes to a temporary file."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    log_path: Path = field(default_factory=lambda: _temp_log())

    def __post_init__(self) -> None:
        self.server = LoggedProcess(self.command(), self.log_path, self.env, ROOT)

    def command(self) -> list[str]:
        """What runs; the security tests swap in an app with routes that raise."""
        return [sys.executable, "-m", "tasks_api", "serve", "--host", "127.0.0.1", "--port", str(self.port)]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.server.process

    def start(self, wait_ready: bool = True) -> ServedApi:
        self.server.spawn()
        self.wait_answering(ready=wait_ready)
        return self

    def wait_answering(self, ready: bool = True, timeout: float = START_TIMEOUT_SECONDS) -> None:
        path = "/health/ready" if ready else "/health/live"
        self.server.wait_ready(self.base_url + path, timeout)

    def terminate(self) -> None:
        assert self.process is not None
        self.server.terminate()

    def stop(self) -> None:
        # Killed at once: the test is over, and a drain would only make the teardown wait.
        self.server.stop(grace_seconds=0)
        if os.environ.get("KEEP_API_LOGS"):
            print(f"API log kept at {self.log_path}")
        else:
            self.log_path.unlink(missing_ok=True)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def task_body(name: str = "Water the plants", **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": name,
        "description": "reliability test",
        "hour": 7,
        "minute": 30,
        "executionDays": "MON,WED,FRI",
        "executionCommand": "turn-on",
        "timeZone": "UTC",
    }
    body.update(overrides)
    return body
