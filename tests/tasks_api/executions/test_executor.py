"""The claim loop in one process on real Postgres, driven by a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from tasks_api.db.models import Task
from tasks_api.executions import repository as repo
from tasks_api.executions.clock import FakeClock
from tasks_api.executions.config import ExecutorConfig
from tasks_api.executions.executor import Executor
from tasks_api.executions.repository import Due

from tests.support.postgres import ThrowawayPostgres
from tests.tasks_api.executions.conftest import (
    add_task,
    add_tasks,
    eventually,
    executions_of,
    next_run_of,
    task_row,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


class RecordingEffects:
    """Records each performed execution; fails the first ``failures`` attempts of every execution."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.performed: list[Due] = []

    async def perform(self, batch: Sequence[Due]) -> dict[int, str]:
        self.performed.extend(batch)
        return {
            due.execution_id: f"device offline (attempt {due.attempt})"
            for due in batch
            if due.attempt <= self.failures
        }


def make_executor(
    engine: AsyncEngine, clock: FakeClock, effects: RecordingEffects | None = None, **config: object
) -> tuple[Executor, RecordingEffects]:
    effects = effects or RecordingEffects()
    settings = {"worker_id": "test-worker", "misfire_grace": timedelta(seconds=60)} | config
    return Executor(engine, ExecutorConfig(**settings), effects, clock), effects  # type: ignore[arg-type]


async def simulate(executor: Executor, clock: FakeClock, end: datetime, step: timedelta) -> None:
    """Move the fake clock to ``end``, stopping at every grid step and one second after anything due."""
    while clock.now() < end:
        await executor.run_once()
        async with executor.engine.connect() as conn:
            earliest = await repo.next_wakeup(conn)
        target = clock.now() + step
        if earliest is not None and clock.now() < earliest + timedelta(seconds=1) < target:
            target = earliest + timedelta(seconds=1)
        clock.set(min(target, end))
    await executor.run_once()


async def test_a_due_task_runs_once_and_moves_to_its_next_slot(engine: AsyncEngine) -> None:
    clock = FakeClock(utc(2024, 6, 4, 7, 0))
    task_id = await add_task(engine, hour=8, minute=0, now=clock.now())
    executor, effects = make_executor(engine, clock)

    await executor.run_once()
    assert effects.performed == []  # not due yet

    clock.set(utc(2024, 6, 4, 8, 0, 1))
    await executor.run_once()
    await executor.run_once()

    [execution] = await executions_of(engine, task_id)
    assert (execution.status, execution.attempts, execution.error) == ("SUCCEEDED", 1, None)
    assert execution.scheduled_for == utc(2024, 6, 4, 8, 0)
    assert execution.finished_at == clock.now()
    assert execution.lease_expires_at is None
    assert await next_run_of(engine, task_id) == utc(2024, 6, 5, 8, 0)
    [due] = effects.performed
    assert (due.task_id, due.slot, due.device_id, due.device_operation) == (
        task_id,
        utc(2024, 6, 4, 8, 0),
        "pump-1",
        "ACTIVATE",
    )


async def test_idle_pass_sleeps_until_the_next_slot_at_most_the_poll_interval(engine: AsyncEngine) -> None:
    clock = FakeClock(utc(2024, 6, 4, 7, 59, 59, 500000))
    await add_task(engine, hour=8, minute=0, now=clock.now())
    executor, _ = make_executor(engine, clock, poll_interval=5.0)
    assert await executor.run_once() == pytest.approx(0.5)
    clock.set(utc(2024, 6, 4, 6, 0))
    assert await executor.run_once() == pytest.approx(5.0)


async def test_late_within_grace_still_runs(engine: AsyncEngine) -> None:
    clock = FakeClock(utc(2024, 6, 4, 7, 0))
    task_id = await add_task(engine, now=clock.now())
    executor, effects = make_executor(engine, clock)
    clock.set(utc(2024, 6, 4, 8, 0, 59))
    await executor.run_once()
    assert [e.status for e in await executions_of(engine, task_id)] == ["SUCCEEDED"]
    assert len(effects.performed) == 1


