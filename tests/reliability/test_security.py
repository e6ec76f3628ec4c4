"""Security headers on every response, CORS only for configured origins, /docs switched off, and error
bodies without stack traces or SQL, even for errors forced inside the server."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.reliability.boom_app import SECRET
from tests.reliability.served import ServedApi, api_env, migrate, task_body
from tests.support.tokens import JwksServer, TokenFactory

ALLOWED = "https://app.city-tasks.example"
OTHER = "https://evil.example"
REQUIRED_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
LEAKS = [
    "Traceback",
    'File "',
    "SELECT",
    "INSERT",
    "sqlalchemy",
    "asyncpg",
    "no_such_table",
    "hunter2",
    "psycopg",
]


class BoomApi(ServedApi):
    """The same app under uvicorn, with extra routes that raise."""

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", "tests.reliability.boom_app:create", "--factory",
            "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log", "--no-server-header",
        ]  # fmt: skip


@pytest.fixture
def boom_api(postgres_url: str, jwks_server: JwksServer) -> Iterator[BoomApi]:
    env = api_env(
        postgres_url, jwks_server.issuer, CORS_ORIGINS=ALLOWED, DOCS_ENABLED="false", MAX_BODY_BYTES="2048"
    )
    migrate(env)
    api = BoomApi(env)
    try:
        yield api.start()
    finally:
        api.stop()


def _no_leak(response: httpx.Response) -> None:
    for word in LEAKS:
        assert word.lower() not in response.text.lower(), (
            f"{word!r} in {response.request.url}: {response.text}"
        )


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_headers_cors_docs_and_error_bodies(boom_api: BoomApi, tokens: TokenFactory) -> None:
    alice = tokens.bearer("security-alice")
    with httpx.Client(base_url=boom_api.base_url, timeout=10) as c:
        created = c.post("/api/tasks", json=task_body(), headers=alice)
        responses = {
            "live": c.get("/health/live"),
            "ready": c.get("/health/ready"),
            "openapi": c.get("/openapi.json"),
            "list": c.get("/api/tasks", headers=alice),
            "created": created,
            "one": c.get(created.headers["location"], headers=alice),
            "no token": c.get("/api/tasks"),
            "bad token": c.get("/api/tasks", headers={"Authorization": "Bearer not.a.token"}),
            "missing": c.get("/api/tasks/999999", headers=alice),
            "no route": c.get("/nowhere"),
            "wrong method": c.post("/health/live"),
            "invalid": c.post("/api/tasks", json=task_body(hour=99), headers=alice),
            "bad json": c.post(
                "/api/tasks", content=b"{nope", headers={**alice, "Content-Type": "application/json"}
            ),
            "nul byte": c.post("/api/tasks", json=task_body(name="a\u0000b"), headers=alice),
            "nul query": c.get("/api/tasks", params={"q": "a\u0000b"}, headers=alice),
            "too big": c.post("/api/tasks", json=task_body(description="x" * 4000), headers=alice),
            "docs": c.get("/docs"),
            "raise": c.get("/boom/raise"),
            "sql": c.get("/boom/sql"),
            "constraint": c.get("/boom/constraint"),
            "preflight ok": c.options(
                "/api/tasks", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
            ),
            "preflight other": c.options(
                "/api/tasks", headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"}
            ),
            "get other origin": c.get("/api/tasks", headers={**alice, "Origin": OTHER}),
        }  # fmt: skip
    statuses = {name: r.status_code for name, r in responses.items()}
    print(f"\nsecurity: {statuses}")
    for name, response in responses.items():
        for header, value in REQUIRED_HEADERS.items():
            assert response.headers.get(header) == value, f"{name}: {header} missing"
        assert "server" not in response.headers, name
        if response.status_code >= 400:
            _no_leak(response)
        if response.status_code >= 400 and name not in {"preflight other"}:
            assert response.headers["content-type"] == "application/problem+json", name

    assert statuses["docs"] == 404
    assert statuses["nul byte"] == 422  # PostgreSQL text cannot hold NUL: refused, never a 500
    assert statuses["bad json"] == 422
    assert statuses["nul query"] == 422
    assert statuses["too big"] == 413
    for forced in ("raise", "sql", "constraint"):
        assert statuses[forced] == 500
        assert responses[forced].json()["detail"] == "An unexpected error occurred."
        assert responses[forced].headers["connection"] == "close"  # the server drops it: the client must know

    ok = responses["preflight ok"]
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == ALLOWED
    other = responses["preflight other"]
    assert "access-control-allow-origin" not in other.headers
    assert "access-control-allow-methods" not in other.headers or other.status_code >= 400
    assert "access-control-allow-origin" not in responses["get other origin"].headers
    # The forced errors are logged for operators, with the detail the client never sees.
    assert SECRET in boom_api.log_path.read_text(errors="replace")
