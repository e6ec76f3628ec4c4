"""TaskRepository through SQLAlchemy Core: the embedded SQLite database of ``make dev``.

Statements are built once per shape with bound parameters (building them costs more than running them), and
run on the autocommit engine: every call is one statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Delete, Select, bindparam, delete, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tasks_api.db.models import Task
from tasks_api.db.retry import ReadRetry
from tasks_api.domain.schedule import as_utc
from tasks_api.tasks.repository import (
    WRITABLE_COLUMNS,
    Cursor,
    Page,
    StoredTask,
    TaskFilter,
    like_pattern,
    new_job_id,
)
from tasks_api.tasks.serialize import TIMESTAMP_COLUMNS, task_document

_OWNED = Task.owner_sub == bindparam("owner")
_GET = select(Task.__table__).where(Task.id == bindparam("task_id"), _OWNED)
_INSERT = insert(Task.__table__).returning(*Task.__table__.c)
_UPDATE = (
    update(Task.__table__)
    .where(Task.id == bindparam("task_id"), _OWNED, Task.version == bindparam("expected_version"))
    .values(
        version=Task.version + 1,
        updated_at=bindparam("now"),
        **{column: bindparam(f"new_{column}") for column in WRITABLE_COLUMNS},
    )
    .returning(*Task.__table__.c)
)


@lru_cache(maxsize=16)
def _list_statement(after: bool, status: bool, day: bool, q: bool) -> Select[Any]:
    query = select(Task.__table__).where(_OWNED)
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


@lru_cache(maxsize=2)
def _delete_statement(at_version: bool) -> Delete:
    statement = delete(Task.__table__).where(Task.id == bindparam("task_id"), _OWNED)
    return statement.where(Task.version == bindparam("expected_version")) if at_version else statement


def _writable(values: Mapping[str, Any]) -> dict[str, Any]:
    # SQLite keeps a timestamp's wall time and drops its offset: store every instant in UTC, as read back.
    return {
        column: as_utc(values[column])
        if column in TIMESTAMP_COLUMNS and values[column] is not None
        else values[column]
        for column in WRITABLE_COLUMNS
    }


def _stored(row: Mapping[str, Any]) -> StoredTask:
    return StoredTask(values=row, json=task_document(row).encode())


class SqlTaskRepository:
    def __init__(self, engine: AsyncEngine, owner_sub: str, read_retry: ReadRetry) -> None:
        self.engine = engine
        self.owner = owner_sub
        self.read_retry = read_retry

    async def list(self, *, limit: int, after: Cursor | None, filters: TaskFilter) -> Page:
        params: dict[str, Any] = {"owner": self.owner, "limit": limit + 1}
        if after is not None:
            params.update(after_hour=after.hour, after_minute=after.minute, after_id=after.id)
        if filters.status:
            params["status"] = filters.status
        if filters.day:
            params["day"] = f"%{filters.day}%"  # stored days are normalised "MON,WED": names never overlap
        if filters.q:
            params["q"] = like_pattern(filters.q)
        statement = _list_statement(
            after is not None, bool(filters.status), bool(filters.day), bool(filters.q)
        )

        async def read() -> list[Mapping[str, Any]]:
            async with self.engine.connect() as conn:
                return list((await conn.execute(statement, params)).mappings())

        rows = await self.read_retry.run(read)
        following = None
        if len(rows) > limit:
            del rows[limit:]
            last = rows[-1]
            following = Cursor(last["hour"], last["minute"], last["id"])
        return Page(items=[task_document(row) for row in rows], next=following)

    async def get(self, task_id: int) -> StoredTask | None:
        async def read() -> Mapping[str, Any] | None:
            async with self.engine.connect() as conn:
                result = await conn.execute(_GET, {"task_id": task_id, "owner": self.owner})
                return result.mappings().first()

        row = await self.read_retry.run(read)
        return None if row is None else _stored(row)

    async def create(self, values: Mapping[str, Any]) -> StoredTask:
        now = datetime.now(UTC)
        row = {
            **_writable(values),
            "owner_sub": self.owner,
            "job_id": new_job_id(),
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        async with self.engine.connect() as conn:
            created = (await conn.execute(_INSERT, row)).mappings().one()
        return _stored(created)

    async def update(
        self, task_id: int, expected_version: int, values: Mapping[str, Any]
    ) -> StoredTask | None:
        params = {f"new_{column}": value for column, value in _writable(values).items()}
        params.update(
            task_id=task_id, owner=self.owner, expected_version=expected_version, now=datetime.now(UTC)
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(_UPDATE, params)).mappings().first()
        return None if row is None else _stored(row)

    async def delete(self, task_id: int, expected_version: int | None = None) -> bool:
        params: dict[str, Any] = {"task_id": task_id, "owner": self.owner}
        if expected_version is not None:
            params["expected_version"] = expected_version
        async with self.engine.connect() as conn:
            result = await conn.execute(_delete_statement(expected_version is not None), params)
        return bool(result.rowcount)