async def test_downtime_longer_than_grace_records_missed_slots_without_a_burst(engine: AsyncEngine) -> None:
    clock = FakeClock(utc(2024, 6, 4, 7, 0))
    task_ids = await add_tasks(engine, [task_row(hour=8, minute=m, now=clock.now()) for m in range(5)])
    executor, effects = make_executor(engine, clock)

    # Every replica was down from before 08:00 on the 4th until 08:30 on the 6th.
    clock.set(utc(2024, 6, 6, 8, 30))
    await executor.run_once()
    await executor.run_once()

    assert effects.performed == []  # nothing runs late
    for task_id in task_ids:
        executions = await executions_of(engine, task_id)
        assert [e.status for e in executions] == ["MISSED"] * 3
        assert [e.scheduled_for.date().day for e in executions] == [4, 5, 6]
        assert all(e.error.startswith("missed") for e in executions)
        assert await next_run_of(engine, task_id) == utc(2024, 6, 7, 8, task_ids.index(task_id))

    # The following day they run normally, once each.
    await simulate(executor, clock, utc(2024, 6, 7, 9, 0), timedelta(minutes=10))
    assert sorted(d.task_id for d in effects.performed) == task_ids


async def test_a_failed_effect_is_retried_with_backoff_until_it_succeeds(engine: AsyncEngine) -> None:
    clock = FakeClock(utc(2024, 6, 4, 7, 0))
    task_id = await add_task(engine, now=clock.now())
    executor, effects = make_executor(engine, clock, RecordingEffects(failures=2), max_attempts=3)

    clock.set(utc(2024, 6, 4, 8, 0, 1))
    await executor.run_once()
    [execution] = await executions_of(engine, task_id)
    assert (execution.status, execution.attempts, execution.error) == (
        "FAILED",
        1,
        "device offline (attempt 1)",
    )
    assert execution.next_attempt_at == clock.now() + timedelta(seconds=2)
    assert execution.finished_at is None

    await executor.run_once()  # the retry is not due yet
    assert len(effects.performed) == 1

    clock.advance(timedelta(seconds=2))
    await executor.run_once()
    [execution] = await executions_of(engine, task_id)
    assert (execution.status, execution.attempts) == ("FAILED", 2)
    assert execution.next_attempt_at == clock.now() + timedelta(seconds=4)  # doubled

    clock.advance(timedelta(seconds=4))
    await executor.run_once()
    [execution] = await executions_of(engine, task_id)
    assert (execution.status, execution.attempts, execution.error) == ("SUCCEEDED", 3, None)
    assert [d.attempt for d in effects.performed] == [1, 2, 3]


async def test_a_failing_effect_stops_after_max_attempts(engine: AsyncEngine) -> None:
    clock = FakeClock(utc(2024, 6, 4, 7, 0))
    task_id = await add_task(engine, now=clock.now())
    executor, effects = make_executor(engine, clock, RecordingEffects(failures=99), max_attempts=3)
    clock.set(utc(2024, 6, 4, 8, 0, 1))
    for _ in range(6):
        await executor.run_once()
        clock.advance(timedelta(minutes=1))
    [execution] = await executions_of(engine, task_id)
    assert (execution.status, execution.attempts) == ("FAILED", 3)
    assert execution.error == "device offline (attempt 3)"
    assert execution.next_attempt_at is None
    assert execution.finished_at is not None
    assert len(effects.performed) == 3


async def test_an_effect_that_raises_fails_the_execution(engine: AsyncEngine) -> None:
    class Broken:
        async def perform(self, batch: Sequence[Due]) -> dict[int, str]:
            raise RuntimeError("boom")

    clock = FakeClock(utc(2024, 6, 4, 7, 0))
    task_id = await add_task(engine, now=clock.now())
    executor = Executor(engine, ExecutorConfig(worker_id="w"), Broken(), clock)
    clock.set(utc(2024, 6, 4, 8, 0, 1))
    await executor.run_once()
    [execution] = await executions_of(engine, task_id)
    assert (execution.status, execution.error) == ("FAILED", "effect raised RuntimeError: boom")


async def test_an_expired_lease_is_taken_over_by_another_worker(engine: AsyncEngine) -> None:
    clock = FakeClock(utc(2024, 6, 4, 7, 0))
    task_id = await add_task(engine, now=clock.now())
    clock.set(utc(2024, 6, 4, 8, 0, 1))
    # A worker claims the slot and dies before performing it.
    dead = ExecutorConfig(worker_id="dead-worker", lease=timedelta(seconds=30))
    async with engine.begin() as conn:
        outcome = await repo.claim_due_tasks(conn, clock.now(), dead)
    assert len(outcome.due) == 1

    survivor, effects = make_executor(engine, clock)
    await survivor.run_once()
    assert effects.performed == []  # the lease still holds
    [execution] = await executions_of(engine, task_id)
    assert (execution.status, execution.claimed_by) == ("CLAIMED", "dead-worker")

    clock.advance(timedelta(seconds=31))
    await survivor.run_once()
    [execution] = await executions_of(engine, task_id)
    assert (execution.status, execution.attempts, execution.claimed_by) == ("SUCCEEDED", 2, "test-worker")
    assert [d.slot for d in effects.performed] == [utc(2024, 6, 4, 8, 0)]
    # The dead worker coming back late cannot overwrite the takeover's outcome.
    async with engine.begin() as conn:
        await repo.mark_failed(conn, [(outcome.due[0], "late")], clock.now(), dead)
    [execution] = await executions_of(engine, task_id)
    assert execution.status == "SUCCEEDED"


