"""Cognito access-token verification, as strict as awslabs/aws-jwt-verify, without blocking the event loop.

* JWKS fetched with httpx (async), cached per issuer; refetched only for an unknown ``kid``; concurrent misses
  share one fetch; at most one refetch per ``min_refetch_seconds`` (a storm of random kids stays one request).
* Every check the issue lists: three parts, ``kid``, RSA JWK with ``use: sig``, ``alg`` RS256 and equal to the
  JWK's, signature, exact ``iss``, ``token_use == "access"``, ``client_id`` allow-list, ``exp`` required,
  ``exp``/``nbf``/``iat`` with grace, optional groups and scopes.
* Verified tokens are cached (by SHA-256 of the token) until they expire, so a repeat costs a dict lookup.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from fastapi import Request
from jwt import PyJWK

from tasks_api.problems import BEARER_INVALID, BEARER_MISSING, ProblemError
from tasks_api.state import api_state

log = logging.getLogger("tasks_api.auth")

ALLOWED_ALG = "RS256"
TOKEN_CACHE_MAX = 10_000


class TokenError(Exception):
    """The token is not acceptable. The message is for logs only, never for the caller."""


@dataclass(frozen=True)
class Principal:
    sub: str
    username: str | None
    client_id: str
    groups: frozenset[str]
    scopes: frozenset[str]
    expires_at: float


@dataclass
class _KeySet:
    keys: dict[str, PyJWK] = field(default_factory=dict)
    fetched_at: float | None = None
    inflight: asyncio.Future[None] | None = None


class JwksCache:
    """The signing keys of one or more issuers, fetched lazily and rarely."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        min_refetch_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._min_refetch = min_refetch_seconds
        self._clock = clock
        self._sets: dict[str, _KeySet] = {}
        self.fetches = 0

    async def get_key(self, jwks_url: str, kid: str) -> PyJWK:
        keyset = self._sets.setdefault(jwks_url, _KeySet())
        key = keyset.keys.get(kid)
        if key is not None:
            return key
        await self._refresh(jwks_url, keyset)
        key = keyset.keys.get(kid)
        if key is None:
            raise TokenError("unknown kid")
        return key

    async def _refresh(self, jwks_url: str, keyset: _KeySet) -> None:
        if keyset.inflight is not None:
            # Single flight: a miss during a running fetch waits for that fetch.
            await asyncio.shield(keyset.inflight)
            return
        now = self._clock()
        if keyset.fetched_at is not None and now - keyset.fetched_at < self._min_refetch:
            return  # penalty box: an unknown kid inside the window is just unknown
        keyset.fetched_at = now
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        keyset.inflight = future
        try:
            keyset.keys = await self._fetch(jwks_url) or keyset.keys
        finally:
            keyset.inflight = None
            future.set_result(None)

    async def _fetch(self, jwks_url: str) -> dict[str, PyJWK] | None:
        self.fetches += 1
        try:
            response = await self._http.get(jwks_url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("JWKS fetch from %s failed: %s", jwks_url, type(exc).__name__)
            return None
        keys: dict[str, PyJWK] = {}
        for jwk in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
                continue
            # Only RSA signing keys are ever usable; others are skipped, not trusted.
            if jwk.get("kty") != "RSA" or jwk.get("use") != "sig":
                continue
            if jwk.get("alg", ALLOWED_ALG) != ALLOWED_ALG:
                continue
            try:
                keys[jwk["kid"]] = PyJWK(jwk, algorithm=ALLOWED_ALG)
            except jwt.PyJWTError:
                continue
        return keys


class AccessTokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        client_ids: Iterable[str],
        jwks_url: str,
        jwks: JwksCache,
        required_groups: Iterable[str] = (),
        required_scopes: Iterable[str] = (),
        grace_seconds: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.client_ids = frozenset(client_ids)
        self.jwks_url = jwks_url
        self.jwks = jwks
        self.required_groups = frozenset(required_groups)
        self.required_scopes = frozenset(required_scopes)
        self.grace = grace_seconds
        self._clock = clock
        self._verified: dict[bytes, Principal] = {}

    async def verify(self, token: str) -> Principal:
        cache_key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        cached = self._verified.get(cache_key)
        now = self._clock()
        if cached is not None:
            if now < cached.expires_at + self.grace:
                return cached
            del self._verified[cache_key]
        principal = await self._verify_uncached(token, now)
        self._remember(cache_key, principal, now)
        return principal

    def _remember(self, key: bytes, principal: Principal, now: float) -> None:
        if len(self._verified) >= TOKEN_CACHE_MAX:
            self._verified = {k: p for k, p in self._verified.items() if now < p.expires_at + self.grace}
            if len(self._verified) >= TOKEN_CACHE_MAX:
                self._verified.clear()
        self._verified[key] = principal

    async def _verify_uncached(self, token: str, now: float) -> Principal:
        if token.count(".") != 2 or not all(token.split(".")):
            raise TokenError("not a three-part JWS")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError("unreadable header") from exc
        kid, alg = header.get("kid"), header.get("alg")
        if not isinstance(kid, str) or not kid:
            raise TokenError("no kid")
        if alg != ALLOWED_ALG:
            raise TokenError("alg not allowed")
        key = await self.jwks.get_key(self.jwks_url, kid)
        if key.algorithm_name != alg:
            raise TokenError("alg differs from the JWK's")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[ALLOWED_ALG],
                issuer=self.issuer,
                options={
                    "require": ["exp", "iat", "iss", "sub", "token_use", "client_id"],
                    "verify_aud": False,  # access tokens carry client_id, not aud
                    # Times are checked below against our own clock (the same one the cache uses).
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenError(type(exc).__name__) from exc
        self._check_times(claims, now)
        if claims.get("token_use") != "access":
            raise TokenError("not an access token")
        client_id = claims.get("client_id")
        if not isinstance(client_id, str) or client_id not in self.client_ids:
            raise TokenError("client not allowed")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise TokenError("no subject")
        groups = _str_set(claims.get("cognito:groups"))
        scopes = frozenset(str(claims.get("scope", "")).split())
        # As aws-jwt-verify: the token needs at least one of the configured groups / scopes.
        if self.required_groups and not (groups & self.required_groups):
            raise TokenError("missing group")
        if self.required_scopes and not (scopes & self.required_scopes):
            raise TokenError("missing scope")
        username = claims.get("username")
        return Principal(
            sub=sub,
            username=username if isinstance(username, str) else None,
            client_id=client_id,
            groups=groups,
            scopes=scopes,
            expires_at=float(claims["exp"]),
        )

    def _check_times(self, claims: dict[str, Any], now: float) -> None:
        times = {name: claims.get(name) for name in ("exp", "iat", "nbf")}
        for name, value in times.items():
            if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
                raise TokenError(f"{name} is not a number")
        exp, iat, nbf = times["exp"], times["iat"], times["nbf"]
        if exp is None or now >= exp + self.grace:
            raise TokenError("expired")
        # iat and nbf are whole seconds: round our clock up, or a token minted by an issuer a few milliseconds
        # ahead of us, just after a second boundary, would be "from the future".
        second = math.ceil(now)
        if iat is None or iat > second + self.grace:
            raise TokenError("issued in the future")
        if nbf is not None and nbf > second + self.grace:
            raise TokenError("not yet valid")


def _str_set(value: Any) -> frozenset[str]:
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str))
    return frozenset()


def unauthorized(missing: bool = False) -> ProblemError:
    return ProblemError(
        401,
        "A valid bearer access token is required.",
        headers={"WWW-Authenticate": BEARER_MISSING if missing else BEARER_INVALID},
    )


async def authenticate(request: Request) -> Principal:
    """The verified caller of ``request``, or ProblemError 401 (also usable as a FastAPI dependency)."""
    header = request.headers.get("authorization")
    if not header:
        raise unauthorized(missing=True)
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 16_384:
        raise unauthorized()
    verifier = api_state(request.app).running.verifier
    try:
        return await verifier.verify(token)
    except TokenError as exc:
        log.info("token refused: %s", exc)
        raise unauthorized() from None
