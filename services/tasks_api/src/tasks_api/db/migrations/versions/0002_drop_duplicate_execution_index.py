"""Drop ix_task_executions_task_slot_desc: the unique constraint's index has the same columns.

uq_task_executions_task_slot (task_id, scheduled_for) serves every look-up the plain index did, the
newest-first history included (PostgreSQL scans a B-tree either way); the copy cost a write per execution.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_task_executions_task_slot_desc", table_name="task_executions")


def downgrade() -> None:
    op.create_index("ix_task_executions_task_slot_desc", "task_executions", ["task_id", "scheduled_for"])
