"""Loads `seed.yaml`: pool id, groups, clients, and demo users (idempotent; safe on every start)."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyotp
import yaml
from sqlalchemy import select

from idp.store import Client, Group, Membership, SrpVerifier, Store, User

if TYPE_CHECKING:
    from idp.pool import UserPool

log = logging.getLogger("idp")

POOL_ID_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d_[0-9A-Za-z]+$")


class SeedError(ValueError):
    """The seed file is not usable; the message says what to fix."""


@dataclass(frozen=True)
class Seed:
    pool_id: str
    data: dict[str, Any]

    @property
    def pool_name(self) -> str:
        return str((self.data.get("pool") or {}).get("name") or self.pool_id)

    @property
    def mfa_configuration(self) -> str:
        return str((self.data.get("pool") or {}).get("mfa", "ON"))


def read_seed(path: Path) -> Seed:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise SeedError(f"cannot read the seed file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise SeedError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SeedError(f"{path} must be a mapping with pool, groups, clients, users")
    pool_id = (data.get("pool") or {}).get("id")
    if not isinstance(pool_id, str) or not POOL_ID_RE.match(pool_id):
        raise SeedError(
            f"{path}: pool.id must look like a Cognito pool id, e.g. us-east-1_LocalPool (got {pool_id!r})"
        )
    mfa = (data.get("pool") or {}).get("mfa", "ON")
    if mfa not in ("ON", "OPTIONAL", "OFF"):
        raise SeedError(f"{path}: pool.mfa must be ON, OPTIONAL or OFF (got {mfa!r})")
    resource_scopes = {
        f"{rs['identifier']}/{scope}"
        for rs in data.get("resource_servers") or []
        for scope in rs.get("scopes") or []
    }
    standard = {"phone", "email", "openid", "profile", "aws.cognito.signin.user.admin"}
    for client in data.get("clients") or []:
        unknown = set(client.get("scopes") or []) - standard - resource_scopes
        if unknown:
            raise SeedError(
                f"{path}: client {client.get('client_id')} has undefined scopes {sorted(unknown)}"
            )
    return Seed(pool_id, data)


def apply_seed(store: Store, seed: Seed, pool: UserPool, now: float) -> None:
    """Upserts groups and clients; creates missing demo users (with the pool's credentials for their
    password) and gives an existing demo user whose password is still the seed's an SRP verifier if it
    has none (a database from before SRP support)."""
    data = seed.data
    with store.begin() as db:
        for g in data.get("groups") or []:
            group = db.get(Group, g["name"]) or Group(name=g["name"])
            group.description = g.get("description", "")
            group.precedence = int(g.get("precedence", 0))
            db.merge(group)
        for c in data.get("clients") or []:
            db.merge(
                Client(
                    client_id=c["client_id"],
                    name=c.get("name", c["client_id"]),
                    secret=c.get("secret"),
                    callback_urls=list(c.get("callback_urls") or []),
                    logout_urls=list(c.get("logout_urls") or []),
                    scopes=list(c.get("scopes") or []),
                    oauth_flows=list(c.get("oauth_flows") or []),
                    auth_flows=list(c.get("auth_flows") or []),
                )
            )
    for u in data.get("users") or []:
        email = str(u["email"]).lower()
        with store.begin() as db:
            existing = db.scalar(select(User).where(User.email == email))
            if existing is not None:
                needs_verifier = db.get(SrpVerifier, existing.sub) is None
                sub, stored = existing.sub, existing.password_hash
        if existing is not None:
            if needs_verifier and pool.passwords.verify(stored, u["password"]):
                credentials = pool.credentials(sub, u["password"])
                with store.begin() as db:
                    user = db.get(User, sub)
                    if user is not None:
                        pool.store_credentials(db, user, credentials)
            continue
        secret = u.get("totp_secret")
        if secret:
            pyotp.TOTP(secret).now()  # fails loudly on a malformed secret
        sub = str(uuid.uuid5(uuid.NAMESPACE_URL, f"city-tasks-idp:{seed.pool_id}:{email}"))
        credentials = pool.credentials(sub, u["password"])
        with store.begin() as db:
            user = User(
                sub=sub,
                email=email,
                name=u.get("name", ""),
                email_verified=True,
                status="CONFIRMED",
                enabled=True,
                totp_secret=secret,
                failed_logins=0,
                locked_until=0.0,
                created_at=now,
                updated_at=now,
            )
            user.groups = [Membership(sub=user.sub, group=name) for name in u.get("groups") or []]
            db.add(user)
            db.flush()
            pool.store_credentials(db, user, credentials)
        if secret:
            log.warning(
                "seeded demo user %s with a FIXED, PUBLIC TOTP secret and password from the seed file: "
                "LOCAL DEVELOPMENT ONLY",
                email,
            )
