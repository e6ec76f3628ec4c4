"""Three real executor processes on one Postgres database: exactly-once records, takeover, misfires."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from tasks_api.db.models import Task, TaskExecution

from tests.tasks_api.executions.conftest import add_tasks, task_row
from tests.tasks_api.executions.processes import WorkerPool

pytestmark = pytest.mark.slow


@pytest.fixture
def pool(postgres_url: str, tmp_path: Path) -> Iterator[WorkerPool]:
    pool = WorkerPool(postgres_url, tmp_path)
    yield pool
    pool.stop()


async def count(engine: AsyncEngine, *where: object) -> int:
    async with engine.connect() as conn:
        return (
            await conn.execute(select(func.count()).select_from(TaskExecution).where(*where))
        ).scalar_one()


async def wait_for(engine: AsyncEngine, what: str, seconds: float, *where: object, expected: int) -> None:
    for _ in range(int(seconds / 0.1)):
        if await count(engine, *where) >= expected:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: {await count(engine, *where)} of {expected} after {seconds} s")


def tasks_due_now(n: int, minutes_ago: float = 0) -> list[dict[str, object]]:
    """``n`` daily tasks whose slot is the current UTC minute (or one ``minutes_ago`` earlier)."""
    slot = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).replace(second=0, microsecond=0)
    return [task_row(hour=slot.hour, minute=slot.minute, next_run_at=slot) for _ in range(n)]


async def test_three_processes_run_500_tasks_of_one_minute_exactly_once(
    engine: AsyncEngine, pool: WorkerPool
) -> None:
    pool.env.update({"SCHEDULER_BATCH_SIZE": "20", "SCHEDULER_MISFIRE_GRACE": "300"})
    # A short pause in each batch's effect keeps one worker from draining all 25 batches between two polls
    # of the others on a quiet machine, so the run really is shared (asserted below).
    pool.start(3, "--effect-delay", "0.3")
    task_ids = await add_tasks(engine, tasks_due_now(500))

    await wait_for(engine, "succeeded", 120, TaskExecution.status == "SUCCEEDED", expected=500)
    pool.stop()

    async with engine.connect() as conn:
        rows = (await conn.execute(select(TaskExecution.task_id, TaskExecution.scheduled_for))).all()
        workers = (
            await conn.execute(select(func.count(func.distinct(TaskExecution.claimed_by))))
        ).scalar_one()
        advanced = (
            await conn.execute(
                select(func.count()).select_from(Task).where(Task.next_run_at > datetime.now(UTC))
            )
        ).scalar_one()
    assert len(rows) == 500
    assert len(set(rows)) == 500
    assert sorted(task_id for task_id, _ in rows) == task_ids
    assert advanced == 500  # every task moved to tomorrow
    # Each effect ran once, and the work was shared.
    executed = pool.events("task_executed")
    assert sorted(line["task_id"] for line in executed) == task_ids
    assert workers >= 2


async def test_a_killed_process_leaves_its_claims_to_the_others(
    engine: AsyncEngine, pool: WorkerPool
) -> None:
    pool.env.update(
        {"SCHEDULER_BATCH_SIZE": "10", "SCHEDULER_LEASE_SECONDS": "5", "SCHEDULER_MISFIRE_GRACE": "300"}
    )
    [victim] = pool.start(1, "--effect-delay", "30")  # claims, then hangs inside the effect
    task_ids = await add_tasks(engine, tasks_due_now(60))
    held_by_victim = TaskExecution.claimed_by.like(f"%:{victim.pid}:%")
    await wait_for(
        engine, "victim's claims", 30, held_by_victim, TaskExecution.status == "CLAIMED", expected=1
    )
    pool.start(2, "--effect-delay", "0.2")
    await asyncio.sleep(0.5)  # the survivors are now claiming the rest
    victim.kill()
    victim.wait(timeout=10)

    await wait_for(engine, "succeeded", 90, TaskExecution.status == "SUCCEEDED", expected=60)
    pool.stop()

    async with engine.connect() as conn:
        rows = (await conn.execute(select(TaskExecution))).all()
    assert sorted(row.task_id for row in rows) == task_ids
    assert {row.status for row in rows} == {"SUCCEEDED"}
    taken_over = [row for row in rows if row.attempts == 2]
    assert taken_over, "the victim's claimed executions should have been retried after the lease"
    assert all(f":{victim.pid}:" not in row.claimed_by for row in rows)
    assert pool.events("task_executed")  # the survivors performed the effects
    assert {line["task_id"] for line in pool.events("task_executed")} == set(task_ids)


async def test_downtime_longer_than_the_grace_records_missed_and_runs_nothing(
    engine: AsyncEngine, pool: WorkerPool
) -> None:
    # Every replica was down for the last ten minutes: the slots are ten minutes old.
    task_ids = await add_tasks(engine, tasks_due_now(100, minutes_ago=10))
    pool.env.update({"SCHEDULER_MISFIRE_GRACE": "60"})
    pool.start(3)
    await wait_for(engine, "missed", 60, TaskExecution.status == "MISSED", expected=100)
    await asyncio.sleep(1.0)  # give a wrong implementation the time to burst
    pool.stop()

    async with engine.connect() as conn:
        rows = (await conn.execute(select(TaskExecution))).all()
        upcoming = (await conn.execute(select(Task.next_run_at))).scalars().all()
    assert sorted(row.task_id for row in rows) == task_ids
    assert {row.status for row in rows} == {"MISSED"}
    assert pool.events("task_executed") == []
    now = datetime.now(UTC)
    assert all(timedelta(hours=23) < slot - now < timedelta(hours=24) for slot in upcoming)
