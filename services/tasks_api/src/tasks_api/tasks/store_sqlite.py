"""TaskRepository on the embedded SQLite database of ``make dev``, through SQLAlchemy.

It runs the same statements as the PostgreSQL store (``statements``; SQLite writes the JSON with
``json_object``), on the autocommit engine: every call is one statement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tasks_api.db.retry import ReadRetry
from tasks_api.tasks import statements
from tasks_api.tasks.repository import Cursor, Page, StoredTask, TaskFilter


class SqliteTaskStore:
    def __init__(self, engine: AsyncEngine, owner_sub: str, read_retry: ReadRetry) -> None:
        self.engine = engine
        self.owner = owner_sub
        self.read_retry = read_retry

    async def list(self, *, limit: int, after: Cursor | None, filters: TaskFilter) -> Page:
        params = statements.list_params(self.owner, limit, after, filters)
        statement = statements.list_statement(
            after is not None, bool(filters.status), bool(filters.day), bool(filters.q)
        )

        async def read() -> list[Any]:
            async with self.engine.connect() as conn:
                return list(await conn.execute(statement, params))

        return statements.list_page(await self.read_retry.run(read), limit)

    async def get(self, task_id: int) -> StoredTask | None:
        async def read() -> Mapping[Any, Any] | None:
            async with self.engine.connect() as conn:
                result = await conn.execute(statements.GET, statements.get_params(task_id, self.owner))
                return result.mappings().first()

        row = await self.read_retry.run(read)
        return None if row is None else statements.stored(row)

    async def create(self, values: Mapping[str, Any]) -> StoredTask:
        params = statements.in_utc(statements.insert_params(self.owner, values))
        async with self.engine.connect() as conn:
            created = (await conn.execute(statements.INSERT, params)).mappings().one()
        return statements.stored(created)

    async def update(
        self, task_id: int, expected_version: int, values: Mapping[str, Any]
    ) -> StoredTask | None:
        params = statements.in_utc(statements.update_params(task_id, self.owner, expected_version, values))
        async with self.engine.connect() as conn:
            row = (await conn.execute(statements.UPDATE, params)).mappings().first()
        return None if row is None else statements.stored(row)

    async def delete(self, task_id: int, expected_version: int | None = None) -> bool:
        statement = statements.delete_statement(expected_version is not None)
        params = statements.delete_params(task_id, self.owner, expected_version)
        async with self.engine.connect() as conn:
            result = await conn.execute(statement, params)
        return bool(result.rowcount)
