"""A task's JSON document (TaskOut's shape) written from its stored values.

The PostgreSQL store has the database write the document (repository_pg); the SQLite store of ``make dev``
uses ``task_document``. Both write what ``TaskOut`` describes, field for field and in its order, with
datetimes as ISO 8601 in UTC with ``Z`` (tests compare all three on the same rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic_core import to_json

from tasks_api.domain.schedule import as_utc

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


def _wire(column: str, value: Any) -> Any:
    # SQLite hands back naive datetimes, stored as UTC.
    return as_utc(value) if column in TIMESTAMP_COLUMNS and value is not None else value


def task_document(values: Mapping[str, Any]) -> str:
    return to_json({key: _wire(col, values[col]) for key, col in FIELDS}).decode()


def list_document(items: Sequence[str]) -> bytes:
    """The list body: the tasks' documents as one JSON array."""
    return ("[" + ",".join(items) + "]").encode()
