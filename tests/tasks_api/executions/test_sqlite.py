"""The embedded SQLite default: one process runs the same claim loop (no SKIP LOCKED needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tasks_api.db.engine import create_engine
from tasks_api.executions.clock import FakeClock
from tasks_api.executions.config import ExecutorConfig
from tasks_api.executions.executor import Executor
from tasks_api.settings import Settings

from tests.tasks_api.executions.conftest import add_task, create_schema, executions_of, next_run_of
from tests.tasks_api.executions.test_executor import RecordingEffects, simulate


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    settings = Settings(sqlite_path=tmp_path / "dev" / "tasks.db", database_url=None, db_secret=None)
    assert settings.is_sqlite
    engine = create_engine(settings)
    await create_schema(engine)
    yield engine
    await engine.dispose()


async def test_sqlite_runs_due_tasks_records_misses_and_retries(sqlite_engine: AsyncEngine) -> None:
    clock = FakeClock(utc(2024, 3, 9, 0))
    ok = await add_task(sqlite_engine, hour=2, minute=30, time_zone="America/New_York", now=clock.now())
    flaky = await add_task(sqlite_engine, hour=9, minute=0, now=clock.now())
    effects = RecordingEffects(failures=1)
    executor = Executor(sqlite_engine, ExecutorConfig(worker_id="solo"), effects, clock)

    await simulate(executor, clock, utc(2024, 3, 11, 0), timedelta(minutes=10))

    assert [(e.scheduled_for, e.status) for e in await executions_of(sqlite_engine, ok)] == [
        (datetime(2024, 3, 9, 7, 30), "SUCCEEDED"),  # SQLite hands back naive UTC
        (datetime(2024, 3, 10, 7, 0), "SUCCEEDED"),  # 02:30 did not exist: 03:00 EDT
    ]
    flaky_runs = await executions_of(sqlite_engine, flaky)
    assert [(e.status, e.attempts) for e in flaky_runs] == [("SUCCEEDED", 2), ("SUCCEEDED", 2)]
    assert await next_run_of(sqlite_engine, ok) == utc(2024, 3, 11, 6, 30)

    # Two days of downtime: missed, not run late.
    performed = len(effects.performed)
    clock.set(utc(2024, 3, 13, 12))
    await executor.run_once()
    assert len(effects.performed) == performed
    missed = [e for e in await executions_of(sqlite_engine, ok) if e.status == "MISSED"]
    assert len(missed) == 3
