"""Task persistence. Every statement is filtered by the owner: there is no way to reach another user's row."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Select, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_api.db.models import Task
from tasks_api.db.retry import ReadRetry


class InvalidCursorError(ValueError):
    """The paging cursor was not produced by this API."""


@dataclass(frozen=True)
class Cursor:
    """Keyset position: the last row of a page, in (hour, minute, id) order."""

    hour: int
    minute: int
    id: int

    def encode(self) -> str:
        raw = json.dumps([self.hour, self.minute, self.id], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            hour, minute, id_ = json.loads(raw)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise InvalidCursorError(text) from exc
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (hour, minute, id_)):
            raise InvalidCursorError(text)
        return cls(hour, minute, id_)


@dataclass(frozen=True)
class TaskFilter:
    status: str | None = None
    day: str | None = None  # a normalised day name, e.g. "WED"
    q: str | None = None


def new_job_id() -> str:
    # Opaque and unguessable, 22 chars (the column allows 31, as the original's).
    return secrets.token_urlsafe(16)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@lru_cache(maxsize=16)
def _list_statement(after: bool, status: bool, day: bool, q: bool) -> Select[Any]:
    # Built once per filter combination: constructing SQLAlchemy statements costs more than running this one.
    query = select(*Task.__table__.c).where(Task.owner_sub == bindparam("owner"))
    if after:
        position = tuple_(Task.hour, Task.minute, Task.id)
        query = query.where(
            position > tuple_(bindparam("after_hour"), bindparam("after_minute"), bindparam("after_id"))
        )
    if status:
        query = query.where(Task.status == bindparam("status"))
    if day:
        query = query.where(Task.execution_days.like(bindparam("day")))
    if q:
        query = query.where(Task.name.ilike(bindparam("q"), escape="\\"))
    return query.order_by(Task.hour, Task.minute, Task.id).limit(bindparam("limit"))


_INSERT = insert(Task).returning(Task)


class TaskRepository:
    def __init__(self, session: AsyncSession, owner_sub: str, read_retry: ReadRetry | None = None) -> None:
        self.session = session
        self.owner = owner_sub
        self.read_retry = read_retry or ReadRetry()

    async def list(self, *, limit: int, after: Cursor | None, filters: TaskFilter) -> Sequence[Row[Any]]:
        """Plain rows, no ORM identity map: the list is the hottest read and needs none of it."""
        params: dict[str, Any] = {"owner": self.owner, "limit": limit}
        if after is not None:
            params.update(after_hour=after.hour, after_minute=after.minute, after_id=after.id)
        if filters.status:
            params["status"] = filters.status
        if filters.day:
            params["day"] = f"%{filters.day}%"  # stored days are normalised "MON,WED": names never overlap
        if filters.q:
            params["q"] = f"%{_like_escape(filters.q)}%"
        statement = _list_statement(
            after is not None, bool(filters.status), bool(filters.day), bool(filters.q)
        )

        async def read() -> Sequence[Row[Any]]:
            return (await self.session.execute(statement, params)).all()

        return await self.read_retry.run(self.session, read)

    async def get(self, task_id: int) -> Task | None:
        query = select(Task).where(Task.id == task_id, Task.owner_sub == self.owner)

        async def read() -> Task | None:
            return (await self.session.scalars(query)).one_or_none()

        return await self.read_retry.run(self.session, read)

    async def create(self, values: dict[str, Any]) -> Task:
        now = datetime.now(UTC)
        row = {
            **values,
            "owner_sub": self.owner,
            "job_id": new_job_id(),
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        # One prebuilt statement with bound parameters: building `.values(**row)` per call cost more than the
        # round trip (and a fresh statement every time defeats the compiled-statement cache).
        result = await self.session.scalars(_INSERT, row)
        return result.one()

    async def update(self, task_id: int, expected_version: int, values: dict[str, Any]) -> Task | None:
        """Write ``values`` if the row is still at ``expected_version``; None when it moved or vanished."""
        statement = (
            update(Task)
            .where(Task.id == task_id, Task.owner_sub == self.owner, Task.version == expected_version)
            .values(**values, version=Task.version + 1, updated_at=datetime.now(UTC))
            .returning(Task)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def delete(self, task_id: int, expected_version: int | None = None) -> bool:
        statement = delete(Task).where(Task.id == task_id, Task.owner_sub == self.owner)
        if expected_version is not None:
            statement = statement.where(Task.version == expected_version)
        result = await self.session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]
