"""Fixtures for the scheduler tests: a schema on the throwaway Postgres, and task rows."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from tasks_api.db.migrate import upgrade
from tasks_api.db.models import Task, TaskExecution
from tasks_api.domain.days import parse_days
from tasks_api.domain.schedule import Schedule, next_fire_time

HERE = Path(__file__).parent
_PER_TEST_DATABASE = {"postgres_url", "engine", "sqlite_engine", "pool"}
_SHARED_APP = {"app", "client"}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests on a fresh database per test (function-scoped engines) run on their own loop; tests on the
    # area's shared app and client (tests/tasks_api/conftest.py) run on the session loop those live on.
    per_test = pytest.mark.asyncio(loop_scope="function")
    shared = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if not pytest_asyncio.is_async_test(item) or HERE not in Path(str(item.path)).parents:
            continue
        fixtures = set(getattr(item, "fixturenames", ()))
        if _PER_TEST_DATABASE & fixtures:
            item.add_marker(per_test, append=False)
        elif _SHARED_APP & fixtures:
            item.add_marker(shared, append=False)


async def create_schema(engine: AsyncEngine) -> None:
    await upgrade(engine)  # the real migrations, as `tasks-api migrate` applies them


@pytest.fixture
async def engine(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(postgres_url, pool_size=3)
    await create_schema(engine)
    yield engine
    await engine.dispose()


def task_row(**fields: Any) -> dict[str, Any]:
    """A task row with defaults; ``next_run_at`` is computed from ``now`` unless given."""
    now = fields.pop("now", datetime.now(UTC))
    row: dict[str, Any] = {
        "owner_sub": "user-1",
        "job_id": secrets.token_hex(8),
        "name": "water the plants",
        "hour": 8,
        "minute": 0,
        "execution_days": "MON,TUE,WED,THU,FRI,SAT,SUN",
        "time_zone": "UTC",
        "status": "ACT",
        "execute_until": None,
        "device_id": "pump-1",
        "device_operation": "ACTIVATE",
    }
    row.update(fields)
    if "next_run_at" not in row:
        schedule = Schedule(
            row["hour"],
            row["minute"],
            parse_days(row["execution_days"]),
            row["time_zone"],
            row["execute_until"],
            row["status"] == "ACT",
        )
        row["next_run_at"] = next_fire_time(schedule, now)
    return row


async def add_tasks(engine: AsyncEngine, rows: list[dict[str, Any]]) -> list[int]:
    async with engine.begin() as conn:
        result = await conn.execute(insert(Task).returning(Task.id), rows)
        return [row[0] for row in result]


async def add_task(engine: AsyncEngine, **fields: Any) -> int:
    return (await add_tasks(engine, [task_row(**fields)]))[0]


async def executions_of(engine: AsyncEngine, task_id: int | None = None) -> list[Any]:
    query = select(TaskExecution).order_by(TaskExecution.task_id, TaskExecution.scheduled_for)
    if task_id is not None:
        query = query.where(TaskExecution.task_id == task_id)
    async with engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def next_run_of(engine: AsyncEngine, task_id: int) -> datetime | None:
    async with engine.connect() as conn:
        value = (await conn.execute(select(Task.next_run_at).where(Task.id == task_id))).scalar_one()
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


async def eventually(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll ``predicate`` every 50 ms; fail with ``what`` after ``seconds``."""
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")
