"""What devstack needs from the IdP's seed file: the pool id, the web client id and the demo login.

The seed's full shape belongs to the IdP; this reader only looks for those few values and falls back to the
documented defaults, so `make dev` still starts (and says where to look) if the file changes shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SEED_FILE = Path(__file__).resolve().parents[1] / "services" / "idp" / "seed.yaml"
DEFAULT_POOL_ID = "us-east-1_LocalPool"
DEFAULT_CLIENT_ID = "city-tasks-web"
DEMO_USER = "demo@example.com"


@dataclass(frozen=True)
class Seed:
    pool_id: str = DEFAULT_POOL_ID
    web_client_id: str = DEFAULT_CLIENT_ID
    demo_username: str = DEMO_USER
    demo_password: str | None = None


def _first(mapping: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in mapping and mapping[key] not in (None, ""):
            return mapping[key]
    return None


def _entries(value: Any) -> list[dict[str, Any]]:
    """A list of dicts, or a dict keyed by id/username whose values are dicts."""
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    if isinstance(value, dict):
        return [{"_key": k, **v} for k, v in value.items() if isinstance(v, dict)]
    return []


def read_seed(path: Path) -> Seed:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return Seed()
    if not isinstance(data, dict):
        return Seed()
    pool = data.get("pool") or data.get("user_pool") or data.get("userPool") or {}
    pool_id = _first(data, "pool_id", "poolId", "user_pool_id") or (
        _first(pool, "id", "pool_id", "poolId") if isinstance(pool, dict) else None
    )
    clients = _entries(data.get("clients") or (pool.get("clients") if isinstance(pool, dict) else None))
    web_client = next(
        (c for c in clients if not _first(c, "secret", "client_secret", "generate_secret")),
        clients[0] if clients else {},
    )
    client_id = _first(web_client, "client_id", "clientId", "id", "_key")
    users = _entries(data.get("users") or (pool.get("users") if isinstance(pool, dict) else None))
    demo = next(
        (u for u in users if DEMO_USER in (u.get("email"), u.get("username"), u.get("_key"))),
        users[0] if users else {},
    )
    username = _first(demo, "email", "username", "_key")
    password = _first(demo, "password")
    return Seed(
        pool_id=str(pool_id or DEFAULT_POOL_ID),
        web_client_id=str(client_id or DEFAULT_CLIENT_ID),
        demo_username=str(username or DEMO_USER),
        demo_password=str(password) if password is not None else None,
    )


def login_hint(path: Path) -> str:
    seed = read_seed(path)
    return f"{seed.demo_username} / {seed.demo_password or f'(the password in {path.name})'}"


if __name__ == "__main__":  # `python -m devstack.seed`: the demo login line that `make up` prints
    print(login_hint(SEED_FILE))
