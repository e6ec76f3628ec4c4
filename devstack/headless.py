"""The stack without a browser, for tools and tests (load runs, the rollout test, the pipeline smoke): the
local IdP and the Tasks API on PostgreSQL, on free 127.0.0.1 ports, their output in log files.

The same topology and environments as `make dev` (devstack.config), the same seed (devstack.seed) and the
same launcher (devstack.processes). Every wait is bounded; ``stop()`` (or leaving the ``with`` block) stops
each process group, newest first.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from devstack.config import LOCALHOST, StackConfig, missing_services
from devstack.net import free_port
from devstack.processes import LoggedProcess, StackError, run_once
from devstack.seed import Seed, read_seed

# Variables of the caller's shell that would point a service somewhere else (or change a load run).
FOREIGN_PREFIXES = ("AUTH_", "IDP_", "LOAD_")


@dataclass
class HeadlessConfig:
    database_url: str
    workdir: Path
    # Argon2 at its cheapest for CI smoke runs; real runs keep the IdP's defaults.
    cheap_password_hashing: bool = False
    api_env: dict[str, str] = field(default_factory=dict)
    idp_env: dict[str, str] = field(default_factory=dict)  # e.g. ACCESS_TOKEN_SECONDS for renewal tests
    start_timeout_s: float = 30.0
    # False: the IdP and the migrated database only, for callers that run their own API processes.
    serve_api: bool = True


class HeadlessStack:
    def __init__(self, config: HeadlessConfig, seed: Seed | None = None) -> None:
        self.config = config
        self.topology = StackConfig(
            seed=seed or read_seed(),
            state_dir=config.workdir,
            idp_port=free_port(),
            api_port=free_port(),
            database_url=config.database_url,
            public_host=LOCALHOST,
        )
        self._processes: list[LoggedProcess] = []

    @property
    def seed(self) -> Seed:
        return self.topology.seed

    @property
    def idp_url(self) -> str:
        return self.topology.idp_url

    @property
    def api_url(self) -> str:
        return self.topology.api_url

    @property
    def issuer(self) -> str:
        return self.topology.issuer

    def log_path(self, name: str) -> Path:
        return self.config.workdir / f"{name}.log"

    def _environment(self, own: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_PREFIXES)}
        env["PYTHONUNBUFFERED"] = "1"
        env.update(own)
        return env

    def idp_environment(self) -> dict[str, str]:
        own = self.topology.idp_env()
        if self.config.cheap_password_hashing:
            own.update({"IDP_ARGON2_TIME_COST": "1", "IDP_ARGON2_MEMORY_KIB": str(8 * 1024)})
        return self._environment({**own, **self.config.idp_env})

    def api_environment(self) -> dict[str, str]:
        own = {
            **self.topology.api_env(),
            "LOG_LEVEL": "WARNING",
            **self.config.api_env,
        }
        return self._environment(own)

    def _spawn(self, name: str, args: list[str], env: dict[str, str], ready_url: str) -> LoggedProcess:
        process = LoggedProcess(
            [sys.executable, *args],
            self.log_path(name),
            env,
            self.config.workdir,
            ready_url,
            self.config.start_timeout_s,
        )
        self._processes.append(process.spawn())
        return process

    def start(self) -> HeadlessStack:
        if missing := missing_services():
            raise StackError(f"cannot start the stack: {' and '.join(missing)} not installed (make install)")
        self.config.workdir.mkdir(parents=True, exist_ok=True)
        try:
            # The slow parts overlap: the IdP starts while the migrations run.
            idp = self._spawn(
                "idp", ["-m", "idp", "serve"], self.idp_environment(), self.topology.idp_health_url
            )
            run_once(
                [sys.executable, "-m", "tasks_api", "migrate"], self.api_environment(), self.config.workdir
            )
            api = None
            if self.config.serve_api:
                api = self._spawn(
                    "api", ["-m", "tasks_api", "serve"], self.api_environment(), self.topology.api_health_url
                )
            idp.wait_ready()
            if api is not None:
                api.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()

    def __enter__(self) -> HeadlessStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
