"""The stack's topology: ports, URLs, and the environment each service gets. Pure data, no processes."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devstack.net import LOCALHOST
from devstack.seed import SEED_FILE, Seed

REPO = Path(__file__).resolve().parents[1]
__all__ = ["FRONTEND_DIR", "LOCALHOST", "REPO", "SEED_FILE", "StackConfig", "child_env", "missing_services"]
FRONTEND_DIR = REPO / "frontend"
REQUIRED_MODULES = {
    "idp.cli": "the IdP (services/idp)",
    "tasks_api.cli": "the Tasks API (services/tasks_api)",
}


def missing_services() -> list[str]:
    """The deployables the stack runs that are not installed in this environment (`make install` fixes it)."""
    return [what for module, what in REQUIRED_MODULES.items() if importlib.util.find_spec(module) is None]


@dataclass(frozen=True)
class StackConfig:
    seed: Seed
    state_dir: Path
    idp_port: int = 9229
    api_port: int = 8080
    web_port: int = 8100
    database_url: str | None = None  # the API's; None = the embedded SQLite file under state_dir
    idp_database_url: str | None = None
    # The host name in the URLs the clients use (and so in the issuer): `localhost` for a browser, whose
    # callback URLs in the seed name it; 127.0.0.1 for tools, which then never try ::1 first.
    public_host: str = "localhost"

    # --- URLs the browser (and the tests) use -------------------------------------------------------
    @property
    def idp_url(self) -> str:
        return f"http://{self.public_host}:{self.idp_port}"

    @property
    def issuer(self) -> str:
        return f"{self.idp_url}/{self.seed.pool_id}"

    @property
    def api_url(self) -> str:
        return f"http://{self.public_host}:{self.api_port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.public_host}:{self.web_port}"

    # --- URLs devstack itself probes (IPv4 loopback, where every server listens) ----------------------
    @property
    def idp_health_url(self) -> str:
        return f"http://{LOCALHOST}:{self.idp_port}/{self.seed.pool_id}/.well-known/openid-configuration"

    @property
    def api_health_url(self) -> str:
        return f"http://{LOCALHOST}:{self.api_port}/health/ready"

    @property
    def web_health_url(self) -> str:
        return f"http://{LOCALHOST}:{self.web_port}/healthz"

    # --- what each process gets ------------------------------------------------------------------------
    @property
    def idp_database(self) -> str:
        """The IdP's users, clients and keys: IDP_DATABASE_URL, else a SQLite file beside the API's."""
        return self.idp_database_url or f"sqlite:///{self.state_dir / 'idp.sqlite3'}"

    def idp_env(self) -> dict[str, str]:
        # The IDP_ names win over the generic ones in the IdP's settings, so a stray PUBLIC_URL or PORT in the
        # developer's shell cannot move it.
        return {
            "IDP_PUBLIC_URL": self.idp_url,
            "IDP_HOST": LOCALHOST,
            "IDP_PORT": str(self.idp_port),
            "IDP_DATABASE_URL": self.idp_database,
        }

    def api_env(self) -> dict[str, str]:
        env = {
            "HOST": LOCALHOST,
            "PORT": str(self.api_port),
            "AUTH_ISSUER": self.issuer,
            "AUTH_JWKS_URL": f"http://{LOCALHOST}:{self.idp_port}/{self.seed.pool_id}/.well-known/jwks.json",
            "AUTH_CLIENT_IDS": ",".join(self.seed.client_ids),
            "CORS_ORIGINS": f"{self.web_url},http://127.0.0.1:{self.web_port}",
            "SQLITE_PATH": str(self.state_dir / "tasks.db"),
            "DRAIN_SECONDS": "0",  # a developer's Ctrl-C should not wait for a load balancer
        }
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def web_config(self) -> dict[str, str]:
        """The SPA's runtime /config.json: the API on the same origin (proxied), the IdP's issuer and UI."""
        return {
            "apiUrl": "",
            "authority": self.issuer,
            "clientId": self.seed.web_client_id,
            "hostedUiDomain": self.idp_url,
        }

    def web_env(self, dist: Path | None) -> dict[str, str]:
        return {
            "DEVSTACK_WEB_HOST": LOCALHOST,
            "DEVSTACK_WEB_PORT": str(self.web_port),
            "DEVSTACK_WEB_DIST": str(dist) if dist else "",
            "DEVSTACK_API_UPSTREAM": f"http://{LOCALHOST}:{self.api_port}",
            "DEVSTACK_WEB_CONFIG": json.dumps(self.web_config()),
        }


def child_env(
    base: Mapping[str, str], extra: Mapping[str, str], *, drop: tuple[str, ...] = ()
) -> dict[str, str]:
    """The parent's environment, less what must not leak into this service, plus the service's own."""
    env = {k: v for k, v in base.items() if k not in drop}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env
