"""The asyncpg pool that serves the task routes on PostgreSQL.

The task routes run one statement per request in autocommit. Through SQLAlchemy's async layer that costs more
CPU than the database spends on the query, so these statements go straight to asyncpg (prepared and cached per
connection); SQLAlchemy keeps the schema, the migrations and the multi-statement work of the scheduler.

Connection care matches the SQLAlchemy pool's: statement timeout, bounded connect, a ping before reusing a
connection that sat idle (dead sockets come from idle periods: fail-overs, NAT and proxy timeouts), and a
connection that fails while being checked out is replaced, never handed to a statement.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from tasks_api.db.errors import is_connection_failure
from tasks_api.settings import Settings

log = logging.getLogger("tasks_api.db")

CHECKOUT_ATTEMPTS = 3


class RequestPool:
    def __init__(self, pool: asyncpg.Pool, acquire_timeout: float) -> None:
        self.pool = pool
        self.acquire_timeout = acquire_timeout

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A live connection. Failures while checking out (connect or idle ping) are retried: no statement
        was sent yet, so this is safe for writes too."""
        # One deadline for the whole checkout (a busy pool, connecting, retries); asyncio.timeout rather than
        # acquire(timeout=), which runs the wait in a task of its own.
        async with asyncio.timeout(self.acquire_timeout):
            for attempt in range(1, CHECKOUT_ATTEMPTS + 1):
                try:
                    conn = await self.pool.acquire()
                    break
                except Exception as exc:
                    # Refused, lost, or a pooled connection that got the server's goodbye (a restart, a
                    # fail-over, an idle kill) while idle: its ping failed and asyncpg closed it.
                    if attempt == CHECKOUT_ATTEMPTS or not is_connection_failure(exc):
                        raise
                    log.info("pooled connection failed its check-out (attempt %d); trying another", attempt)
        try:
            yield conn
        except BaseException:
            # A statement failed: the connection may be mid-protocol (a server going away, a cancelled
            # request), and the release below no longer runs a reset query that would find out. It must not
            # serve the next request; a reconnect is cheap next to that, and these failures are rare.
            conn.terminate()
            raise
        finally:
            await self.pool.release(conn)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.pool.close(), timeout=10)
        except TimeoutError:
            self.pool.terminate()


class IdlePing:
    """Ping connections that were idle longer than ``idle_seconds`` when they are checked out.

    Also replaces asyncpg's default reset on release (RESET ALL, UNLISTEN, CLOSE ALL, a round trip per
    request): these connections only ever run single autocommit statements, so there is no session state
    to undo. asyncpg still rolls back a transaction left open, whatever the reset.
    """

    def __init__(self, idle_seconds: float) -> None:
        self.idle_seconds = idle_seconds
        self._released_at: dict[int, float] = {}

    async def on_release(self, conn: asyncpg.Connection) -> None:
        if len(self._released_at) > 1024:  # pids of connections closed since; forget them
            self._released_at.clear()
        self._released_at[conn.get_server_pid()] = time.monotonic()

    async def on_checkout(self, conn: asyncpg.Connection) -> None:
        released_at = self._released_at.pop(conn.get_server_pid(), None)
        if released_at is not None and time.monotonic() - released_at > self.idle_seconds:
            await conn.execute("SELECT 1")


def asyncpg_dsn(settings: Settings) -> str:
    return settings.sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def create_request_pool(settings: Settings) -> RequestPool:
    """Opens no connection yet (a paused Aurora must not stop the service from starting)."""
    idle_ping = IdlePing(settings.db_pre_ping_idle_seconds if settings.db_pool_pre_ping else float("inf"))
    pool = await asyncpg.create_pool(
        asyncpg_dsn(settings),
        min_size=0,
        max_size=settings.db_pool_size + settings.db_max_overflow,
        # Idle connections are closed after this long (asyncpg has no maximum age, as SQLAlchemy recycles).
        max_inactive_connection_lifetime=settings.db_pool_recycle_seconds,
        timeout=settings.db_pool_timeout_seconds,
        command_timeout=max(settings.db_statement_timeout_ms / 1000 + 2, 5),
        server_settings={
            "application_name": "tasks-api",
            "statement_timeout": str(settings.db_statement_timeout_ms),
            # The JSON the database writes carries UTC timestamps whatever the server's default zone.
            "TimeZone": "UTC",
        },
        setup=idle_ping.on_checkout,
        reset=idle_ping.on_release,
    )
    return RequestPool(pool, settings.db_pool_timeout_seconds)
