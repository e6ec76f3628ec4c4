"""The task list's JSON, written directly from database rows.

The list is the hottest route; a pydantic model per row cost more than the query. This writes the same
document ``TaskOut`` describes (a test compares the two on the same rows), field for field, with
pydantic-core's JSON encoder (compiled; datetimes as ISO 8601 with ``Z`` for UTC, as ``TaskOut`` writes them).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from operator import itemgetter
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
_KEYS = tuple(key for key, _ in FIELDS)
_DATES = tuple(
    key for key, col in FIELDS if col in {"execute_until", "next_run_at", "created_at", "updated_at"}
)


def task_list_json(rows: Sequence[Any]) -> bytes:
    """``rows``: result rows (tuples with ``_fields``, as SQLAlchemy's ``Row``) holding at least FIELDS."""
    if not rows:
        return b"[]"
    names = rows[0]._fields
    pick = itemgetter(*(names.index(col) for _, col in FIELDS))
    items = [dict(zip(_KEYS, pick(row), strict=True)) for row in rows]
    if items[0]["createdAt"].tzinfo is None:  # SQLite hands back naive datetimes, stored as UTC
        for item in items:
            for key in _DATES:
                value: datetime | None = item[key]
                if value is not None and value.tzinfo is None:
                    item[key] = value.replace(tzinfo=UTC)
    return to_json(items)
