"""Fixtures for the reliability proofs: a real JWKS server, tokens, and real API processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.reliability.served import ServedApi, api_env, migrate
from tests.support.postgres import ThrowawayPostgres
from tests.support.tokens import JwksServer, SigningKey, TokenFactory, new_signing_key


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return new_signing_key("reliability-key")


@pytest.fixture(scope="module")
def jwks_server(signing_key: SigningKey) -> Iterator[JwksServer]:
    with JwksServer([signing_key]) as server:
        yield server


@pytest.fixture(scope="module")
def tokens(jwks_server: JwksServer, signing_key: SigningKey) -> TokenFactory:
    return TokenFactory(issuer=jwks_server.issuer, key=signing_key)


@pytest.fixture
def serve_api(jwks_server: JwksServer) -> Iterator[Callable[..., ServedApi]]:
    """Start `tasks-api serve` on a migrated database; every process is killed after the test."""
    started: list[ServedApi] = []

    def start(database_url: str, *, wait_ready: bool = True, **settings: str) -> ServedApi:
        env = api_env(database_url, jwks_server.issuer, **settings)
        migrate(env)
        api = ServedApi(env)
        started.append(api)
        return api.start(wait_ready=wait_ready)

    yield start
    for api in started:
        api.stop()


@pytest.fixture
def own_postgres() -> Iterator[ThrowawayPostgres]:
    """A Postgres server of this test's own, so stopping it cannot hurt other tests."""
    server = ThrowawayPostgres().start()
    try:
        if not server.can_restart:
            pytest.skip(
                "DATABASE_URL points at an external server that this test cannot stop and restart; "
                "unset it to run the outage tests on a local throwaway cluster"
            )
        yield server
    finally:
        server.stop()
