"""Test signing keys, a real JWKS server on 127.0.0.1, and Cognito-shaped token minting.

Reusable by every area (API, IdP, load tests, e2e): nothing here patches the verifier under test.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

DEFAULT_CLIENT_ID = "city-tasks-test-client"
POOL_ID = "us-east-1_TestPool"


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @property
    def public_jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": _b64(numbers.n),
            "e": _b64(numbers.e),
        }

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@lru_cache(maxsize=8)
def _rsa(slot: int) -> rsa.RSAPrivateKey:
    # Key generation is slow-ish; a few cached keys serve every test.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_signing_key(kid: str | None = None, slot: int = 0) -> SigningKey:
    return SigningKey(kid or f"kid-{uuid.uuid4().hex[:12]}", _rsa(slot))


class JwksServer:
    """Serves ``{"keys": [...]}`` at any path ending in ``jwks.json`` and counts the requests it answers."""

    def __init__(self, keys: list[SigningKey] | None = None, extra_jwks: list[dict[str, Any]] | None = None):
        self.keys = list(keys or [])
        self.extra_jwks = list(extra_jwks or [])
        self.requests = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- what tests use ---------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server's address
        return f"http://{host}:{port}"

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/{POOL_ID}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"

    def document(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in self.keys] + self.extra_jwks}

    def reset_count(self) -> None:
        with self._lock:
            self.requests = 0

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> JwksServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not self.path.endswith("jwks.json"):
                    self.send_error(404)
                    return
                with owner._lock:
                    owner.requests += 1
                body = json.dumps(owner.document()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="jwks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> JwksServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class TokenFactory:
    """Mints Cognito-shaped tokens: access tokens by default, id tokens on request."""

    issuer: str
    key: SigningKey
    client_id: str = DEFAULT_CLIENT_ID
    lifetime_seconds: int = 3600
    groups: list[str] = field(default_factory=list)

    def access_claims(self, sub: str = "user-a", **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": sub,
            "iss": self.issuer,
            "client_id": self.client_id,
            "origin_jti": uuid.uuid4().hex,
            "event_id": uuid.uuid4().hex,
            "token_use": "access",
            "scope": "openid email profile",
            "auth_time": now,
            "iat": now,
            "exp": now + self.lifetime_seconds,
            "jti": uuid.uuid4().hex,
            "username": sub,
        }
        if self.groups:
            claims["cognito:groups"] = list(self.groups)
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(
        self, claims: dict[str, Any], *, key: SigningKey | None = None, headers: dict[str, Any] | None = None
    ) -> str:
        key = key or self.key
        return jwt.encode(
            claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, **(headers or {})}
        )

    def access(self, sub: str = "user-a", **overrides: Any) -> str:
        return self.sign(self.access_claims(sub, **overrides))

    def id_token(self, sub: str = "user-a", **overrides: Any) -> str:
        claims = self.access_claims(sub, token_use="id", aud=self.client_id, client_id=None, scope=None)
        claims.update(overrides)
        return self.sign(claims)

    def bearer(self, sub: str = "user-a", **overrides: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access(sub, **overrides)}"}
