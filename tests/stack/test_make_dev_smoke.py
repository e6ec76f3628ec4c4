"""`make dev` end to end with the real processes: log in through the IdP's cognito-idp API (password, then the
TOTP challenge), create a task through the web port's /api proxy, then one SIGINT (Ctrl-C) stops everything.

Skipped, with the reason, only while the IdP's or the API's command line is not in the workspace yet.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from devstack.config import SEED_FILE
from devstack.net import free_port
from devstack.seed import read_seed
from devstack.token import demo_access_token
from tests.stack.dockerfile import REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
READY_LINE = "City Tasks is running"
START_DEADLINE = 50.0


class Stack:
    def __init__(
        self, process: subprocess.Popen[bytes], log: Path, ports: dict[str, int], state: Path
    ) -> None:
        self.process, self.log, self.ports, self.state_dir = process, log, ports, state

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def child_pids(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"started \S+ \(pid (\d+)\)", self.output())]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    ports = {"idp": free_port(), "api": free_port(), "web": free_port()}
    args = (f"--idp-port {ports['idp']} --api-port {ports['api']} --web-port {ports['web']} "
            f"--state-dir {tmp_path / 'state'} --skip-build")  # fmt: skip
    log = tmp_path / "make-dev.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_SECRET")}
    env["NO_COLOR"] = "1"
    with log.open("wb") as sink:
        # Its own process group, so the test can send the group a SIGINT exactly as a terminal's Ctrl-C does.
        process = subprocess.Popen(
            ["make", "--no-print-directory", "dev", f"ARGS={args}"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = Stack(process, log, ports, tmp_path / "state")
    try:
        deadline = time.monotonic() + START_DEADLINE
        while READY_LINE not in stack.output():
            if process.poll() is not None:
                pytest.fail(f"make dev exited with {process.returncode}:\n{stack.output()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"make dev was not ready within {START_DEADLINE:.0f} s:\n{stack.output()[-4000:]}"
                )
            time.sleep(0.2)
        yield stack
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        for pid in stack.child_pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def _login(stack: Stack) -> str:
    """InitiateAuth (USER_PASSWORD_AUTH), then SOFTWARE_TOKEN_MFA with `idp totp`'s code: the access token."""
    return demo_access_token(stack.url("idp"), f"sqlite:///{stack.state_dir / 'idp.sqlite3'}")


def test_make_dev_serves_a_login_and_a_task_and_stops_on_one_ctrl_c(stack: Stack) -> None:
    output = stack.output()
    assert "demo@example.com" in output
    assert "uv run idp totp demo@example.com" in output
    for name in ("idp", "api", "web"):
        assert re.search(rf"^{name}\s*\| ", output, re.MULTILINE), f"no log line prefixed with {name}"

    web = stack.url("web")
    page = httpx.get(f"{web}/tasks", timeout=5)  # the app shell, or the page that says how to build it
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    config = httpx.get(f"{web}/config.json", timeout=5).json()
    assert config["authority"] == f"http://localhost:{stack.ports['idp']}/{read_seed(SEED_FILE).pool_id}"

    token = _login(stack)
    with httpx.Client(base_url=web, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        created = client.post(
            "/api/tasks",
            json={"name": "Water the plants", "hour": 7, "minute": 30, "executionDays": "mon,fri"},
        )
        assert created.status_code == 201, created.text
        task = created.json()
        assert task["executionDays"] == "MON,FRI"
        listed = client.get("/api/tasks")
        assert listed.status_code == 200
        assert task["id"] in [t["id"] for t in listed.json()]
        assert client.get("/api/tasks", headers={"Authorization": "Bearer not-a-token"}).status_code == 401

    children = stack.child_pids()
    assert len(children) >= 3
    os.killpg(stack.process.pid, signal.SIGINT)  # what one Ctrl-C in the terminal does
    stack.process.wait(timeout=30)
    assert "stopped" in stack.output().splitlines()[-1]
    for pid in children:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, pid
    for port in stack.ports.values():
        assert not _listening(port), port
