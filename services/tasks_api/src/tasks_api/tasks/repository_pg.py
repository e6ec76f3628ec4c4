"""TaskRepository on PostgreSQL through asyncpg: one prepared statement per call, JSON written by PostgreSQL.

PostgreSQL builds each task's JSON document (``json_build_object``) in the same statement that reads or
writes the row, so a list page reaches Python as a few strings to join rather than rows to decode, convert and
encode again. The document is field for field what ``TaskOut`` writes (tests compare the two), timestamps
included: UTC, ``Z``, microseconds only when there are any.
"""

# The SQL below is assembled from the model's column names and $n placeholders only; every value is bound.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from tasks_api.db.request_pool import RequestPool
from tasks_api.db.retry import ReadRetry
from tasks_api.tasks.repository import (
    WRITABLE_COLUMNS,
    Cursor,
    Page,
    StoredTask,
    TaskFilter,
    like_pattern,
    new_job_id,
)
from tasks_api.tasks.serialize import FIELDS, TIMESTAMP_COLUMNS


def _json_value(column: str) -> str:
    if column not in TIMESTAMP_COLUMNS:
        return column
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, CASE WHEN date_trunc('second', {utc}) = {utc} "
        """THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END)"""
    )


TASK_JSON = "json_build_object(" + ", ".join(f"'{key}', {_json_value(c)}" for key, c in FIELDS) + ")::text"
_ROW = f"*, {TASK_JSON} AS document"

_GET = f"SELECT {_ROW} FROM tasks WHERE id = $1 AND owner_sub = $2"
_INSERT = (
    f"INSERT INTO tasks (owner_sub, job_id, version, created_at, updated_at, {', '.join(WRITABLE_COLUMNS)}) "
    f"VALUES ($1, $2, 1, $3, $3, {', '.join(f'${i}' for i in range(4, 4 + len(WRITABLE_COLUMNS)))}) "
    f"RETURNING {_ROW}"
)
_UPDATE = (
    "UPDATE tasks SET version = version + 1, updated_at = $4, "
    + ", ".join(f"{column} = ${i}" for i, column in enumerate(WRITABLE_COLUMNS, start=5))
    + f" WHERE id = $1 AND owner_sub = $2 AND version = $3 RETURNING {_ROW}"
)
_DELETE = "DELETE FROM tasks WHERE id = $1 AND owner_sub = $2"
_DELETE_AT_VERSION = _DELETE + " AND version = $3"


@lru_cache(maxsize=16)
def _list_sql(after: bool, status: bool, day: bool, q: bool) -> str:
    # One text per filter combination, so each stays one prepared statement in asyncpg's cache.
    conditions = ["owner_sub = $1"]
    n = 2
    if after:
        conditions.append(f"(hour, minute, id) > (${n}, ${n + 1}, ${n + 2})")
        n += 3
    for used, condition in ((status, "status = "), (day, "execution_days LIKE "), (q, "name ILIKE ")):
        if used:
            conditions.append(f"{condition}${n}" + (" ESCAPE '\\'" if condition == "name ILIKE " else ""))
            n += 1
    return (
        f"SELECT hour, minute, id, {TASK_JSON} FROM tasks WHERE {' AND '.join(conditions)} "
        f"ORDER BY hour, minute, id LIMIT ${n}"
    )


def _stored(record: Mapping[str, Any]) -> StoredTask:
    return StoredTask(values=record, json=record["document"].encode())


class PgTaskRepository:
    def __init__(self, pool: RequestPool, owner_sub: str, read_retry: ReadRetry) -> None:
        self.pool = pool
        self.owner = owner_sub
        self.read_retry = read_retry

    async def list(self, *, limit: int, after: Cursor | None, filters: TaskFilter) -> Page:
        args: list[Any] = [self.owner]
        if after is not None:
            args += (after.hour, after.minute, after.id)
        if filters.status:
            args.append(filters.status)
        if filters.day:
            args.append(f"%{filters.day}%")  # stored days are normalised "MON,WED": names never overlap
        if filters.q:
            args.append(like_pattern(filters.q))
        args.append(limit + 1)  # one more than asked: is there a next page?
        sql = _list_sql(after is not None, bool(filters.status), bool(filters.day), bool(filters.q))

        async def read() -> list[Any]:
            async with self.pool.connection() as conn:
                return await conn.fetch(sql, *args)

        rows = await self.read_retry.run(read)
        following = None
        if len(rows) > limit:
            del rows[limit:]
            hour, minute, id_, _ = rows[-1]
            following = Cursor(hour, minute, id_)
        return Page(items=[row[3] for row in rows], next=following)

    async def get(self, task_id: int) -> StoredTask | None:
        async def read() -> Any:
            async with self.pool.connection() as conn:
                return await conn.fetchrow(_GET, task_id, self.owner)

        record = await self.read_retry.run(read)
        return None if record is None else _stored(record)

    async def create(self, values: Mapping[str, Any]) -> StoredTask:
        now = datetime.now(UTC)
        async with self.pool.connection() as conn:
            record = await conn.fetchrow(
                _INSERT, self.owner, new_job_id(), now, *(values[c] for c in WRITABLE_COLUMNS)
            )
        return _stored(record)

    async def update(
        self, task_id: int, expected_version: int, values: Mapping[str, Any]
    ) -> StoredTask | None:
        now = datetime.now(UTC)
        async with self.pool.connection() as conn:
            record = await conn.fetchrow(
                _UPDATE, task_id, self.owner, expected_version, now, *(values[c] for c in WRITABLE_COLUMNS)
            )
        return None if record is None else _stored(record)

    async def delete(self, task_id: int, expected_version: int | None = None) -> bool:
        async with self.pool.connection() as conn:
            if expected_version is None:
                status = await conn.execute(_DELETE, task_id, self.owner)
            else:
                status = await conn.execute(_DELETE_AT_VERSION, task_id, self.owner, expected_version)
        return status == "DELETE 1"
