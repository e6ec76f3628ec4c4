"""The task list's JSON, written directly from database rows.

The list is the hottest route; a pydantic model per row cost more than the query. This writes the same
document ``TaskOut`` describes (a test compares the two on the same rows), field for field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

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
_DATES = frozenset({"execute_until", "next_run_at", "created_at", "updated_at"})
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite: stored as UTC
        value = value.replace(tzinfo=UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def task_list_json(rows: Iterable[Any]) -> bytes:
    items = []
    for row in rows:
        mapping = row._mapping
        items.append({key: _instant(mapping[col]) if col in _DATES else mapping[col] for key, col in FIELDS})
    return _ENCODE(items).encode()
