"""The real local stack for load runs: the local IdP and the Tasks API on Postgres, as subprocesses.

Both listen on free 127.0.0.1 ports; every wait is bounded; ``stop()`` (or leaving the ``with`` block)
terminates them. Pool id and client ids come from the IdP's ``seed.yaml``, so the API trusts exactly the
clients the IdP issues tokens to.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.support.net import free_port
from tests.support.processes import LoggedProcess

ROOT = Path(__file__).resolve().parents[1]
SEED_FILE = ROOT / "services" / "idp" / "seed.yaml"
REQUIRED_MODULES = ("tasks_api.cli", "idp.cli")


def missing_services() -> list[str]:
    """The CLIs the stack needs that are not installed (the API and the IdP land on other branches)."""
    return [name for name in REQUIRED_MODULES if importlib.util.find_spec(name) is None]


@dataclass(frozen=True)
class SeedClients:
    pool_id: str = "us-east-1_LocalPool"
    web_client_id: str = "city-tasks-web"
    machine_client_id: str | None = None
    machine_client_secret: str | None = None
    machine_scope: str | None = None


def read_seed(path: Path = SEED_FILE) -> SeedClients:
    """The pool id, the client people sign in with (USER_PASSWORD_AUTH) and the client_credentials client."""
    if not path.exists():
        return SeedClients()
    import yaml

    seed = yaml.safe_load(path.read_text()) or {}
    clients = seed.get("clients", [])
    web = next((c for c in clients if "ALLOW_USER_PASSWORD_AUTH" in c.get("auth_flows", [])), None)
    machine = next(
        (c for c in clients if "client_credentials" in c.get("oauth_flows", []) and c.get("secret")), None
    )
    return SeedClients(
        pool_id=seed.get("pool", {}).get("id", SeedClients.pool_id),
        web_client_id=web["client_id"] if web else SeedClients.web_client_id,
        machine_client_id=machine["client_id"] if machine else None,
        machine_client_secret=machine["secret"] if machine else None,
        machine_scope=" ".join(machine.get("scopes", [])) if machine else None,
    )


@dataclass
class StackConfig:
    database_url: str
    workdir: Path
    # Argon2 at its cheapest for CI smoke runs; real runs keep the IdP's defaults.
    cheap_password_hashing: bool = False
    api_env: dict[str, str] = field(default_factory=dict)
    idp_env: dict[str, str] = field(default_factory=dict)  # e.g. ACCESS_TOKEN_SECONDS for renewal tests
    start_timeout_s: float = 30.0
    # False: the IdP and the migrated database only, for callers that run their own API processes.
    serve_api: bool = True


class LocalStack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.seed = read_seed()
        self.idp_port = free_port()
        self.api_port = free_port()
        self._procs: list[LoggedProcess] = []

    @property
    def idp_url(self) -> str:
        return f"http://127.0.0.1:{self.idp_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def issuer(self) -> str:
        return f"{self.idp_url}/{self.seed.pool_id}"

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "IDP_", "LOAD_"))}
        env.update(extra)
        return env

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str], url: str | None = None
    ) -> LoggedProcess:
        proc = LoggedProcess([sys.executable, *args], self.log_path(name), env, self.config.workdir, url)
        self._procs.append(proc.spawn())
        return proc

    def log_path(self, name: str) -> Path:
        return self.config.workdir / f"{name}.log"

    def start(self) -> LocalStack:
        if missing := missing_services():
            raise RuntimeError(f"cannot start the local stack: {', '.join(missing)} not installed")
        self.config.workdir.mkdir(parents=True, exist_ok=True)
        try:
            # Overlap the slow parts (interpreter start-up, migrations): IdP and API start side by side.
            idp = self._spawn_idp()
            migrate = self._spawn_migrate()
            self._wait_migrated(migrate)
            api = self._spawn_api() if self.config.serve_api else None
            idp.wait_ready(timeout=self.config.start_timeout_s)
            if api is not None:
                api.wait_ready(timeout=self.config.start_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn_idp(self) -> LoggedProcess:
        env = self._env(
            {
                "IDP_PUBLIC_URL": self.idp_url,
                "IDP_HOST": "127.0.0.1",
                "IDP_PORT": str(self.idp_port),
                "IDP_DATABASE_URL": f"sqlite:///{self.config.workdir / 'idp.sqlite3'}",
            }
        )
        if self.config.cheap_password_hashing:
            env.update({"IDP_ARGON2_TIME_COST": "1", "IDP_ARGON2_MEMORY_KIB": str(8 * 1024)})
        env.update(self.config.idp_env)
        return self._spawn("idp", ["-m", "idp", "serve"], env, f"{self.idp_url}/health")

    def api_environment(self) -> dict[str, str]:
        clients = [self.seed.web_client_id]
        if self.seed.machine_client_id:
            clients.append(self.seed.machine_client_id)
        return self._env(
            {
                "DATABASE_URL": self.config.database_url,
                "AUTH_ISSUER": self.issuer,
                "AUTH_CLIENT_IDS": ",".join(clients),
                "LOG_LEVEL": "WARNING",
                # Nothing routes around a local process: stop at once instead of draining for an ALB.
                "DRAIN_SECONDS": "0",
                **self.config.api_env,
            }
        )

    def _spawn_migrate(self) -> LoggedProcess:
        return self._spawn("migrate", ["-m", "tasks_api", "migrate"], self.api_environment())

    def _wait_migrated(self, migrate: LoggedProcess) -> None:
        assert migrate.process is not None
        try:
            code = migrate.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            raise RuntimeError("tasks-api migrate did not finish within 120 s") from None
        if code != 0:
            raise RuntimeError(f"tasks-api migrate failed ({code}); see {self.log_path('migrate')}")

    def _spawn_api(self) -> LoggedProcess:
        args = ["-m", "tasks_api", "serve", "--host", "127.0.0.1", "--port", str(self.api_port)]
        return self._spawn("api", args, self.api_environment(), f"{self.api_url}/health/ready")

    def stop(self) -> None:
        for proc in reversed(self._procs):
            proc.stop()
        self._procs.clear()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def cognito(self) -> Any:
        from loadtests.users import cognito_client

        return cognito_client(self.idp_url, self.seed.pool_id.split("_", 1)[0])
