"""Task persistence: what the service asks of storage, and the types both stores share.

Two stores implement ``TaskRepository``, running the same statements (``statements``): ``store_postgres``
(asyncpg, PostgreSQL: every deployed environment and the tests) and ``store_sqlite`` (SQLAlchemy, the
embedded SQLite of ``make dev``). Each instance is bound to one owner; no method can reach another user's row.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tasks_api.db.models import Access, column_names, task_columns
from tasks_api.paging import decode_cursor, encode_cursor

# The columns a write carries: what the client writes and what the service derives (nextRunAt), in the
# table's order. The rest are the store's own.
WRITABLE_COLUMNS = column_names(task_columns(Access.CLIENT, Access.SERVICE))


@dataclass(frozen=True)
class Cursor:
    """Keyset position: the last row of a page, in (hour, minute, id) order."""

    hour: int
    minute: int
    id: int

    def encode(self) -> str:
        return encode_cursor((self.hour, self.minute, self.id))

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Raises ``paging.InvalidCursorError`` for a text this API did not write."""
        hour, minute, id_ = decode_cursor(text, (int, int, int))
        return cls(int(hour), int(minute), int(id_))


@dataclass(frozen=True)
class TaskFilter:
    status: str | None = None
    day: str | None = None  # a normalised day name, e.g. "WED"
    q: str | None = None


@dataclass(frozen=True)
class StoredTask:
    """One task as stored: its columns, and its JSON document (TaskOut's shape) ready to send."""

    values: Mapping[str, Any]
    json: bytes

    @property
    def id(self) -> int:
        return self.values["id"]

    @property
    def version(self) -> int:
        return self.values["version"]

    @property
    def next_run_at(self) -> datetime | None:
        return self.values["next_run_at"]


@dataclass(frozen=True)
class Page:
    """Tasks in (hour, minute, id) order, each as its JSON document, and where the next page starts."""

    items: Sequence[str]
    next: Cursor | None


class TaskRepository(Protocol):
    async def list(self, *, limit: int, after: Cursor | None, filters: TaskFilter) -> Page:
        """At most ``limit`` tasks after ``after``; ``next`` is set when more follow."""
        ...

    async def get(self, task_id: int) -> StoredTask | None: ...

    async def create(self, values: Mapping[str, Any]) -> StoredTask:
        """Insert ``values`` (every WRITABLE_COLUMNS entry) with a new id, job id and version 1."""
        ...

    async def update(
        self, task_id: int, expected_version: int, values: Mapping[str, Any]
    ) -> StoredTask | None:
        """Write ``values`` if the row is still at ``expected_version``; None when it moved or vanished."""
        ...

    async def delete(self, task_id: int, expected_version: int | None = None) -> bool: ...


def new_job_id() -> str:
    # Opaque and unguessable, 22 chars (the column allows 31, as the original's).
    return secrets.token_urlsafe(16)


def like_pattern(text: str) -> str:
    """``%text%`` for LIKE/ILIKE with ``\\`` as the escape character."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
