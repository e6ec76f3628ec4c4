"""The real local stack for the browser flow: the local IdP and the Tasks API as processes (their own console
scripts), the built app behind the e2e web server. Every start and every wait is bounded in time."""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.support.processes import LoggedProcess

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 60
POOL_ID = "us-east-1_LocalPool"
WEB_CLIENT_ID = "city-tasks-web"
IDP_SEED = REPO / "services" / "idp" / "seed.yaml"


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Service(LoggedProcess):
    """A server process that can be stopped and started again (the 5xx step takes the API away)."""

    def __init__(self, args: list[str], env: Mapping[str, str], cwd: Path, log: Path, ready_url: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        # Any answer below 500 means the server is up, whatever it says to its ready URL.
        super().__init__(args, log, env, cwd, ready_url, START_TIMEOUT_SECONDS, ready=lambda s: s < 500)


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
