"""The access-token verifier, end to end through HTTP and directly with a controllable clock."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable

import httpx
import jwt
import pytest
from tasks_api.app import create_app
from tasks_api.auth import AccessTokenVerifier, JwksCache, TokenError
from tasks_api.settings import Settings

from tests.support.tokens import JwksServer, SigningKey, TokenFactory, new_signing_key
from tests.tasks_api.conftest import _client, task_body


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _raw_jws(header: dict, claims: dict, signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64(signature)}"


def _hs256_with_public_key(tokens: TokenFactory, key: SigningKey) -> str:
    # The classic RS/HS confusion attack: HMAC keyed with the public key the server trusts.
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    body = _b64(json.dumps(tokens.access_claims("mallory")).encode())
    mac = hmac.new(key.public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def _without(tokens: TokenFactory, claim: str) -> str:
    return tokens.sign({k: v for k, v in tokens.access_claims().items() if k != claim})


def _tampered(tokens: TokenFactory) -> str:
    head, _, sig = tokens.access("alice-sub").split(".")
    forged = _b64(json.dumps(tokens.access_claims("mallory")).encode())
    return f"{head}.{forged}.{sig}"


OTHER_KEY = new_signing_key("other-key", slot=1)


def _now() -> int:
    # Evaluated when a case runs, not at import: the suite may run for many minutes before this module.
    return int(time.time())


# name -> builds the Authorization header value from the factory and the trusted key
BAD: dict[str, Callable[[TokenFactory, SigningKey], str]] = {
    "wrong scheme": lambda t, k: f"Basic {t.access()}",
    "token scheme": lambda t, k: f"Token {t.access()}",
    "empty bearer": lambda t, k: "Bearer ",
    "garbage": lambda t, k: "Bearer not-a-jwt",
    "two parts": lambda t, k: "Bearer " + ".".join(t.access().split(".")[:2]),
    "four parts": lambda t, k: f"Bearer {t.access()}.extra",
    "signature stripped": lambda t, k: "Bearer " + t.access().rsplit(".", 1)[0] + ".",
    "payload not json": lambda t, k: (
        "Bearer " + _b64(b'{"alg":"RS256","kid":"test-key-1"}') + ".bm90IGpzb24.c2ln"
    ),
    "expired": lambda t, k: f"Bearer {t.access(exp=_now() - 60, iat=_now() - 3600)}",
    "not yet valid (nbf)": lambda t, k: f"Bearer {t.access(nbf=_now() + 600)}",
    "issued in the future": lambda t, k: f"Bearer {t.access(iat=_now() + 600, exp=_now() + 4000)}",
    "no exp": lambda t, k: f"Bearer {_without(t, 'exp')}",
    "no sub": lambda t, k: f"Bearer {_without(t, 'sub')}",
    "wrong issuer": lambda t, k: (
        f"Bearer {t.access(iss='https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other')}"
    ),
    "issuer with trailing slash": lambda t, k: f"Bearer {t.access(iss=t.issuer + '/')}",
    "wrong client": lambda t, k: f"Bearer {t.access(client_id='someone-elses-client')}",
    "no client_id": lambda t, k: f"Bearer {_without(t, 'client_id')}",
    "id token instead of access": lambda t, k: f"Bearer {t.id_token()}",
    "no token_use": lambda t, k: f"Bearer {_without(t, 'token_use')}",
    "alg none": lambda t, k: "Bearer " + _raw_jws({"alg": "none", "kid": k.kid}, t.access_claims()),
    "HS256 signed with the public key": lambda t, k: f"Bearer {_hs256_with_public_key(t, k)}",
    "RS512 header": lambda t, k: (
        "Bearer " + jwt.encode(t.access_claims(), k.private_key, algorithm="RS512", headers={"kid": k.kid})
    ),
    "unknown kid": lambda t, k: f"Bearer {t.sign(t.access_claims(), key=OTHER_KEY)}",
    "known kid, other key's signature": lambda t, k: (
        "Bearer "
        + jwt.encode(t.access_claims(), OTHER_KEY.private_key, algorithm="RS256", headers={"kid": k.kid})
    ),
    "missing kid": lambda t, k: "Bearer " + jwt.encode(t.access_claims(), k.private_key, algorithm="RS256"),
    "tampered payload": lambda t, k: f"Bearer {_tampered(t)}",
    "kid of an encryption key": lambda t, k: (
        "Bearer "
        + jwt.encode(t.access_claims(), OTHER_KEY.private_key, algorithm="RS256", headers={"kid": "enc-key"})
    ),
    "kid of an RS384 key": lambda t, k: (
        "Bearer "
        + jwt.encode(
            t.access_claims(), OTHER_KEY.private_key, algorithm="RS256", headers={"kid": "rs384-key"}
        )
    ),
    "jku pointing elsewhere": lambda t, k: (
        "Bearer "
        + jwt.encode(
            t.access_claims(),
            OTHER_KEY.private_key,
            algorithm="RS256",
            headers={"kid": "attacker", "jku": "http://127.0.0.1:1/jwks.json"},
        )
    ),
}


def test_at_least_twenty_bad_token_cases() -> None:
    assert len(BAD) >= 20


async def test_valid_token_is_accepted(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    response = await client.get("/api/tasks", headers=tokens.bearer("alice-auth"))
    assert response.status_code == 200
    assert response.json() == []


async def test_lowercase_scheme_is_accepted(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    response = await client.get("/api/tasks", headers={"Authorization": f"bearer {tokens.access()}"})
    assert response.status_code == 200


async def test_missing_token_is_401_with_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/tasks")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"


async def test_every_bad_token_is_401(
    client: httpx.AsyncClient, tokens: TokenFactory, signing_key: SigningKey
) -> None:
    # One app for all cases (a fresh database per case would dominate the run time).
    failures = []
    for case, build in sorted(BAD.items()):
        headers = {"Authorization": build(tokens, signing_key)}
        for method, path, body in (("GET", "/api/tasks", None), ("POST", "/api/tasks", task_body())):
            response = await client.request(method, path, headers=headers, json=body)
            problem = response.json()
            if (
                response.status_code != 401
                or response.headers.get("www-authenticate") != 'Bearer error="invalid_token"'
                or problem.get("status") != 401
                # Nothing that tells an attacker which check failed.
                or not set(problem) <= {"type", "title", "status", "detail", "instance"}
                or problem.get("detail") != "A valid bearer access token is required."
            ):
                failures.append((case, method, response.status_code, response.text))
    assert failures == []
    # And nothing was written by any of them.
    listing = await client.get("/api/tasks", headers=tokens.bearer("mallory"))
    assert listing.json() == []


async def test_bad_token_never_writes(client: httpx.AsyncClient, tokens: TokenFactory, signing_key) -> None:
    await client.post(
        "/api/tasks",
        json=task_body(),
        headers={"Authorization": BAD["tampered payload"](tokens, signing_key)},
    )
    listing = await client.get("/api/tasks", headers=tokens.bearer("mallory"))
    assert listing.json() == []


async def test_required_group_and_scope(make_settings, area_database_url: str, tokens: TokenFactory) -> None:
    settings = make_settings(
        area_database_url, auth_required_groups=["Users"], auth_required_scopes=["openid"]
    )
    async for client in _client(create_app(settings)):
        assert (await client.get("/api/tasks", headers=tokens.bearer())).status_code == 401
        ok = tokens.bearer(**{"cognito:groups": ["Users", "Admins"]})
        assert (await client.get("/api/tasks", headers=ok)).status_code == 200
        no_scope = tokens.bearer(**{"cognito:groups": ["Users"], "scope": "email"})
        assert (await client.get("/api/tasks", headers=no_scope)).status_code == 401


async def test_grace_allows_small_clock_skew(
    make_settings, area_database_url: str, tokens: TokenFactory
) -> None:
    settings = make_settings(area_database_url, auth_grace_seconds=120)
    async for client in _client(create_app(settings)):
        now = _now()
        skewed = tokens.bearer(exp=now - 30, iat=now - 3600)
        assert (await client.get("/api/tasks", headers=skewed)).status_code == 200
        too_old = tokens.bearer(exp=now - 300, iat=now - 3600)
        assert (await client.get("/api/tasks", headers=too_old)).status_code == 401


async def test_unknown_kid_storm_is_one_jwks_request(
    make_settings, area_database_url: str, tokens: TokenFactory, jwks_server: JwksServer
) -> None:
    async for client in _client(create_app(make_settings(area_database_url))):  # a cold JWKS cache
        jwks_server.reset_count()
        await _storm(client, tokens, jwks_server)


async def _storm(client: httpx.AsyncClient, tokens: TokenFactory, jwks_server: JwksServer) -> None:
    random_kids = [new_signing_key(f"rand-{i}", slot=1) for i in range(60)]
    storm = [{"Authorization": f"Bearer {tokens.sign(tokens.access_claims(), key=k)}"} for k in random_kids]
    responses = await asyncio.gather(*(client.get("/api/tasks", headers=h) for h in storm))
    assert {r.status_code for r in responses} == {401}
    # The first miss fetched the JWKS; every other random kid inside the window did not.
    assert jwks_server.requests == 1
    assert (await client.get("/api/tasks", headers=tokens.bearer())).status_code == 200
    assert jwks_server.requests == 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_rotated_key_is_fetched_once_after_the_window(
    jwks_server: JwksServer, tokens: TokenFactory, signing_key: SigningKey
) -> None:
    clock = FakeClock()
    async with httpx.AsyncClient(timeout=30) as http:  # a busy machine must not fail the fetch
        cache = JwksCache(http, min_refetch_seconds=10, clock=clock)
        verifier = AccessTokenVerifier(
            issuer=tokens.issuer, client_ids=[tokens.client_id], jwks_url=jwks_server.jwks_url, jwks=cache
        )
        jwks_server.reset_count()
        assert (await verifier.verify(tokens.access("alice"))).sub == "alice"
        assert jwks_server.requests == 1

        rotated = new_signing_key("rotated", slot=2)
        jwks_server.keys.append(rotated)
        try:
            await _rotation(verifier, tokens, rotated, clock, jwks_server)
        finally:
            jwks_server.keys.remove(rotated)


async def _rotation(
    verifier: AccessTokenVerifier,
    tokens: TokenFactory,
    rotated: SigningKey,
    clock: FakeClock,
    jwks_server: JwksServer,
) -> None:
    new_token = tokens.sign(tokens.access_claims("alice"), key=rotated)
    clock.now += 5  # inside the window: the new kid is unknown and nothing is fetched
    with pytest.raises(TokenError):
        await verifier.verify(new_token)
    assert jwks_server.requests == 1

    clock.now += 6  # past the window: concurrent misses share exactly one fetch
    results = await asyncio.gather(*(verifier.verify(new_token) for _ in range(20)), return_exceptions=True)
    assert all(not isinstance(r, Exception) and r.sub == "alice" for r in results)
    assert jwks_server.requests == 2


async def test_verified_token_cache_respects_exp(jwks_server: JwksServer, tokens: TokenFactory) -> None:
    wall = FakeClock()
    wall.now = time.time()
    async with httpx.AsyncClient(timeout=30) as http:  # a busy machine must not fail the fetch
        verifier = AccessTokenVerifier(
            issuer=tokens.issuer,
            client_ids=[tokens.client_id],
            jwks_url=jwks_server.jwks_url,
            jwks=JwksCache(http),
            clock=wall,
        )
        token = tokens.access("alice", exp=int(wall.now) + 60)
        first = await verifier.verify(token)
        assert await verifier.verify(token) is first  # served from the cache
        wall.now += 120
        with pytest.raises(TokenError):
            await verifier.verify(token)


async def test_jwks_server_down_means_401_not_500(
    make_settings, area_database_url: str, tokens: TokenFactory
) -> None:
    settings = make_settings(area_database_url, auth_jwks_url="http://127.0.0.1:9/jwks.json")
    async for client in _client(create_app(settings)):
        response = await client.get("/api/tasks", headers=tokens.bearer())
        assert response.status_code == 401


def test_settings_default_jwks_url_follows_issuer() -> None:
    settings = Settings(auth_issuer="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc")
    assert (
        settings.jwks_url == "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc/.well-known/jwks.json"
    )


async def test_token_minted_in_the_current_second_is_accepted(
    jwks_server: JwksServer, tokens: TokenFactory
) -> None:
    # The issuer's clock is a few milliseconds ahead and has just passed a second boundary that ours has not.
    clock = FakeClock()
    second = int(time.time())
    clock.now = second + 0.999
    async with httpx.AsyncClient(timeout=30) as http:
        verifier = AccessTokenVerifier(
            issuer=tokens.issuer,
            client_ids=[tokens.client_id],
            jwks_url=jwks_server.jwks_url,
            jwks=JwksCache(http),
            clock=clock,
        )
        fresh = tokens.access("alice", iat=second + 1, exp=second + 600)
        assert (await verifier.verify(fresh)).sub == "alice"
        ahead = tokens.access("alice", iat=second + 2, exp=second + 600)
        with pytest.raises(TokenError):  # a whole second beyond that is still the future
            await verifier.verify(ahead)
