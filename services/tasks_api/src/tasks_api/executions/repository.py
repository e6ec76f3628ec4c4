"""The executor's SQL: claim due tasks and pending executions, record outcomes, list the history.

Claims use ``SELECT ... FOR UPDATE SKIP LOCKED`` so that replicas split the due rows instead of
queueing behind each other; SQLite (one process by definition) simply ignores the locking clause.
Every instant is written in UTC, and naive values read back from SQLite are taken to be UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfoNotFoundError

from sqlalchemy import Table, bindparam, case, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tasks_api.db.models import Task, TaskExecution, tasks_table
from tasks_api.domain.days import parse_days
from tasks_api.domain.misfire import SlotPlan, plan_slots
from tasks_api.domain.schedule import Schedule, as_utc
from tasks_api.executions.config import ExecutorConfig

CLAIMED, SUCCEEDED, FAILED, MISSED = "CLAIMED", "SUCCEEDED", "FAILED", "MISSED"

executions = cast(Table, TaskExecution.__table__)
tasks = tasks_table

Db = AsyncConnection | AsyncSession


@dataclass(frozen=True)
class Due:
    """One execution this process holds the lease on and must now perform."""

    execution_id: int
    task_id: int
    job_id: str
    task_name: str
    slot: datetime
    attempt: int
    device_id: str | None
    device_operation: str | None


@dataclass(frozen=True)
class ClaimOutcome:
    due: list[Due]
    rows: int  # rows locked and handled, whether or not they produced an execution to perform
    missed: int = 0


# --- the idle poll ----------------------------------------------------------------------------


async def next_wakeup(db: Db) -> datetime | None:
    """The earliest instant at which anything becomes due: a task slot, an expired lease, a retry.

    One statement: three ``ORDER BY ... LIMIT 1`` look-ups, each the first entry of an index.
    """
    first_task = (
        select(Task.next_run_at)
        .where(Task.next_run_at.is_not(None))
        .order_by(Task.next_run_at)
        .limit(1)
        .scalar_subquery()
    )

    def first_lease(status: str) -> Any:
        return (
            select(TaskExecution.lease_expires_at)
            .where(TaskExecution.status == status, TaskExecution.lease_expires_at.is_not(None))
            .order_by(TaskExecution.lease_expires_at)
            .limit(1)
            .scalar_subquery()
        )

    row = (await db.execute(select(first_task, first_lease(CLAIMED), first_lease(FAILED)))).one()
    found = [as_utc(value) for value in row if value is not None]
    return min(found) if found else None


# --- claiming due tasks -----------------------------------------------------------------------


def _schedule_of(row: Any) -> Schedule:
    return Schedule(
        hour=row.hour,
        minute=row.minute,
        days=parse_days(row.execution_days),
        time_zone=row.time_zone,
        execute_until=row.execute_until,
        active=row.status == "ACT",
    )


async def claim_due_tasks(db: Db, now: datetime, config: ExecutorConfig) -> ClaimOutcome:
    """Lock up to ``batch_size`` due tasks, record their executions and advance their ``next_run_at``.

    Run inside a transaction; the caller commits, and only then performs the effects.
    """
    rows = (
        await db.execute(
            # The whole row: its schedule and what the effect carries (a claim locks the whole row anyway).
            select(tasks)
            .where(Task.next_run_at <= now)
            .order_by(Task.next_run_at)
            .limit(config.batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not rows:
        return ClaimOutcome([], 0, 0)

    records: list[dict[str, Any]] = []
    advances: list[dict[str, Any]] = []
    by_task: dict[int, Any] = {}
    missed = 0
    lease_end = now + config.lease
    for row in rows:
        by_task[row.id] = row
        try:
            plan = plan_slots(
                _schedule_of(row), row.next_run_at, now, config.misfire_grace, config.max_missed_per_task
            )
        except (ValueError, ZoneInfoNotFoundError) as exc:
            # A row the API should never have written; record why it stops instead of looping on it.
            records.append(
                _record(row.id, as_utc(row.next_run_at), FAILED, now, error=f"invalid schedule: {exc}")
            )
            advances.append({"b_id": row.id, "b_next": None})
            continue
        missed += len(plan.missed)
        records.extend(_missed_records(row.id, plan, now, config))
        if plan.run is not None:
            records.append(
                _record(
                    row.id,
                    plan.run,
                    CLAIMED,
                    now,
                    attempts=1,
                    claimed_by=config.worker_id,
                    lease_expires_at=lease_end,
                    started_at=now,
                )
            )
        advances.append({"b_id": row.id, "b_next": plan.next_run_at})

    inserted = await _insert_new(db, records)
    await _advance(db, advances)
    due = [
        _due(by_task[r.task_id], r.task_id, r.id, as_utc(r.scheduled_for), 1)
        for r in inserted
        if r.status == CLAIMED
    ]
    return ClaimOutcome(due, len(rows), missed)


async def _advance(db: Db, advances: list[dict[str, Any]]) -> None:
    if _dialect(db) == "postgresql":
        # One statement for the whole batch instead of one UPDATE per task.
        await db.execute(
            text(
                "UPDATE tasks SET next_run_at = batch.next_run_at FROM"
                " unnest(CAST(:ids AS bigint[]), CAST(:slots AS timestamptz[])) AS batch(id, next_run_at)"
                " WHERE tasks.id = batch.id"
            ),
            {"ids": [a["b_id"] for a in advances], "slots": [a["b_next"] for a in advances]},
        )
        return
    await db.execute(
        update(tasks).where(tasks.c.id == bindparam("b_id")).values(next_run_at=bindparam("b_next")),
        advances,
    )


def _dialect(db: Db) -> str:
    bind = db.get_bind() if isinstance(db, AsyncSession) else db
    return bind.dialect.name


def _missed_records(task_id: int, plan: SlotPlan, now: datetime, config: ExecutorConfig) -> Iterable[dict]:
    grace = int(config.misfire_grace.total_seconds())
    for slot in plan.missed:
        error = f"missed: due {int((now - slot).total_seconds())} s earlier, grace is {grace} s"
        yield _record(task_id, slot, MISSED, now, error=error, finished_at=now)


def _record(task_id: int, slot: datetime, status: str, now: datetime, **fields: Any) -> dict[str, Any]:
    record = {
        "task_id": task_id,
        "scheduled_for": slot,
        "status": status,
        "attempts": 0,
        "claimed_by": None,
        "lease_expires_at": None,
        "next_attempt_at": None,
        "started_at": None,
        "finished_at": now if status == FAILED else None,
        "error": None,
    }
    record.update(fields)
    return record


async def _insert_new(db: Db, records: Sequence[dict[str, Any]]) -> list[Any]:
    """Insert execution rows, skipping any (task, slot) already recorded: the exactly-once key."""
    if not records:
        return []
    insert = postgresql.insert if _dialect(db) == "postgresql" else sqlite.insert
    statement = (
        insert(executions)
        .on_conflict_do_nothing(index_elements=["task_id", "scheduled_for"])
        .returning(executions.c.id, executions.c.task_id, executions.c.scheduled_for, executions.c.status)
    )
    # executemany with RETURNING: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues")
    # from one cached compiled statement.
    return list((await db.execute(statement, list(records))).all())


def _due(row: Any, task_id: int, execution_id: int, slot: datetime, attempt: int) -> Due:
    return Due(
        execution_id=execution_id,
        task_id=task_id,
        job_id=row.job_id,
        task_name=row.name,
        slot=slot,
        attempt=attempt,
        device_id=row.device_id,
        device_operation=row.device_operation,
    )


# --- taking over expired leases and due retries -----------------------------------------------


async def claim_pending_executions(db: Db, now: datetime, config: ExecutorConfig) -> ClaimOutcome:
    """Take over executions whose lease expired (their process died) or whose retry is due."""
    rows = (
        await db.execute(
            select(
                TaskExecution.id.label("execution_id"),
                TaskExecution.task_id,
                TaskExecution.scheduled_for,
                TaskExecution.attempts,
                TaskExecution.status,
                TaskExecution.claimed_by,
                Task.job_id,
                Task.name,
                Task.device_id,
                Task.device_operation,
            )
            .join(Task, Task.id == TaskExecution.task_id)
            .where(TaskExecution.status.in_((CLAIMED, FAILED)), TaskExecution.lease_expires_at <= now)
            .order_by(TaskExecution.lease_expires_at)
            .limit(config.batch_size)
            .with_for_update(skip_locked=True, of=executions)
        )
    ).all()
    exhausted = [row for row in rows if row.attempts >= config.max_attempts]
    retry = [row for row in rows if row.attempts < config.max_attempts]
    if exhausted:
        # Out of attempts: a row still CLAIMED was abandoned by a dead process, so say that.
        await db.execute(
            update(executions)
            .where(executions.c.id == bindparam("b_id"))
            .values(
                status=FAILED,
                lease_expires_at=None,
                next_attempt_at=None,
                finished_at=now,
                error=case((executions.c.status == CLAIMED, bindparam("b_error")), else_=executions.c.error),
            ),
            [
                {"b_id": row.execution_id, "b_error": f"abandoned by {row.claimed_by}: its lease expired"}
                for row in exhausted
            ],
        )
    if not retry:
        return ClaimOutcome([], len(rows))
    await db.execute(
        update(executions)
        .where(executions.c.id == bindparam("b_id"))
        .values(
            status=CLAIMED,
            attempts=executions.c.attempts + 1,
            claimed_by=config.worker_id,
            lease_expires_at=now + config.lease,
            next_attempt_at=None,
            started_at=now,
        ),
        [{"b_id": row.execution_id} for row in retry],
    )
    due = [
        _due(row, row.task_id, row.execution_id, as_utc(row.scheduled_for), row.attempts + 1) for row in retry
    ]
    return ClaimOutcome(due, len(rows))


# --- outcomes ---------------------------------------------------------------------------------


def _held_by(worker_id: str) -> Any:
    # Only the lease holder may close an execution: a late process must not overwrite a takeover.
    return (executions.c.status == CLAIMED) & (executions.c.claimed_by == worker_id)


async def mark_succeeded(db: Db, execution_ids: Sequence[int], now: datetime, config: ExecutorConfig) -> None:
    if not execution_ids:
        return
    await db.execute(
        update(executions)
        .where(executions.c.id.in_(list(execution_ids)), _held_by(config.worker_id))
        .values(status=SUCCEEDED, finished_at=now, lease_expires_at=None, next_attempt_at=None, error=None)
    )


async def mark_failed(
    db: Db, failures: Sequence[tuple[Due, str]], now: datetime, config: ExecutorConfig
) -> None:
    """FAILED with the error; while attempts remain, ``lease_expires_at`` doubles as the retry time."""
    if not failures:
        return
    params = []
    for due, error in failures:
        retry_at = now + config.retry_delay(due.attempt) if due.attempt < config.max_attempts else None
        params.append(
            {
                "b_id": due.execution_id,
                "b_error": error[:2000],
                "b_retry": retry_at,
                "b_finished": None if retry_at else now,
            }
        )
    await db.execute(
        update(executions)
        .where(executions.c.id == bindparam("b_id"), _held_by(config.worker_id))
        .values(
            status=FAILED,
            error=bindparam("b_error"),
            next_attempt_at=bindparam("b_retry"),
            lease_expires_at=bindparam("b_retry"),
            finished_at=bindparam("b_finished"),
        ),
        params,
    )


# --- the history, for the API -----------------------------------------------------------------


async def task_belongs_to(db: Db, task_id: int, owner_sub: str) -> bool:
    found = await db.execute(select(Task.id).where(Task.id == task_id, Task.owner_sub == owner_sub))
    return found.first() is not None


async def list_executions(
    db: Db, task_id: int, limit: int, before: tuple[datetime, int] | None = None
) -> list[Any]:
    """Newest slot first; ``before`` is the (slot, id) of the last row of the previous page."""
    query = select(
        TaskExecution.id,
        TaskExecution.task_id,
        TaskExecution.scheduled_for,
        TaskExecution.status,
        TaskExecution.attempts,
        TaskExecution.started_at,
        TaskExecution.finished_at,
        TaskExecution.error,
    ).where(TaskExecution.task_id == task_id)
    if before is not None:
        query = query.where(tuple_(TaskExecution.scheduled_for, TaskExecution.id) < tuple_(*before))
    query = query.order_by(TaskExecution.scheduled_for.desc(), TaskExecution.id.desc()).limit(limit)
    return list((await db.execute(query)).all())
