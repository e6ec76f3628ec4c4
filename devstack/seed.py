"""The stack's view of the IdP's seed file (services/idp/seed.yaml), read once and typed: the pool id, the
client people sign in with, the machine (client_credentials) client and the demo login.

The file is parsed and checked by the IdP's own reader (`idp.seed.read_seed`); this module only picks out
what the stack's tools need, and says what to fix when the file lacks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEED_FILE = Path(__file__).resolve().parents[1] / "services" / "idp" / "seed.yaml"
SIGN_IN_FLOW = "ALLOW_USER_PASSWORD_AUTH"


class SeedError(ValueError):
    """The seed file lacks something the stack needs; the message names the file and what to add."""


@dataclass(frozen=True)
class Seed:
    pool_id: str
    web_client_id: str
    demo_username: str
    demo_password: str
    demo_totp_secret: str | None = None
    machine_client_id: str | None = None
    machine_client_secret: str | None = None
    machine_scope: str | None = None

    @property
    def client_ids(self) -> list[str]:
        """The clients whose tokens the API accepts: people's, and the machine client's when there is one."""
        return [self.web_client_id] + ([self.machine_client_id] if self.machine_client_id else [])

    @property
    def region(self) -> str:
        """The AWS region a Cognito pool id starts with (us-east-1_LocalPool -> us-east-1)."""
        return self.pool_id.split("_", 1)[0]


def read_seed(path: Path = SEED_FILE) -> Seed:
    # Imported here: `make dev` must still be able to say "run make install" when the IdP is not installed.
    from idp.seed import SeedError as IdpSeedError
    from idp.seed import read_seed as read_idp_seed

    try:
        parsed = read_idp_seed(path)
    except IdpSeedError as exc:
        raise SeedError(str(exc)) from None
    return seed_from_data(parsed.pool_id, parsed.data, path)


def seed_from_data(pool_id: str, data: Mapping[str, Any], path: Path) -> Seed:
    clients = [c for c in data.get("clients") or [] if isinstance(c, Mapping)]
    web = next(
        (c for c in clients if SIGN_IN_FLOW in (c.get("auth_flows") or []) and not c.get("secret")), None
    )
    if web is None:
        raise SeedError(
            f"{path}: no client for people to sign in with; add one under clients: without a secret and with "
            f"{SIGN_IN_FLOW} in auth_flows"
        )
    users = [u for u in data.get("users") or [] if isinstance(u, Mapping)]
    demo = users[0] if users else None
    if demo is None or not demo.get("email") or not demo.get("password"):
        raise SeedError(
            f"{path}: the stack needs a demo login; add a user under users: with email and password"
        )
    machine = next(
        (c for c in clients if "client_credentials" in (c.get("oauth_flows") or []) and c.get("secret")), None
    )
    return Seed(
        pool_id=pool_id,
        web_client_id=str(web["client_id"]),
        demo_username=str(demo["email"]),
        demo_password=str(demo["password"]),
        demo_totp_secret=demo.get("totp_secret"),
        machine_client_id=str(machine["client_id"]) if machine else None,
        machine_client_secret=str(machine["secret"]) if machine else None,
        machine_scope=" ".join(machine.get("scopes") or []) if machine else None,
    )


def login_hint(path: Path = SEED_FILE) -> str:
    seed = read_seed(path)
    return f"{seed.demo_username} / {seed.demo_password}"


if __name__ == "__main__":  # `python -m devstack.seed`: the demo login line that `make up` prints
    print(login_hint())
