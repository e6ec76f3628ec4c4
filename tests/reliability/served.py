"""Run the real API process: `tasks-api migrate`, then `tasks-api serve` on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.net import free_port
from tests.support.tokens import DEFAULT_CLIENT_ID

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
    result = subprocess.run(
        [sys.executable, "-m", "tasks_api", "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"tasks-api migrate failed: {result.stderr}"


def _temp_log() -> Path:
    handle, name = tempfile.mkstemp(prefix="tasks-api-", suffix=".log")
    os.close(handle)
    return Path(name)


@dataclass
class ServedApi:
    """One `tasks-api serve` process; its log goes to a file (a full pipe would stall the server)."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=lambda: _temp_log())

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_ready: bool = True) -> ServedApi:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tasks_api", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_answering(ready=wait_ready)
        return self

    def wait_answering(self, ready: bool = True, timeout: float = START_TIMEOUT_SECONDS) -> None:
        path = "/health/ready" if ready else "/health/live"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the API exited early:\n{self.log()}")
            try:
                if httpx.get(self.base_url + path, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the API did not answer {path} within {timeout} s:\n{self.log()}")

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
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
