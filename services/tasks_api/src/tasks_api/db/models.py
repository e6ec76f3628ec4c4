"""SQLAlchemy models. The schema itself is owned by the Alembic migrations under ``migrations/``."""

from __future__ import annotations

from datetime import datetime

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
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    owner_sub: Mapped[str] = mapped_column(String(128), nullable=False)
    job_id: Mapped[str] = mapped_column(String(31), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(60), nullable=False)
    description: Mapped[str | None] = mapped_column(String(255))
    hour: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    minute: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    # Normalised "MON,WED,FRI" in week order, as the original stored it.
    execution_days: Mapped[str] = mapped_column(String(27), nullable=False)
    execution_command: Mapped[str | None] = mapped_column(String(255))
    execute_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(3), nullable=False, default="ACT")
    device_id: Mapped[str | None] = mapped_column(String(30))
    device_operation: Mapped[str | None] = mapped_column(String(10))
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Bumped on every write; the ETag is derived from it.
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
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
