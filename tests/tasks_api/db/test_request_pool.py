"""The task routes' asyncpg pool: idle connections are pinged at checkout, and a failed checkout or a failed
statement never leaves a broken connection for the next request."""

from __future__ import annotations

import asyncpg
import pytest
from tasks_api.db.request_pool import create_request_pool
from tasks_api.settings import Settings

from tests.support.postgres import terminate_backends


async def test_a_connection_that_died_while_idle_is_replaced_at_checkout(postgres_url: str) -> None:
    # Every checkout after any idle time pings; the dead connection fails its ping and another is opened,
    # so even a write (which is never retried) gets a live connection.
    pool = await create_request_pool(Settings(database_url=postgres_url, db_pre_ping_idle_seconds=0))
    try:
        async with pool.connection() as conn:
            first = conn.get_server_pid()
        assert await terminate_backends(postgres_url, pid=first) == 1
        async with pool.connection() as conn:
            assert await conn.fetchval("SELECT 1") == 1
            assert conn.get_server_pid() != first
    finally:
        await pool.close()


async def test_connections_are_reused_without_a_reset_query(postgres_url: str) -> None:
    pool = await create_request_pool(Settings(database_url=postgres_url))
    try:
        async with pool.connection() as conn:
            first = conn.get_server_pid()
            assert await conn.fetchval("SHOW TimeZone") == "UTC"
            assert await conn.fetchval("SHOW application_name") == "tasks-api"
            # Only to observe the reset: the task routes never change session state.
            await conn.execute("SET work_mem = '7MB'")
        async with pool.connection() as conn:
            assert conn.get_server_pid() == first
            # asyncpg's default reset on release (RESET ALL, a round trip per request) did not run.
            assert await conn.fetchval("SHOW work_mem") == "7MB"
    finally:
        await pool.close()


async def test_a_connection_whose_statement_failed_is_not_reused(postgres_url: str) -> None:
    pool = await create_request_pool(Settings(database_url=postgres_url))
    try:
        first = None

        async def failing_statement() -> None:
            nonlocal first
            async with pool.connection() as conn:
                first = conn.get_server_pid()
                await conn.fetch("SELECT * FROM no_such_table")

        with pytest.raises(asyncpg.UndefinedTableError):
            await failing_statement()
        async with pool.connection() as conn:
            assert conn.get_server_pid() != first
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


async def test_opens_nothing_until_used() -> None:
    # A paused Aurora must not stop the service from starting.
    pool = await create_request_pool(Settings(database_url="postgresql://nobody@127.0.0.1:1/none"))
    try:
        assert pool.pool.get_size() == 0

        async def checkout() -> None:
            async with pool.connection():
                pass

        with pytest.raises(ConnectionRefusedError):
            await checkout()
    finally:
        await pool.close()
