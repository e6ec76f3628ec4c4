"""The real local stack for the browser flow: the local IdP and the Tasks API as processes (their own console
scripts), the built app behind the e2e web server. Every start and every wait is bounded in time."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


@contextlib.contextmanager
def running(
    args: list[str], env: Mapping[str, str], cwd: Path, log: Path, ready_url: str
) -> Iterator[subprocess.Popen]:
    """Start a server, wait for it to answer, and stop it (SIGTERM, then SIGKILL) afterwards."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    with log.open("wb") as out:
        process = subprocess.Popen(args, env=full_env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until_ready(ready_url, process, log)
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)


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
