"""Every user pool one IdP process serves: the seed's (the app's) and any made with CreateUserPool.

Each pool has its own tables (a schema on PostgreSQL, a file beside the main one on SQLite), its own signing
keys and issuer, so a request reaches the pool it names: by UserPoolId, by the pool of its ClientId, or by
the issuer of its access token. Pools made through the API have no Lambda triggers, as in Cognito until
someone configures them.
"""

from __future__ import annotations

import secrets
import string
import threading
from typing import Any

import jwt
from sqlalchemy import select

from idp.errors import CognitoError, invalid_parameter, not_authorized
from idp.pool import MFA_MODES, UserPool
from idp.settings import Settings
from idp.store import Client, PoolRecord, Store

MAX_POOLS_LISTED = 60


def _no_trigger(event: dict[str, Any], _context: Any, **_: Any) -> dict[str, Any]:
    return event


class Pools:
    def __init__(self, settings: Settings, main: UserPool) -> None:
        self.settings = settings
        self.main = main
        self._lock = threading.Lock()
        self._by_id: dict[str, UserPool] = {main.pool_id: main}
        self._client_pool: dict[str, str] = {}
        with main.store.read() as db:
            records = [(r.id, r.name, r.mfa_configuration) for r in db.scalars(select(PoolRecord))]
        for pool_id, name, mfa in records:
            self._open(pool_id, name, mfa)

    def _open(self, pool_id: str, name: str, mfa: str) -> UserPool:
        store = Store.for_pool(self.settings.database_url, pool_id)
        pool = UserPool(self.settings, store, pool_id, mfa_configuration=mfa, name=name)
        pool.post_confirmation = _no_trigger
        pool.pre_token_generation = _no_trigger
        pool.local_client = self.main.local_client
        pool.keys.ensure_key()
        self._by_id[pool_id] = pool
        return pool

    def all(self) -> list[UserPool]:
        return list(self._by_id.values())

    def get(self, pool_id: str) -> UserPool:
        pool = self._by_id.get(pool_id)
        if pool is None:
            raise CognitoError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
        return pool

    def find(self, pool_id: str) -> UserPool | None:
        return self._by_id.get(pool_id)

    def for_client(self, client_id: str) -> UserPool:
        """The pool an app client belongs to (the main pool when no pool has it: its errors apply)."""
        known = self._client_pool.get(client_id)
        if known is not None and known in self._by_id:
            return self._by_id[known]
        for pool in self.all():
            with pool.store.read() as db:
                if db.get(Client, client_id) is not None:
                    self._client_pool[client_id] = pool.pool_id
                    return pool
        return self.main

    def for_access_token(self, token: str) -> UserPool:
        """The pool whose issuer signed `token` (checked properly by that pool afterwards)."""
        try:
            issuer = str(jwt.decode(token, options={"verify_signature": False}).get("iss", ""))
        except jwt.InvalidTokenError as exc:
            raise not_authorized("Invalid Access Token") from exc
        pool = self._by_id.get(issuer.rstrip("/").rsplit("/", 1)[-1])
        if pool is None:
            raise not_authorized("Invalid Access Token")
        return pool

    def for_session(self, session: str) -> UserPool:
        for pool in self.all():
            with pool.store.read() as db:
                if pool.load_session(db, "auth", session) is not None:
                    return pool
        return self.main

    # ------------------------------------------------------------- CreateUserPool, ListUserPools
    def create(self, name: str, mfa_configuration: str | None) -> dict[str, Any]:
        if not 1 <= len(name) <= 128:
            raise invalid_parameter("PoolName must be 1 to 128 characters.")
        mfa = mfa_configuration or "OFF"
        if mfa not in MFA_MODES:
            raise invalid_parameter(f"MfaConfiguration must be one of {', '.join(MFA_MODES)}.")
        suffix = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(9))
        pool_id = f"{self.main.region}_{suffix}"
        with self._lock:
            pool = self._open(pool_id, name, mfa)
            with self.main.store.begin() as db:
                db.add(PoolRecord(id=pool_id, name=name, mfa_configuration=mfa, created_at=self.main.clock()))
        return pool.admin.describe_user_pool(pool_id)

    def list(self, max_results: int | None) -> dict[str, Any]:
        if max_results is None or not 1 <= max_results <= MAX_POOLS_LISTED:
            raise invalid_parameter(f"MaxResults must be between 1 and {MAX_POOLS_LISTED}.")
        pools = self.all()[:max_results]
        return {"UserPools": [{"Id": p.pool_id, "Name": p.name} for p in pools]}

    def dispose(self) -> None:
        for pool in self.all():
            pool.store.dispose()
