"""The real server process: `python -m tasks_api serve`, JSON logs, and the SIGTERM drain sequence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from devstack.net import free_port
from tests.support.tokens import DEFAULT_CLIENT_ID, JwksServer, TokenFactory
from tests.tasks_api.conftest import task_body


def _wait_ready(base: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early: {process.stderr.read() if process.stderr else ''}")
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


@pytest.mark.slow
def test_serve_then_sigterm_drains_before_stopping(
    postgres_url: str, jwks_server: JwksServer, tokens: TokenFactory
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": postgres_url,
        "AUTH_ISSUER": jwks_server.issuer,
        "AUTH_CLIENT_IDS": DEFAULT_CLIENT_ID,
        "MIGRATE_ON_START": "true",
        "SCHEDULER_ENABLED": "false",
        "DRAIN_SECONDS": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tasks_api", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        with httpx.Client(base_url=base, timeout=5) as client:
            headers = tokens.bearer("served-user")
            assert client.post("/api/tasks", json=task_body(), headers=headers).status_code == 201

            process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            # Draining: readiness 503 at once, yet the API still serves while the ALB moves traffic off.
            assert client.get("/health/ready").status_code == 503
            assert client.get("/health/live").status_code == 200
            assert client.post("/api/tasks", json=task_body(), headers=headers).status_code == 201
            assert len(client.get("/api/tasks", headers=headers).json()) == 2
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    stderr = process.stderr.read() if process.stderr else ""
    access = [json.loads(line) for line in stderr.splitlines() if '"tasks_api.access"' in line]
    assert {"method", "route", "status", "duration_ms", "request_id"} <= set(access[0])
    assert any(a["route"] == "/api/tasks" and a["status"] == 201 for a in access)
    assert headers["Authorization"].split()[1] not in stderr
