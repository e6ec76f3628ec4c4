"""Per-user write rate limit: 429 with Retry-After, per user, reads untouched."""

from __future__ import annotations

import httpx
from tasks_api.app import create_app
from tasks_api.ratelimit import WriteRateLimiter

from tests.tasks_api.conftest import _client, task_body


async def test_writes_over_the_limit_get_429(make_settings, area_database_url: str, tokens) -> None:
    settings = make_settings(area_database_url, write_rate_per_minute=3)
    async for client in _client(create_app(settings)):
        flooder, other = tokens.bearer("flooder"), tokens.bearer("bystander")
        statuses = [
            (await client.post("/api/tasks", json=task_body(), headers=flooder)).status_code for _ in range(5)
        ]
        assert statuses == [201, 201, 201, 429, 429]
        limited = await client.post("/api/tasks", json=task_body(), headers=flooder)
        assert limited.headers["content-type"] == "application/problem+json"
        assert int(limited.headers["retry-after"]) >= 1
        # Deletes count as writes too; reads do not.
        task_id = (await client.get("/api/tasks", headers=flooder)).json()[0]["id"]
        assert (await client.delete(f"/api/tasks/{task_id}", headers=flooder)).status_code == 429
        assert (await client.get("/api/tasks", headers=flooder)).status_code == 200
        # Another user is not affected.
        assert (await client.post("/api/tasks", json=task_body(), headers=other)).status_code == 201


def test_bucket_refills_over_time() -> None:
    now = [0.0]
    limiter = WriteRateLimiter(60, clock=lambda: now[0])  # one per second, bursts of 60
    assert all(limiter.acquire("u") is None for _ in range(60))
    assert limiter.acquire("u") == 1
    now[0] += 1.0
    assert limiter.acquire("u") is None
    assert limiter.acquire("u") is not None
    assert WriteRateLimiter(0).acquire("u") is None  # 0 turns it off


async def test_unauthenticated_writes_are_401_not_429(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/tasks", json=task_body())).status_code == 401