async def test_a_lease_that_expires_on_the_last_attempt_fails_as_abandoned(engine: AsyncEngine) -> None:
    clock = FakeClock(utc(2024, 6, 4, 7, 0))
    task_id = await add_task(engine, now=clock.now())
    clock.set(utc(2024, 6, 4, 8, 0, 1))
    dead = ExecutorConfig(worker_id="dead-worker", lease=timedelta(seconds=30), max_attempts=1)
    async with engine.begin() as conn:
        await repo.claim_due_tasks(conn, clock.now(), dead)
    survivor, effects = make_executor(engine, clock, max_attempts=1)
    clock.advance(timedelta(seconds=31))
    await survivor.run_once()
    [execution] = await executions_of(engine, task_id)
    assert execution.status == "FAILED"
    assert execution.error == "abandoned by dead-worker: its lease expired"
    assert effects.performed == []


@pytest.mark.parametrize(
    ("zone", "hour", "minute", "start", "end", "expected"),
    [
        # Spring forward: 02:30 does not exist on 2024-03-10 and fires at 03:00 EDT.
        (
            "America/New_York",
            2,
            30,
            utc(2024, 3, 9, 0),
            utc(2024, 3, 12, 0),
            [utc(2024, 3, 9, 7, 30), utc(2024, 3, 10, 7, 0), utc(2024, 3, 11, 6, 30)],
        ),
        # Fall back: 01:30 happens twice on 2024-11-03 and fires once.
        (
            "America/New_York",
            1,
            30,
            utc(2024, 11, 2, 0),
            utc(2024, 11, 5, 0),
            [utc(2024, 11, 2, 5, 30), utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)],
        ),
        (
            "Europe/Berlin",
            2,
            30,
            utc(2024, 3, 30, 0),
            utc(2024, 4, 2, 0),
            [utc(2024, 3, 30, 1, 30), utc(2024, 3, 31, 1, 0), utc(2024, 4, 1, 0, 30)],
        ),
        (
            "Europe/Berlin",
            2,
            30,
            utc(2024, 10, 26, 0),
            utc(2024, 10, 29, 0),
            [utc(2024, 10, 26, 0, 30), utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)],
        ),
    ],
)
async def test_dst_transitions(
    engine: AsyncEngine,
    zone: str,
    hour: int,
    minute: int,
    start: datetime,
    end: datetime,
    expected: list[datetime],
) -> None:
    clock = FakeClock(start)
    task_id = await add_task(engine, hour=hour, minute=minute, time_zone=zone, now=start)
    executor, effects = make_executor(engine, clock)
    await simulate(executor, clock, end, timedelta(minutes=10))
    executions = await executions_of(engine, task_id)
    assert [e.scheduled_for for e in executions] == expected
    assert {e.status for e in executions} == {"SUCCEEDED"}
    assert [d.slot for d in effects.performed] == expected


async def test_execute_until_reached_stops_the_task(engine: AsyncEngine) -> None:
    clock = FakeClock(utc(2024, 6, 4, 0))
    task_id = await add_task(engine, execute_until=utc(2024, 6, 5, 8, 0), now=clock.now())  # inclusive
    executor, _ = make_executor(engine, clock)
    await simulate(executor, clock, utc(2024, 6, 9), timedelta(hours=1))
    assert [e.scheduled_for for e in await executions_of(engine, task_id)] == [
        utc(2024, 6, 4, 8),
        utc(2024, 6, 5, 8),
    ]
    assert await next_run_of(engine, task_id) is None


async def test_an_inactive_task_never_fires(engine: AsyncEngine) -> None:
    clock = FakeClock(utc(2024, 6, 4, 0))
    inactive = await add_task(engine, status="INA", now=clock.now())
    # Even with a stale next_run_at left behind, INA does not fire and the slot is cleared.
    stale = await add_task(engine, status="INA", next_run_at=utc(2024, 6, 4, 8), now=clock.now())
    executor, effects = make_executor(engine, clock)
    await simulate(executor, clock, utc(2024, 6, 7), timedelta(hours=1))
    assert effects.performed == []
    assert await executions_of(engine) == []
    assert await next_run_of(engine, inactive) is None
    assert await next_run_of(engine, stale) is None


