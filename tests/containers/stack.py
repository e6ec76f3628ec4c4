"""The compose stack on podman, driven by the Makefile's targets (`make images|up|down ENGINE=podman`)."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.containers.engine import podman, podman_env
from tests.stack.dockerfile import REPO

PROJECT = "city-tasks"  # `name:` in docker-compose.yml
WEB_URL = "http://localhost:8100"
API_URL = "http://127.0.0.1:8080"
IDP_URL = "http://localhost:9229"
PORTS = (8100, 8080, 9229)
# make's flags here: podman, and only the images stored here (the stand-ins when no registry answers).
MAKE_FLAGS = ("ENGINE=podman", "IMAGE_PULL=never")


def make(target: str, *extra: str, log: Path, timeout: float = 3600) -> float:
    """Run `make TARGET` with podman; the seconds it took. Output goes to ``log``; a failure shows its end."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log.open("w") as out:
        result = subprocess.run(
            ["make", "--no-print-directory", target, *MAKE_FLAGS, *extra],
            cwd=REPO, env=podman_env(), stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False,
        )  # fmt: skip
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-60:])
        raise AssertionError(f"make {target} failed ({result.returncode}); end of {log}:\n{tail}")
    return time.monotonic() - started


@dataclass(frozen=True)
class Container:
    name: str
    service: str
    state: str
    exit_code: int


def containers() -> list[Container]:
    """The stack's containers (running or not), by compose service."""
    label = f"label=com.docker.compose.project={PROJECT}"
    out = podman("ps", "--all", "--format", "json", "--filter", label).stdout
    found = []
    for entry in json.loads(out or "[]"):
        labels = entry.get("Labels") or {}
        found.append(
            Container(
                name=entry["Names"][0],
                service=labels.get("com.docker.compose.service", ""),
                state=entry.get("State", ""),
                exit_code=int(entry.get("ExitCode", 0)),
            )
        )
    return found


def container(service: str) -> Container:
    (found,) = [c for c in containers() if c.service == service]
    return found


def has_healthcheck(name: str) -> bool:
    out = podman("inspect", "--format", "{{json .Config.Healthcheck}}", name).stdout.strip()
    return out not in ("", "null", "{}")


def wait_healthy(name: str, timeout: float = 240) -> int:
    """Run the container's HEALTHCHECK until it passes (podman runs healthchecks from systemd timers, absent
    here, so nothing else would); the number of runs it took."""
    deadline = time.monotonic() + timeout
    runs = 0
    while True:
        runs += 1
        result = podman("healthcheck", "run", name, check=False, timeout=60)
        if result.returncode == 0:
            return runs
        if time.monotonic() > deadline:
            logs = podman("logs", "--tail", "40", name, check=False).stdout
            raise AssertionError(
                f"{name}: healthcheck failing after {timeout:.0f} s: {result.stdout}\n{logs}"
            )
        time.sleep(2)


def wait_exited(name: str, timeout: float = 240) -> int:
    """The exit code of a one-shot container (compose's `migrate`), once it has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name).stdout.split()
        if state[0] in ("exited", "stopped"):
            return int(state[1])
        time.sleep(1)
    raise AssertionError(f"{name} has not finished after {timeout:.0f} s")


def seconds_until_ready(url: str = f"{API_URL}/health/ready", timeout: float = 180) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer 200 within {timeout:.0f} s")
