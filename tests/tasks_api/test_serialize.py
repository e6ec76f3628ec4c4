"""The list's direct JSON writer says exactly what TaskOut says for the same rows."""

from __future__ import annotations

import json
from collections import namedtuple
from datetime import UTC, datetime, timedelta

import httpx
from tasks_api.tasks.schemas import TaskOut
from tasks_api.tasks.serialize import task_list_json

from tests.tasks_api.conftest import task_body


async def test_list_items_equal_single_task_representation(client: httpx.AsyncClient, alice) -> None:
    until = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0).isoformat()
    for body in (
        task_body(),
        task_body(executeUntil=until, description=None, status="INA", name="Ünïcode ✓"),
    ):
        await client.post("/api/tasks", json=body, headers=alice)
    listed = (await client.get("/api/tasks", headers=alice)).json()
    singles = [(await client.get(f"/api/tasks/{t['id']}", headers=alice)).json() for t in listed]
    assert listed == singles
    assert list(listed[0]) == list(singles[0])  # same field order too


def test_writer_matches_pydantic_on_edge_values() -> None:
    naive = datetime(2026, 3, 29, 1, 30, 0, 123456)  # as SQLite hands it back
    aware = datetime(2026, 10, 25, 2, 30, tzinfo=UTC)
    row = {
        "id": 7,
        "job_id": "j",
        "name": 'quote " and \\ and ñ',
        "description": None,
        "hour": 0,
        "minute": 59,
        "execution_days": "SUN",
        "execution_command": None,
        "execute_until": aware,
        "time_zone": "Europe/Berlin",
        "status": "ACT",
        "device_id": None,
        "device_operation": "DEACTIVATE",
        "next_run_at": None,
        "created_at": naive,
        "updated_at": aware,
    }
    # Shaped like SQLAlchemy's Row (a tuple with _fields), with an extra column the API never shows.
    row_type = namedtuple("row_type", ["owner_sub", *row])  # type: ignore[misc]
    direct = json.loads(task_list_json([row_type("someone", *row.values())]))
    via_pydantic = json.loads(TaskOut.model_validate(row).model_dump_json(by_alias=True))
    assert direct == [via_pydantic]


def test_writer_on_no_rows() -> None:
    assert json.loads(task_list_json([])) == []
