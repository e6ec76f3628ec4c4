"""Fixtures for the Tasks API: a real JWKS server, token minting, and the app on a fresh Postgres database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from tasks_api.app import create_app
from tasks_api.settings import Settings

from tests.support.postgres import ThrowawayPostgres
from tests.support.tokens import DEFAULT_CLIENT_ID, JwksServer, SigningKey, TokenFactory, new_signing_key

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # One event loop for this area's async tests, so that one app and one database serve most of them
    # (a fresh database per test costs about a second on a busy machine). Users are unique per test instead.
    marker = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        # Only this folder's own modules: sub-areas (executions/, db/) keep their per-test loops and engines.
        if pytest_asyncio.is_async_test(item) and Path(str(item.path)).parent == HERE:
            item.add_marker(marker, append=False)


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return new_signing_key("test-key-1")


DECOY = new_signing_key("decoy", slot=1)
# Keys published next to the trusted one that must never verify anything.
DECOY_JWKS = [
    {**DECOY.public_jwk, "kid": "enc-key", "use": "enc"},
    {**DECOY.public_jwk, "kid": "rs384-key", "alg": "RS384"},
]


@pytest.fixture(scope="session")
def jwks_server(signing_key: SigningKey) -> Iterator[JwksServer]:
    with JwksServer([signing_key], extra_jwks=DECOY_JWKS) as server:
        yield server


@pytest.fixture(scope="session")
def area_database_url(postgres_server: ThrowawayPostgres) -> Iterator[str]:
    """One database shared by the area's tests; isolation comes from per-test users (owner scoping)."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(scope="session")
def tokens(jwks_server: JwksServer, signing_key: SigningKey) -> TokenFactory:
    return TokenFactory(issuer=jwks_server.issuer, key=signing_key)


@pytest.fixture(scope="session")
def make_settings(jwks_server: JwksServer) -> Callable[..., Settings]:
    def build(database_url: str | None = None, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "auth_issuer": jwks_server.issuer,
            "auth_client_ids": [DEFAULT_CLIENT_ID],
            "scheduler_enabled": False,
            "migrate_on_start": True,
            "docs_enabled": True,
            "write_rate_per_minute": 0,
        }
        # None means the embedded SQLite default (and ignores a DATABASE_URL in the environment).
        values["database_url"] = database_url
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return build


@pytest.fixture(scope="session")
def api_settings(make_settings: Callable[..., Settings], area_database_url: str) -> Settings:
    return make_settings(area_database_url)


async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@pytest.fixture(scope="session")
def app(api_settings: Settings) -> FastAPI:
    return create_app(api_settings)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(app):
        yield c


@pytest.fixture
def alice_sub() -> str:
    return f"alice-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def alice(tokens: TokenFactory, alice_sub: str) -> dict[str, str]:
    return tokens.bearer(alice_sub)


@pytest.fixture
def bob(tokens: TokenFactory) -> dict[str, str]:
    return tokens.bearer(f"bob-{uuid.uuid4().hex[:10]}")


def task_body(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "Water the garden",
        "description": "Front lawn sprinklers",
        "hour": 6,
        "minute": 30,
        "executionDays": "MON,WED,FRI",
        "executionCommand": "python3 /home/pi/faker/faker.py",
        "timeZone": "America/Guayaquil",
        "deviceId": "sprinkler-1",
        "deviceOperation": "ACTIVATE",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}
