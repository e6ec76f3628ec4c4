"""RS256 signing keys: generated on first start, persisted, rotated by `idp rotate-keys`.

As in Cognito, the JWKS holds (at least) two keys: access tokens are signed with one and ID tokens with the
other. For each purpose the newest key signs; every stored key stays in the JWKS until it is removed, so
tokens signed before a rotation keep verifying.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select

from idp.store import SigningKey, Store

PURPOSES = ("access", "id")


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    public_jwk: dict[str, Any]
    purpose: str


def _thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint: a stable kid derived from the key itself."""
    import base64
    import hashlib

    jwk = json.loads(RSAAlgorithm.to_jwk(public_key))
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _load(row: SigningKey) -> LoadedKey:
    private_key = serialization.load_pem_private_key(row.private_pem.encode(), password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    jwk = json.loads(RSAAlgorithm.to_jwk(private_key.public_key()))
    jwk.update({"kid": row.kid, "alg": "RS256", "use": "sig"})
    return LoadedKey(row.kid, private_key, jwk, row.purpose or "access")


class KeyRing:
    """Reads keys from the store, re-reading at most every `refresh_seconds` so a rotation done by the CLI
    on a running server takes effect without a restart."""

    def __init__(self, store: Store, refresh_seconds: float = 5.0) -> None:
        self._store = store
        self._refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._keys: list[LoadedKey] = []
        self._loaded_at = 0.0

    def _current(self) -> list[LoadedKey]:
        with self._lock:
            if not self._keys or time.monotonic() - self._loaded_at > self._refresh_seconds:
                with self._store.begin() as db:
                    rows = db.scalars(select(SigningKey).order_by(SigningKey.created_at.desc())).all()
                    known = {k.kid: k for k in self._keys}
                    self._keys = [known.get(r.kid) or _load(r) for r in rows]
                self._loaded_at = time.monotonic()
            return self._keys

    def ensure_key(self) -> None:
        """Creates a key for each purpose that has none (a fresh database, or one from before the split)."""
        with self._store.begin() as db:
            have = {purpose or "access" for purpose in db.scalars(select(SigningKey.purpose))}
            for purpose in PURPOSES:
                if purpose not in have:
                    db.add(new_key_row(purpose))
        self._loaded_at = 0.0

    def signing_key(self, purpose: str = "access") -> LoadedKey:
        for key in self._current():
            if key.purpose == purpose:
                return key
        raise RuntimeError(f"no {purpose} signing key: the IdP creates one on start")

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in self._current()]}


def new_key_row(purpose: str) -> SigningKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    # created_at with sub-second precision orders two rotations in the same second correctly.
    return SigningKey(
        kid=_thumbprint(private_key.public_key()), private_pem=pem, created_at=time.time(), purpose=purpose
    )


def rotate(store: Store) -> list[str]:
    """A new key for each purpose; returns their kids (access first)."""
    rows = [new_key_row(purpose) for purpose in PURPOSES]
    with store.begin() as db:
        db.add_all(rows)
    return [row.kid for row in rows]


def remove(store: Store, kid: str) -> bool:
    with store.begin() as db:
        rows = db.scalars(select(SigningKey)).all()
        target = next((r for r in rows if r.kid == kid), None)
        if target is None:
            return False
        purpose = target.purpose or "access"
        if sum(1 for r in rows if (r.purpose or "access") == purpose) == 1:
            raise ValueError(
                f"refusing to remove the only {purpose} signing key; run `idp rotate-keys` first"
            )
        db.delete(target)
        return True


def list_keys(store: Store) -> list[tuple[str, float, str]]:
    with store.begin() as db:
        rows = db.scalars(select(SigningKey).order_by(SigningKey.created_at))
        return [(r.kid, r.created_at, r.purpose or "access") for r in rows]
