"""GET /api/tasks/{id}/executions through the real app: newest first, paged, owner-scoped."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import insert
from tasks_api.db.models import TaskExecution
from tasks_api.state import api_state

LINK = re.compile(r'^<([^>]+)>; rel="next"$')
BODY = {"name": "porch light", "hour": 19, "minute": 30, "executionDays": "MON,FRI", "timeZone": "UTC"}


async def create_task(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    response = await client.post("/api/tasks", json=BODY, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def add_executions(app: FastAPI, task_id: int, count: int) -> list[datetime]:
    first = datetime(2024, 1, 1, 19, 30, tzinfo=UTC)
    slots = [first + timedelta(days=n) for n in range(count)]
    rows: list[dict[str, Any]] = [
        {
            "task_id": task_id,
            "scheduled_for": slot,
            "status": "SUCCEEDED" if n % 3 else "MISSED",
            "attempts": 1 if n % 3 else 0,
            "started_at": slot if n % 3 else None,
            "finished_at": slot + timedelta(seconds=1),
            "error": None if n % 3 else "missed: due 300 s earlier, grace is 60 s",
        }
        for n, slot in enumerate(slots)
    ]
    async with api_state(app).running.engine.begin() as conn:
        await conn.execute(insert(TaskExecution), rows)
    return slots


async def test_a_new_task_has_no_executions(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    task_id = await create_task(client, alice)
    response = await client.get(f"/api/tasks/{task_id}/executions", headers=alice)
    assert response.status_code == 200
    assert response.json() == []
    assert "Link" not in response.headers


async def test_executions_are_listed_newest_first_with_their_fields(
    client: httpx.AsyncClient, app: FastAPI, alice: dict[str, str]
) -> None:
    task_id = await create_task(client, alice)
    slots = await add_executions(app, task_id, 3)
    response = await client.get(f"/api/tasks/{task_id}/executions", headers=alice)
    assert response.status_code == 200
    items = response.json()
    assert [item["slot"] for item in items] == [s.isoformat().replace("+00:00", "Z") for s in reversed(slots)]
    newest, _, oldest = items
    assert newest == {
        "id": newest["id"],
        "taskId": task_id,
        "slot": "2024-01-03T19:30:00Z",
        "status": "SUCCEEDED",
        "attempts": 1,
        "startedAt": "2024-01-03T19:30:00Z",
        "finishedAt": "2024-01-03T19:30:01Z",
        "error": None,
    }
    assert (oldest["status"], oldest["attempts"], oldest["startedAt"]) == ("MISSED", 0, None)
    assert oldest["error"].startswith("missed")


async def test_paging_by_cursor_returns_each_execution_once(
    client: httpx.AsyncClient, app: FastAPI, alice: dict[str, str]
) -> None:
    task_id = await create_task(client, alice)
    slots = await add_executions(app, task_id, 25)
    seen: list[str] = []
    url: str | None = f"/api/tasks/{task_id}/executions?limit=10"
    for _ in range(10):
        if url is None:
            break
        response = await client.get(url, headers=alice)
        assert response.status_code == 200, response.text
        assert len(response.json()) <= 10
        seen.extend(item["slot"] for item in response.json())
        link = response.headers.get("Link")
        url = LINK.match(link).group(1) if link else None  # type: ignore[union-attr]
    assert seen == [s.isoformat().replace("+00:00", "Z") for s in reversed(slots)]


async def test_another_users_task_is_not_found(
    client: httpx.AsyncClient, app: FastAPI, alice: dict[str, str], bob: dict[str, str]
) -> None:
    task_id = await create_task(client, alice)
    await add_executions(app, task_id, 2)
    for url in (f"/api/tasks/{task_id}/executions", "/api/tasks/999999999/executions"):
        response = await client.get(url, headers=bob)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "SUCCEEDED" not in response.text


async def test_without_a_token_is_401(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    task_id = await create_task(client, alice)
    response = await client.get(f"/api/tasks/{task_id}/executions")
    assert response.status_code == 401


async def test_bad_paging_parameters_are_422_problems(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    task_id = await create_task(client, alice)
    for query, field in (("limit=501", "limit"), ("limit=0", "limit"), ("cursor=not-a-cursor", "cursor")):
        response = await client.get(f"/api/tasks/{task_id}/executions?{query}", headers=alice)
        assert response.status_code == 422, query
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in response.text