async def test_a_task_made_inactive_after_its_claim_is_not_run_again(engine: AsyncEngine) -> None:
    clock = FakeClock(utc(2024, 6, 4, 0))
    task_id = await add_task(engine, now=clock.now())
    executor, effects = make_executor(engine, clock)
    await simulate(executor, clock, utc(2024, 6, 4, 9), timedelta(hours=1))
    async with engine.begin() as conn:
        await conn.execute(update(Task).where(Task.id == task_id).values(status="INA", next_run_at=None))
    await simulate(executor, clock, utc(2024, 6, 7), timedelta(hours=1))
    assert len(effects.performed) == 1


async def test_an_invalid_stored_schedule_is_recorded_and_stopped(engine: AsyncEngine) -> None:
    clock = FakeClock(utc(2024, 6, 4, 8, 0, 1))
    task_id = await add_task(engine, time_zone="Mars/Olympus", next_run_at=utc(2024, 6, 4, 8))
    executor, effects = make_executor(engine, clock)
    await executor.run_once()
    [execution] = await executions_of(engine, task_id)
    assert execution.status == "FAILED"
    assert execution.error.startswith("invalid schedule")
    assert await next_run_of(engine, task_id) is None
    assert effects.performed == []


async def test_many_due_tasks_are_claimed_in_batches(engine: AsyncEngine) -> None:
    clock = FakeClock(utc(2024, 6, 4, 7, 0))
    ids = await add_tasks(engine, [task_row(now=clock.now()) for _ in range(250)])
    executor, effects = make_executor(engine, clock, batch_size=40)
    clock.set(utc(2024, 6, 4, 8, 0, 1))
    await executor.run_once()
    assert sorted(d.task_id for d in effects.performed) == ids
    assert len(await executions_of(engine)) == 250


async def test_the_loop_wakes_early_for_a_sooner_task_and_stops_cleanly(engine: AsyncEngine) -> None:
    # A real clock and a long poll interval: only the wake-up can make the task run promptly.
    effects = RecordingEffects()
    executor = Executor(engine, ExecutorConfig(worker_id="w", poll_interval=3600), effects)
    executor.start()
    try:
        await asyncio.sleep(0.2)  # let the first pass plan its hour-long sleep
        due = datetime.now(UTC) + timedelta(milliseconds=300)
        await add_task(engine, next_run_at=due)
        executor.wake_if_sooner(due)
        await eventually(lambda: bool(effects.performed), 20, "the early wake-up")
    finally:
        await executor.stop()
    assert executor._task is None
    [execution] = await executions_of(engine)
    assert execution.status == "SUCCEEDED"


async def test_the_loop_survives_a_database_outage(
    postgres_server: ThrowawayPostgres, engine: AsyncEngine
) -> None:
    if not postgres_server.can_restart:
        pytest.skip("needs a server this test can stop")
    effects = RecordingEffects()
    executor = Executor(engine, ExecutorConfig(worker_id="w", poll_interval=0.1), effects)
    executor.start()
    try:
        await asyncio.to_thread(postgres_server.pg_stop)
        try:
            await eventually(lambda: executor.stats.errors > 0, 20, "a failed pass")
        finally:
            await asyncio.to_thread(postgres_server.pg_start)
        await add_task(engine, next_run_at=datetime.now(UTC))
        await eventually(lambda: bool(effects.performed), 60, "the run after the outage")
    finally:
        await executor.stop()
    assert len(effects.performed) == 1


async def test_an_idle_pass_is_one_statement_and_the_claim_can_use_the_due_index(engine: AsyncEngine) -> None:
    clock = FakeClock(utc(2024, 6, 4, 0))
    await add_tasks(engine, [task_row(now=clock.now()) for _ in range(50)])
    executor, _ = make_executor(engine, clock)
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await executor.run_once()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    [statement] = [s for s in statements if not s.strip().upper().startswith(("BEGIN", "ROLLBACK", "COMMIT"))]
    assert "ORDER BY tasks.next_run_at" in statement

    async with engine.connect() as conn:
        await conn.execute(text("SET enable_seqscan = off"))
        plan = (
            (
                await conn.execute(
                    text(
                        "EXPLAIN SELECT id FROM tasks WHERE next_run_at <= now()"
                        " ORDER BY next_run_at LIMIT 100 FOR UPDATE SKIP LOCKED"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert any("ix_tasks_due" in line for line in plan), plan
