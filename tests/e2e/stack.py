"""The real local stack for the browser flow: the local IdP and the Tasks API as processes (their own console
scripts), the built app behind the e2e web server. Every start and every wait is bounded in time."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60
POOL_ID = "us-east-1_LocalPool"
WEB_CLIENT_ID = "city-tasks-web"
IDP_SEED = REPO / "services" / "idp" / "seed.yaml"


def missing_pieces() -> list[str]:
    """What of the stack is not on this branch yet (the flow test skips while this is not empty)."""
    missing = []
    for module in ("tasks_api.app", "tasks_api.cli", "idp.app", "idp.cli"):
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(module)
    return missing


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def console_script(name: str) -> list[str]:
    """The venv's console script, or `python -m` of its package."""
    path = Path(sys.executable).parent / name
    if path.exists():
        return [str(path)]
    found = shutil.which(name)
    return [found] if found else [sys.executable, "-m", name.replace("-", "_")]


def wait_until_ready(url: str, process: subprocess.Popen, log: Path, timeout: float = START_TIMEOUT_SECONDS):
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}:\n{tail(log)}")
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code < 500:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.25)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s ({last}):\n{tail(log)}")


def tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Service:
    """A server process that can be stopped and started again (the 5xx step takes the API away)."""

    def __init__(self, args: list[str], env: Mapping[str, str], cwd: Path, log: Path, ready_url: str) -> None:
        self.args, self.cwd, self.log, self.ready_url = args, cwd, log, ready_url
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.args, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT
            )
        try:
            wait_until_ready(self.ready_url, self.process, self.log)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> Service:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def devstack_web_server(
    dist: Path, config: Mapping[str, str], api_url: str, port: int, log: Path
) -> Service | None:
    """The stack engineer's dev web server (what `make dev` serves on 8100), when it is on this branch."""
    if not (REPO / "devstack" / "webserver.py").is_file():
        return None
    env = {
        "PYTHONPATH": str(REPO),
        "DEVSTACK_WEB_HOST": "127.0.0.1",
        "DEVSTACK_WEB_PORT": str(port),
        "DEVSTACK_WEB_DIST": str(dist),
        "DEVSTACK_API_UPSTREAM": api_url,
        "DEVSTACK_WEB_CONFIG": json.dumps(dict(config)),
    }
    args = [sys.executable, "-m", "devstack.webserver"]
    return Service(args, env, REPO, log, f"http://127.0.0.1:{port}/config.json")


def run_once(args: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 120) -> str:
    result = subprocess.run(
        args,
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        command = " ".join(args)
        raise RuntimeError(f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout
