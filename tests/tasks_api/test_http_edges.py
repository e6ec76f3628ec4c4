"""Problem documents, limits, health, CORS, security headers and the access log."""

from __future__ import annotations

import json
import logging
import re

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from tasks_api.app import create_app
from tasks_api.jsonlog import JsonFormatter
from tasks_api.state import api_state

from tests.tasks_api.conftest import _client, task_body


async def test_body_over_limit_is_413(client: httpx.AsyncClient, alice) -> None:
    big = task_body(description="x" * 70_000)
    response = await client.post("/api/tasks", json=big, headers=alice)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_chunked_body_over_limit_is_413(client: httpx.AsyncClient, alice) -> None:
    async def chunks():
        for _ in range(20):
            yield b" " * 8192

    response = await client.post(
        "/api/tasks", content=chunks(), headers={**alice, "Content-Type": "application/json"}
    )
    assert response.status_code == 413


async def test_chunked_body_under_limit_is_accepted(client: httpx.AsyncClient, alice) -> None:
    payload = json.dumps(task_body()).encode()

    async def chunks():
        yield payload[:10]
        yield payload[10:]

    response = await client.post(
        "/api/tasks", content=chunks(), headers={**alice, "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient, alice) -> None:
    missing = await client.get("/api/nothing-here", headers=alice)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await client.post("/api/tasks/1", headers=alice)
    assert wrong.status_code == 405
    assert wrong.json()["status"] == 405


async def test_security_headers_and_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/health/live", headers={"X-Request-Id": "abc-123"})
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-request-id"] == "abc-123"
    bad_id = await client.get("/health/live", headers={"X-Request-Id": "evil\tvalue"})
    assert bad_id.headers["x-request-id"] != "evil\tvalue"


async def test_requests_without_an_id_get_distinct_ones(client: httpx.AsyncClient) -> None:
    ids = [(await client.get("/health/live")).headers["x-request-id"] for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in ids)


async def test_security_headers_the_app_set_itself_are_kept(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert "content-security-policy" not in docs.headers  # the docs page loads its own assets
    assert docs.headers["x-frame-options"] == "DENY"
    assert docs.headers["cache-control"] == "no-store"


async def test_live_and_ready(client: httpx.AsyncClient, app) -> None:
    assert (await client.get("/health/live")).json() == {"status": "UP"}
    assert (await client.get("/q/health/live")).status_code == 200  # the original ALB path
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert "connection" not in ready.headers
    api_state(app).readiness.draining = True
    try:
        draining = await client.get("/health/ready")
        assert draining.status_code == 503
        assert draining.json()["reason"] == "draining"
        live = await client.get("/health/live")
        assert live.status_code == 200
        assert live.headers["connection"] == "close"  # keep-alive clients move on while we drain
    finally:
        api_state(app).readiness.draining = False


async def test_ready_is_503_until_migrated(make_settings, postgres_url: str) -> None:
    settings = make_settings(postgres_url, migrate_on_start=False)
    async for client in _client(create_app(settings)):
        response = await client.get("/health/ready")
        assert response.status_code == 503
        assert "migration" in response.json()["reason"]


async def test_database_down_is_503_with_retry_after(make_settings, tokens) -> None:
    settings = make_settings(
        "postgresql+asyncpg://nobody@127.0.0.1:9/none", migrate_on_start=False, db_pool_timeout_seconds=2
    )
    async for client in _client(create_app(settings)):
        headers = tokens.bearer("outage-user")
        for method, path, body in (("GET", "/api/tasks", None), ("POST", "/api/tasks", task_body())):
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"].isdigit()
            assert response.headers["content-type"] == "application/problem+json"
            assert "asyncpg" not in response.text
            assert "SELECT" not in response.text
        assert (await client.get("/health/ready")).status_code == 503
        assert (await client.get("/health/live")).status_code == 200


async def test_unexpected_error_is_a_bare_500_problem(api_settings) -> None:
    app = create_app(api_settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail: SELECT password FROM users")

    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret" not in response.text
    assert "Traceback" not in response.text


async def test_cors_only_for_configured_origins(make_settings, area_database_url: str) -> None:
    settings = make_settings(area_database_url, cors_origins="http://localhost:8100")
    async for client in _client(create_app(settings)):
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        }
        allowed = await client.options("/api/tasks", headers={"Origin": "http://localhost:8100", **preflight})
        assert allowed.headers["access-control-allow-origin"] == "http://localhost:8100"
        denied = await client.options("/api/tasks", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in denied.headers
        simple = await client.get("/health/live", headers={"Origin": "http://localhost:8100"})
        assert simple.headers["access-control-allow-origin"] == "http://localhost:8100"
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
        assert simple.headers["vary"] == "Origin"
        # Without an Origin (same-origin or server to server) the answer still varies by Origin for caches.
        plain = await client.get("/health/live")
        assert plain.headers["vary"] == "Origin"
        assert "access-control-allow-origin" not in plain.headers
        too_big = await client.post(
            "/api/tasks", content=b"x" * 70_000, headers={"Origin": "http://localhost:8100"}
        )
        assert too_big.status_code == 413
        assert too_big.headers["access-control-allow-origin"] == "http://localhost:8100"


async def test_docs_can_be_switched_off(make_settings, area_database_url: str) -> None:
    async for client in _client(create_app(make_settings(area_database_url, docs_enabled=False))):
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 200
    async for client in _client(create_app(make_settings(area_database_url))):
        assert (await client.get("/docs")).status_code == 200


async def test_one_json_access_line_per_request_without_the_token(
    client: httpx.AsyncClient, alice, caplog: pytest.LogCaptureFixture
) -> None:
    created = await client.post("/api/tasks", json=task_body(), headers=alice)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tasks_api.access"):
        await client.get(f"/api/tasks/{created.json()['id']}", headers={**alice, "X-Request-Id": "req-42"})
    records = [r for r in caplog.records if r.name == "tasks_api.access"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["method"] == "GET"
    assert line["route"] == "/api/tasks/{task_id}"
    assert line["status"] == 200
    assert line["request_id"] == "req-42"
    assert isinstance(line["duration_ms"], float)
    token = alice["Authorization"].split()[1]
    assert token not in json.dumps(line)
    assert token[:20] not in caplog.text


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"), 503),
        (asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"), 503),
        (asyncpg.CannotConnectNowError("the database system is starting up"), 503),
        (asyncpg.AdminShutdownError("terminating connection due to administrator command"), 503),
        (asyncpg.QueryCanceledError("canceling statement due to statement timeout"), 503),
        (asyncpg.UniqueViolationError("duplicate key value violates unique constraint"), 500),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
async def test_driver_errors_of_the_task_routes(api_settings, error: Exception, status: int) -> None:
    # The task routes run statements on asyncpg directly: its errors get the same answers as SQLAlchemy's.
    app = create_app(api_settings)

    @app.get("/driver-error")
    async def fail() -> None:
        raise error

    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/driver-error")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert ("retry-after" in response.headers) == (status == 503)
    assert "duplicate key" not in response.text
