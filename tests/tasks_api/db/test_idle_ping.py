"""A pooled connection killed while idle is replaced by the idle pre-ping, and the request never sees it."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from tasks_api.db.engine import create_pool
from tasks_api.settings import Settings

from tests.support.postgres import terminate_backends


async def test_connection_killed_while_idle_is_replaced(postgres_url: str) -> None:
    pool = create_pool(Settings(database_url=postgres_url, db_pre_ping_idle_seconds=0.2, db_pool_size=1))
    try:
        async with pool.connect() as conn:
            first = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert await terminate_backends(postgres_url) == 1
        await asyncio.sleep(0.4)  # longer than the idle threshold: the next checkout pings
        async with pool.connect() as conn:
            second = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        assert second != first
    finally:
        await pool.dispose()


async def test_busy_connection_is_not_pinged(postgres_url: str) -> None:
    pool = create_pool(Settings(database_url=postgres_url, db_pre_ping_idle_seconds=60, db_pool_size=1))
    statements: list[str] = []
    from sqlalchemy import event

    event.listen(pool.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        for _ in range(3):
            async with pool.connect() as conn:
                await conn.execute(text("SELECT 1"))
        # Three requests, three statements: no ping and no BEGIN/COMMIT in between (autocommit pool).
        assert statements == ["SELECT 1"] * 3
    finally:
        await pool.dispose()
