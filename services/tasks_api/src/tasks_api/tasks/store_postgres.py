"""TaskRepository on PostgreSQL through asyncpg: one prepared statement per call, JSON written by PostgreSQL.

The statements are ``statements``' SQLAlchemy Core, compiled once at import to asyncpg's ``$n`` text: each
call then costs asyncpg alone, without SQLAlchemy's per-execution work (docs/performance.md has the figures).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from operator import itemgetter
from typing import Any, cast

from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from tasks_api.db.request_pool import RequestPool
from tasks_api.db.retry import ReadRetry
from tasks_api.tasks import statements
from tasks_api.tasks.repository import (
    Cursor,
    Page,
    StoredTask,
    TaskFilter,
)

_DIALECT = PGDialect_asyncpg()


class AsyncpgStatement:
    """A Core statement as asyncpg runs it: its text, and its parameters in ``$n`` order."""

    __slots__ = ("args", "names", "sql")

    def __init__(self, sql: str, names: tuple[str, ...]) -> None:
        self.sql = sql
        self.names = names
        # One C call per request puts the parameters in $n order (itemgetter of one name returns no tuple).
        pick = itemgetter(*names)
        self.args: Callable[[Mapping[str, Any]], tuple[Any, ...]] = (
            pick if len(names) > 1 else lambda params: (pick(params),)
        )

    @classmethod
    def compile(cls, statement: ClauseElement) -> AsyncpgStatement:
        compiled = cast(SQLCompiler, statement.compile(dialect=_DIALECT))
        fixed = sorted(name for name, bind in compiled.binds.items() if not bind.required)
        if fixed:  # every value is passed per call; a constant belongs in the SQL text (literal_column)
            raise ValueError(f"statement binds values of its own: {fixed}")
        return cls(str(compiled), tuple(compiled.positiontup or ()))


_GET = AsyncpgStatement.compile(statements.GET)
_INSERT = AsyncpgStatement.compile(statements.INSERT)
_UPDATE = AsyncpgStatement.compile(statements.UPDATE)
_DELETE = AsyncpgStatement.compile(statements.delete_statement(False))
_DELETE_AT_VERSION = AsyncpgStatement.compile(statements.delete_statement(True))


@lru_cache(maxsize=16)
def _list(after: bool, status: bool, day: bool, q: bool) -> AsyncpgStatement:
    return AsyncpgStatement.compile(statements.list_statement(after, status, day, q))


class PostgresTaskStore:
    def __init__(self, pool: RequestPool, owner_sub: str, read_retry: ReadRetry) -> None:
        self.pool = pool
        self.owner = owner_sub
        self.read_retry = read_retry

    async def list(self, *, limit: int, after: Cursor | None, filters: TaskFilter) -> Page:
        params = statements.list_params(self.owner, limit, after, filters)
        statement = _list(after is not None, bool(filters.status), bool(filters.day), bool(filters.q))
        args = statement.args(params)

        async def read() -> list[Any]:
            async with self.pool.connection() as conn:
                return await conn.fetch(statement.sql, *args)

        return statements.list_page(await self.read_retry.run(read), limit)

    async def get(self, task_id: int) -> StoredTask | None:
        args = _GET.args(statements.get_params(task_id, self.owner))

        async def read() -> Any:
            async with self.pool.connection() as conn:
                return await conn.fetchrow(_GET.sql, *args)

        record = await self.read_retry.run(read)
        return None if record is None else statements.stored(record)

    async def create(self, values: Mapping[str, Any]) -> StoredTask:
        args = _INSERT.args(statements.insert_params(self.owner, values))
        async with self.pool.connection() as conn:
            record = await conn.fetchrow(_INSERT.sql, *args)
        return statements.stored(record)

    async def update(
        self, task_id: int, expected_version: int, values: Mapping[str, Any]
    ) -> StoredTask | None:
        args = _UPDATE.args(statements.update_params(task_id, self.owner, expected_version, values))
        async with self.pool.connection() as conn:
            record = await conn.fetchrow(_UPDATE.sql, *args)
        return None if record is None else statements.stored(record)

    async def delete(self, task_id: int, expected_version: int | None = None) -> bool:
        statement = _DELETE if expected_version is None else _DELETE_AT_VERSION
        args = statement.args(statements.delete_params(task_id, self.owner, expected_version))
        async with self.pool.connection() as conn:
            status = await conn.execute(statement.sql, *args)
        return status == "DELETE 1"
