"""Tasks and their executions.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column("owner_sub", sa.String(128), nullable=False),
        sa.Column("job_id", sa.String(31), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("minute", sa.SmallInteger(), nullable=False),
        sa.Column("execution_days", sa.String(27), nullable=False),
        sa.Column("execution_command", sa.String(255), nullable=True),
        sa.Column("execute_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("status", sa.String(3), nullable=False),
        sa.Column("device_id", sa.String(30), nullable=True),
        sa.Column("device_operation", sa.String(10), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("hour BETWEEN 0 AND 23", name=op.f("ck_tasks_hour_range")),
        sa.CheckConstraint("minute BETWEEN 0 AND 59", name=op.f("ck_tasks_minute_range")),
        sa.CheckConstraint("status IN ('ACT', 'INA')", name=op.f("ck_tasks_status_values")),
        sa.CheckConstraint(
            "device_operation IN ('ACTIVATE', 'DEACTIVATE')", name=op.f("ck_tasks_device_operation_values")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("job_id", name=op.f("uq_tasks_job_id")),
    )
    op.create_index("ix_tasks_owner_time", "tasks", ["owner_sub", "hour", "minute", "id"])
    op.create_index(
        "ix_tasks_due", "tasks", ["next_run_at"], postgresql_where=sa.text("next_run_at IS NOT NULL")
    )

    op.create_table(
        "task_executions",
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column("task_id", BigIntId, nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('CLAIMED', 'SUCCEEDED', 'FAILED', 'MISSED')",
            name=op.f("ck_task_executions_status_values"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_executions_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_executions")),
        sa.UniqueConstraint("task_id", "scheduled_for", name="uq_task_executions_task_slot"),
    )
    op.create_index("ix_task_executions_task_slot_desc", "task_executions", ["task_id", "scheduled_for"])
    op.create_index(
        "ix_task_executions_pending",
        "task_executions",
        ["status", "lease_expires_at"],
        postgresql_where=sa.text("status IN ('CLAIMED', 'FAILED')"),
    )


def downgrade() -> None:
    op.drop_index("ix_task_executions_pending", table_name="task_executions")
    op.drop_index("ix_task_executions_task_slot_desc", table_name="task_executions")
    op.drop_table("task_executions")
    op.drop_index("ix_tasks_due", table_name="tasks")
    op.drop_index("ix_tasks_owner_time", table_name="tasks")
    op.drop_table("tasks")
