"""The task routes' connection pool: idle connections are pinged at checkout, a failed checkout or a failed
statement never leaves a broken connection for the next request, callers beyond the bound wait their turn."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from tasks_api.db.errors import is_connection_failure
from tasks_api.db.request_pool import PoolClosedError, RequestPool, create_request_pool
from tasks_api.settings import Settings

from tests.support.postgres import terminate_backends


async def test_a_connection_that_died_while_idle_is_replaced_at_checkout(postgres_url: str) -> None:
    # Every checkout after any idle time pings; the dead connection fails its ping and another is opened,
    # so even a write (which is never retried) gets a live connection.
    pool = create_request_pool(Settings(database_url=postgres_url, db_pre_ping_idle_seconds=0))
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
    pool = create_request_pool(Settings(database_url=postgres_url))
    try:
        async with pool.connection() as conn:
            first = conn.get_server_pid()
            assert await conn.fetchval("SHOW TimeZone") == "UTC"
            assert await conn.fetchval("SHOW application_name") == "tasks-api"
            assert await conn.fetchval("SHOW statement_timeout") == "10s"  # the settings' default
            # Only to observe the reset: the task routes never change session state.
            await conn.execute("SET work_mem = '7MB'")
        async with pool.connection() as conn:
            assert conn.get_server_pid() == first
            # asyncpg's default reset on release (RESET ALL, a round trip per request) did not run.
            assert await conn.fetchval("SHOW work_mem") == "7MB"
    finally:
        await pool.close()


async def test_a_connection_whose_statement_failed_is_not_reused(postgres_url: str) -> None:
    pool = create_request_pool(Settings(database_url=postgres_url))
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
    pool = create_request_pool(Settings(database_url="postgresql://nobody@127.0.0.1:1/none"))
    try:
        assert pool.size == 0

        async def checkout() -> None:
            async with pool.connection():
                pass

        with pytest.raises(ConnectionRefusedError):
            await checkout()
    finally:
        await pool.close()


# --- the pool's own bookkeeping: a bound, turns, idle closing, shutdown ------------------------------------


def _pool(postgres_url: str, **options: float) -> RequestPool:
    dsn = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    settings: dict[str, float] = {
        "max_size": 2,
        "acquire_timeout": 5,
        "ping_after_idle": 60,
        "close_after_idle": 60,
        **options,
    }
    return RequestPool(lambda: asyncpg.connect(dsn), **settings)  # type: ignore[arg-type]


async def test_a_caller_beyond_the_bound_waits_for_a_released_connection(postgres_url: str) -> None:
    pool = _pool(postgres_url, max_size=2)
    try:
        first, second = await pool.acquire(), await pool.acquire()
        third = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.1)
        assert not third.done()
        assert pool.size == 2
        pool.release(second)
        assert await asyncio.wait_for(third, 1) is second  # handed over, never idle meanwhile
        assert pool.size == 2
        pool.release(first)
        pool.release(second)
    finally:
        await pool.close()


async def test_waiting_past_the_deadline_fails_and_leaves_the_pool_whole(postgres_url: str) -> None:
    pool = _pool(postgres_url, max_size=1, acquire_timeout=0.2)
    try:
        held = await pool.acquire()
        with pytest.raises(TimeoutError):
            await pool.acquire()
        pool.release(held)
        assert pool.size == 1
        async with pool.connection() as conn:
            assert conn is held
    finally:
        await pool.close()


async def test_a_closed_connection_gives_its_slot_to_the_first_waiter(postgres_url: str) -> None:
    pool = _pool(postgres_url, max_size=1)
    try:
        broken = await pool.acquire()
        waiting = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.05)
        pool.release(broken, failed=True)  # its statement failed: closed, not handed on
        fresh = await asyncio.wait_for(waiting, 2)
        assert fresh is not broken
        assert broken.is_closed()
        assert await fresh.fetchval("SELECT 1") == 1
        assert pool.size == 1
        pool.release(fresh)
    finally:
        await pool.close()


async def test_a_waiter_that_gives_up_loses_no_connection(postgres_url: str) -> None:
    pool = _pool(postgres_url, max_size=1)
    try:
        held = await pool.acquire()
        waiting = asyncio.create_task(pool.acquire())
        await asyncio.sleep(0.05)
        pool.release(held)  # handed to the waiter ...
        waiting.cancel()  # ... which is cancelled before it runs again
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert pool.size == 1
        assert await pool.acquire() is held
        pool.release(held)
    finally:
        await pool.close()


async def test_idle_connections_are_closed_after_a_while(postgres_url: str) -> None:
    # Aurora Serverless v2 pauses only once no connection is open.
    pool = _pool(postgres_url, max_size=2, close_after_idle=0.5)
    try:
        first, second = await pool.acquire(), await pool.acquire()
        pool.release(first)
        await asyncio.sleep(0.4)
        pool.release(second)
        await asyncio.sleep(0.3)  # first idle 0.7 s, second 0.3 s
        assert first.is_closed()
        assert not second.is_closed()
        assert pool.size == 1
        await asyncio.sleep(0.6)
        assert second.is_closed()
        assert pool.size == 0
    finally:
        await pool.close()


async def test_close_waits_for_running_statements_then_refuses_checkouts(postgres_url: str) -> None:
    pool = _pool(postgres_url, max_size=2)
    busy = await pool.acquire()
    idle = await pool.acquire()
    pool.release(idle)

    async def finish_statement() -> None:
        await busy.fetchval("SELECT pg_sleep(0.2)")
        pool.release(busy)

    statement = asyncio.create_task(finish_statement())
    await pool.close()
    assert statement.done()
    assert busy.is_closed()
    assert idle.is_closed()
    assert pool.size == 0
    with pytest.raises(PoolClosedError):
        await pool.acquire()


async def test_a_statement_that_never_answers_loses_its_connection_after_the_hold_limit(
    postgres_url: str,
) -> None:
    # A database host gone silent: the statement neither ends nor fails on its own (pg_sleep stands in).
    pool = _pool(postgres_url, max_size=1, hold_limit=0.5)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(asyncpg.ConnectionDoesNotExistError) as failure:
            async with pool.connection() as conn:
                await conn.fetchval("SELECT pg_sleep(30)")
        assert asyncio.get_running_loop().time() - started < 5
        assert is_connection_failure(failure.value)  # reaches the caller as a 503, like any lost connection
        assert pool.size == 0
        async with pool.connection() as conn:  # the slot is free again
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await pool.close()
