"""Keyset paging by opaque cursor: 1,000 tasks, each seen once, in (hour, minute, id) order; the codec."""

from __future__ import annotations

import base64
import json
import random
import re
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine
from tasks_api.db.models import Task
from tasks_api.executions.schemas import decode_cursor, encode_cursor
from tasks_api.paging import InvalidCursorError, PageQuery, next_page_link
from tasks_api.tasks.repository import Cursor, new_job_id
from tasks_api.tasks.schemas import ListQuery

LINK = re.compile(r'^<([^>]+)>; rel="next"$')


async def _bulk_insert(database_url: str, owner: str, count: int) -> None:
    rng = random.Random(7)
    now = datetime.now(UTC)
    rows = [
        {
            "owner_sub": owner,
            "job_id": new_job_id(),
            "name": f"task {i}",
            "hour": rng.randrange(24),
            "minute": rng.randrange(60),  # many rows share (hour, minute): the id breaks ties
            "execution_days": "MON",
            "time_zone": "UTC",
            "status": "ACT",
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(Task), rows)
    finally:
        await engine.dispose()


async def test_paging_1000_tasks_each_exactly_once(
    client: httpx.AsyncClient, area_database_url: str, tokens, alice_sub: str, bob
) -> None:
    await _bulk_insert(area_database_url, alice_sub, 1000)
    await _bulk_insert(area_database_url, "someone-else", 50)
    headers = tokens.bearer(alice_sub)

    seen: list[tuple[int, int, int]] = []
    url: str | None = "/api/tasks?limit=37"
    pages = 0
    while url is not None and pages < 100:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page) <= 37
        seen.extend((t["hour"], t["minute"], t["id"]) for t in page)
        link = response.headers.get("link")
        url = LINK.match(link).group(1) if link else None
        pages += 1
    assert pages == 28  # ceil(1000 / 37)
    assert len(seen) == 1000
    assert len({row_id for *_, row_id in seen}) == 1000
    assert seen == sorted(seen)


async def test_default_page_is_100_and_max_500(
    client: httpx.AsyncClient, area_database_url: str, tokens
) -> None:
    owner = "pager-defaults"
    await _bulk_insert(area_database_url, owner, 120)
    headers = tokens.bearer(owner)
    first = await client.get("/api/tasks", headers=headers)
    assert len(first.json()) == 100
    assert "cursor=" in first.headers["link"]
    assert len((await client.get("/api/tasks?limit=500", headers=headers)).json()) == 120
    assert (await client.get("/api/tasks?limit=501", headers=headers)).status_code == 422


async def test_cursor_keeps_filters(client: httpx.AsyncClient, area_database_url: str, tokens) -> None:
    owner = "pager-filters"
    await _bulk_insert(area_database_url, owner, 30)
    headers = tokens.bearer(owner)
    names: list[str] = []
    url: str | None = "/api/tasks?limit=5&q=task%201"
    for _ in range(5):
        if url is None:
            break
        response = await client.get(url, headers=headers)
        names += [t["name"] for t in response.json()]
        link = response.headers.get("link")
        url = LINK.match(link).group(1) if link else None
        assert url is None or "q=task+1" in url or "q=task%201" in url
    assert url is None
    assert sorted(names) == sorted(["task 1", *(f"task {i}" for i in range(10, 20))])


async def test_a_cursor_cannot_reach_other_users(
    client: httpx.AsyncClient, area_database_url: str, tokens
) -> None:
    await _bulk_insert(area_database_url, "cursor-owner", 10)
    page = await client.get("/api/tasks?limit=3", headers=tokens.bearer("cursor-owner"))
    url = LINK.match(page.headers["link"]).group(1)
    stranger = await client.get(url, headers=tokens.bearer("cursor-stranger"))
    assert stranger.status_code == 200
    assert stranger.json() == []


# --- the cursor codec (tasks_api.paging), shared by the task list and the execution history -------------


def test_cursors_keep_the_format_they_were_issued_in() -> None:
    # Cursors already handed out must still decode: base64url (no padding) of the compact JSON array.
    assert Cursor(6, 30, 12).encode() == base64.urlsafe_b64encode(b"[6,30,12]").decode().rstrip("=")
    slot = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    issued = json.dumps([slot.isoformat(), 7], separators=(",", ":")).encode()
    assert encode_cursor(slot, 7) == base64.urlsafe_b64encode(issued).decode().rstrip("=")
    assert Cursor.decode(Cursor(6, 30, 12).encode()) == Cursor(6, 30, 12)
    assert decode_cursor(encode_cursor(slot, 7)) == (slot, 7)


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "text",
    [
        "not-a-cursor",
        _token(b"[1,2]"),  # too short
        _token(b"[1,2,3,4]"),  # too long
        _token(b'[1,2,"3"]'),  # a string where an int belongs
        _token(b"[1,true,3]"),  # a bool is no int here
        _token(b'{"hour":1}'),  # not an array
        _token(b"\xff\xfe"),  # not UTF-8
    ],
)
def test_a_task_cursor_not_from_this_api_is_refused(text: str) -> None:
    with pytest.raises(InvalidCursorError):
        Cursor.decode(text)


@pytest.mark.parametrize(
    "raw", [b'["2030-01-02T03:04:05",7]', b'["yesterday",7]', b'["2030-01-02T03:04:05+00:00",false]', b"[7]"]
)
def test_an_execution_cursor_not_from_this_api_is_refused(raw: bytes) -> None:
    # The same error type as the task list's: both routers catch the one InvalidCursorError.
    with pytest.raises(InvalidCursorError):
        decode_cursor(_token(raw))


def test_the_next_link_carries_the_filters_as_read_and_drops_unknown_parameters() -> None:
    query = ListQuery.model_validate({"q": "a&b c", "status": "ACT", "limit": "5", "cursor": "old", "x": "1"})
    link = next_page_link("/api/tasks", query, "bmV4dA", 5)
    assert link == '</api/tasks?status=ACT&q=a%26b+c&cursor=bmV4dA&limit=5>; rel="next"'
    bare = next_page_link("/api/tasks/7/executions", PageQuery(), "bmV4dA", 100)
    assert bare == '</api/tasks/7/executions?cursor=bmV4dA&limit=100>; rel="next"'
