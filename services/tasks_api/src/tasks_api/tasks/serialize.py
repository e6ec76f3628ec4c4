"""A task's JSON document (TaskOut's shape) written from its stored values.

The PostgreSQL store has the database write the document (repository_pg); the SQLite store of ``make dev``
uses ``task_document``. Both write what ``TaskOut`` describes, field for field and in its order, with
datetimes as ISO 8601 in UTC with ``Z`` (tests compare all three on the same rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic_core import to_json

# (JSON name, column name) in TaskOut's order.
FIELDS = (
    ("id", "id"),
    ("jobId", "job_id"),
    ("name", "name"),
    ("description", "description"),
    ("hour", "hour"),
    ("minute", "minute"),
    ("executionDays", "execution_days"),
    ("executionCommand", "execution_command"),
    ("executeUntil", "execute_until"),
    ("timeZone", "time_zone"),
    ("status", "status"),
    ("deviceId", "device_id"),
    ("deviceOperation", "device_operation"),
    ("nextRunAt", "next_run_at"),
    ("createdAt", "created_at"),
    ("updatedAt", "updated_at"),
)
TIMESTAMP_COLUMNS = frozenset({"execute_until", "next_run_at", "created_at", "updated_at"})


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; they were stored as UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def task_document(values: Mapping[str, Any]) -> str:
    item = {key: _utc(values[col]) if col in TIMESTAMP_COLUMNS else values[col] for key, col in FIELDS}
    return to_json(item).decode()


def list_document(items: Sequence[str]) -> bytes:
    """The list body: the tasks' documents as one JSON array."""
    return ("[" + ",".join(items) + "]").encode()
