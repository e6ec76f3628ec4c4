"""SQLAlchemy models. The schema itself is owned by the Alembic migrations under ``migrations/``.

``Task`` is the one definition of a task's fields. Each column says, in ``info``, who writes it (``Access``);
everything else that lists a task's fields is derived from these columns in their order: the API's models
(``tasks/schemas.py``), the columns a write carries (``tasks/repository.py``), the JSON document the database
writes and the statements that read and write a task (``tasks/statements.py``). The table is the source
because it is the one definition that must exist anyway, with its migration, and it already holds what the
wire needs to know (type, length, nullability, default); ``tasks/schemas.py`` adds the rules a column cannot
state (ranges, allowed values, documentation). Adding a field is a column here plus its migration;
``tests/tasks_api/db/test_migrations.py`` proves the two agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.schema import Column

# Explicit names keep migrations stable across databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on Postgres, INTEGER on SQLite (so that SQLite's rowid autoincrement works).
BigIntId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Access(StrEnum):
    """Who writes a task column, and so where it appears."""

    CLIENT = "client"  # the client, through the API's write bodies; on the wire
    SERVICE = "service"  # the service, on every write (nextRunAt); read-only on the wire
    STORE = "store"  # the store, as it inserts or updates the row (id, job id, times); read-only on the wire
    PRIVATE = "private"  # the store, for its own bookkeeping (owner, version); never on the wire


CLIENT, SERVICE, STORE, PRIVATE = Access


def written_by(access: Access) -> dict[str, Any]:
    """A column's ``info``: who writes it."""
    return {"access": access}


def access_of(column: Column[Any]) -> Access:
    try:
        return cast(Access, column.info["access"])
    except KeyError:
        raise LookupError(f"column {column.name} does not say who writes it: info=written_by(...)") from None


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True, info=written_by(STORE))
    owner_sub: Mapped[str] = mapped_column(String(128), nullable=False, info=written_by(PRIVATE))
    job_id: Mapped[str] = mapped_column(String(31), nullable=False, unique=True, info=written_by(STORE))
    name: Mapped[str] = mapped_column(String(60), nullable=False, info=written_by(CLIENT))
    description: Mapped[str | None] = mapped_column(String(255), info=written_by(CLIENT))
    hour: Mapped[int] = mapped_column(SmallInteger, nullable=False, info=written_by(CLIENT))
    minute: Mapped[int] = mapped_column(SmallInteger, nullable=False, info=written_by(CLIENT))
    # Normalised "MON,WED,FRI" in week order, as the original stored it.
    execution_days: Mapped[str] = mapped_column(String(27), nullable=False, info=written_by(CLIENT))
    execution_command: Mapped[str | None] = mapped_column(String(255), info=written_by(CLIENT))
    execute_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), info=written_by(CLIENT))
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False, info=written_by(CLIENT))
    status: Mapped[str] = mapped_column(String(3), nullable=False, default="ACT", info=written_by(CLIENT))
    device_id: Mapped[str | None] = mapped_column(String(30), info=written_by(CLIENT))
    device_operation: Mapped[str | None] = mapped_column(String(10), info=written_by(CLIENT))
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), info=written_by(SERVICE))
    # Bumped on every write; the ETag is derived from it.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, info=written_by(PRIVATE))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), info=written_by(STORE)
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), info=written_by(STORE)
    )

    __table_args__ = (
        CheckConstraint("hour BETWEEN 0 AND 23", name="hour_range"),
        CheckConstraint("minute BETWEEN 0 AND 59", name="minute_range"),
        CheckConstraint("status IN ('ACT', 'INA')", name="status_values"),
        CheckConstraint("device_operation IN ('ACTIVATE', 'DEACTIVATE')", name="device_operation_values"),
        # The list is always read per owner, in time order.
        Index("ix_tasks_owner_time", "owner_sub", "hour", "minute", "id"),
        # The scheduler's idle poll: one indexed query for the earliest due active task.
        Index("ix_tasks_due", "next_run_at", postgresql_where="next_run_at IS NOT NULL"),
    )


tasks_table = cast(Table, Task.__table__)


def task_columns(*access: Access) -> list[Column[Any]]:
    """The task's columns written by any of ``access``, in the table's order."""
    return [column for column in tasks_table.columns if access_of(column) in access]


def column_names(columns: Iterable[Column[Any]]) -> tuple[str, ...]:
    return tuple(column.name for column in columns)


class TaskExecution(Base):
    __tablename__ = "task_executions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(BigIntId, ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False)
    # The slot the task was scheduled for (UTC); with task_id it is the exactly-once key.
    scheduled_for: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # CLAIMED -> SUCCEEDED | FAILED (retried while attempts remain) ; MISSED when past the misfire grace.
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("task_id", "scheduled_for", name="uq_task_executions_task_slot"),
        CheckConstraint("status IN ('CLAIMED', 'SUCCEEDED', 'FAILED', 'MISSED')", name="status_values"),
        # Takeover and retry scans look only at unfinished rows.
        Index(
            "ix_task_executions_pending",
            "status",
            "lease_expires_at",
            postgresql_where="status IN ('CLAIMED', 'FAILED')",
        ),
    )
