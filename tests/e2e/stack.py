"""The real local stack for the browser flow, on devstack's toolkit: the stack's topology and each
service's environment (devstack.config), the IdP's seed (devstack.seed) and the launcher
(devstack.processes). Every start and every wait is bounded in time."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from devstack.config import REPO, StackConfig, child_env
from devstack.net import free_port
from devstack.processes import LoggedProcess
from devstack.webserver import create_app
from tests.stack.servers import serving

START_TIMEOUT_SECONDS = 60


class Service(LoggedProcess):
    """A server process that can be stopped and started again (the 5xx step takes the API away)."""

    def __init__(self, args: list[str], env: Mapping[str, str], cwd: Path, log: Path, ready_url: str) -> None:
        # Any answer below 500 means the server is up, whatever it says to its ready URL.
        super().__init__(
            args, log, child_env(os.environ, env), cwd, ready_url, START_TIMEOUT_SECONDS, lambda s: s < 500
        )


def web_server(config: StackConfig, dist: Path, log: Path) -> Service:
    """devstack's web front (what `make dev` serves): the built app, /config.json, /api proxied."""
    env = {"PYTHONPATH": str(REPO), **config.web_env(dist)}
    args = [sys.executable, "-m", "devstack.webserver"]
    return Service(args, env, REPO, log, f"http://127.0.0.1:{config.web_port}/config.json")


@contextmanager
def web_front_alone(dist: Path, config: dict[str, str]) -> Iterator[str]:
    """The same web front in this process, with nothing behind /api: the app's public pages need no API."""
    nothing = f"http://127.0.0.1:{free_port()}"
    with serving(create_app(api_upstream=nothing, config=config, dist=dist)) as url:
        yield url
