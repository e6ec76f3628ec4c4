"""The connections that serve the task routes on PostgreSQL: asyncpg, one autocommit statement per checkout.

The task routes run one statement per request in autocommit. Through SQLAlchemy's async layer that costs more
CPU than the database spends on the query, so these statements go straight to asyncpg (prepared and cached per
connection); SQLAlchemy keeps the schema, the migrations and the multi-statement work of the scheduler.

Nor do they go through asyncpg's ``Pool``: it is built for connections that carry session state, so every
checkout makes a proxy, a future and a timer, and every release runs a session reset in a shielded task of its
own. Under wrk, a free list in its place took the task list from 0.34 to 0.40-0.48 of /health/live's
throughput (docs/performance.md). These
connections carry no session state (no SET, LISTEN or open transaction survives a checkout), so here a
checkout is a pop from a stack of idle connections and a release is a push.

Kept from the pool it replaced: a bound on open connections (callers wait their turn, within one checkout
deadline); nothing opened before the first request (a paused Aurora must not stop the service from starting);
bounded connect; a ping before reusing a connection that sat idle (dead sockets come from idle periods:
fail-overs, NAT and proxy timeouts), and a connection that fails its ping or its connect is replaced, never
handed to a statement; a connection whose statement failed is closed, not reused; idle connections are closed
after a while (Aurora Serverless only pauses once no connection is open).

A statement that never answers (a database host gone silent: no reset, no reply) must not hold its request
and its connection for ever. asyncpg's ``command_timeout`` guards that with a timer per statement, about 7 us
of CPU each; here one watchdog, ticking once a second while connections are out, closes any connection held
longer than ``hold_limit`` (the server's statement_timeout plus a margin), which fails its statement as a
lost connection (503). The server's statement_timeout still bounds every statement that runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType

import asyncpg

from tasks_api.db.errors import is_connection_failure
from tasks_api.settings import Settings

log = logging.getLogger("tasks_api.db")

CHECKOUT_ATTEMPTS = 3
CLOSE_SECONDS = 10.0
WATCHDOG_SECONDS = 1.0

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class PoolClosedError(RuntimeError):
    """The service is stopping: no new checkout."""


class RequestPool:
    def __init__(
        self,
        connect: Connect,
        *,
        max_size: int,
        acquire_timeout: float,
        ping_after_idle: float,
        close_after_idle: float,
        hold_limit: float = float("inf"),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self.max_size = max_size
        self.acquire_timeout = acquire_timeout
        self.ping_after_idle = ping_after_idle
        self.close_after_idle = close_after_idle
        self.hold_limit = hold_limit
        self._clock = clock
        # (connection, released at), oldest first: a checkout takes the newest (warm, the least likely to be
        # dead), which leaves the oldest to reach close_after_idle when traffic falls.
        self._idle: list[tuple[asyncpg.Connection, float]] = []
        self._in_use: dict[asyncpg.Connection, float] = {}  # connection -> when its holder got it
        self._opening = 0  # slots taken by connections being opened
        # Callers waiting for their turn, first come first served. A release hands its connection to the first
        # (it never goes idle meanwhile); a connection that closes hands over its slot (None).
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._sweep: asyncio.TimerHandle | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._closing = False
        self._drained: asyncio.Event | None = None  # set by close(): it waits for the last release

    @property
    def size(self) -> int:
        """Connections open or being opened."""
        return len(self._idle) + len(self._in_use) + self._opening

    def connection(self) -> _Checkout:
        """``async with pool.connection() as conn``: a live connection for one statement."""
        return _Checkout(self)

    async def acquire(self) -> asyncpg.Connection:
        if self._idle and not self._waiters and not self._closing:
            conn, released_at = self._idle[-1]
            now = self._clock()
            if now - released_at <= self.ping_after_idle:
                self._idle.pop()
                self._lend(conn, now)
                return conn
        # One deadline for the whole checkout: waiting for a turn, connecting, pinging, retries.
        async with asyncio.timeout(self.acquire_timeout):
            failures = 0
            while True:
                try:
                    return await self._checkout()
                except Exception as exc:
                    # Refused, lost, or a pooled connection that got the server's goodbye (a restart, a
                    # fail-over, an idle kill) while idle. No statement was sent: even a write may try again.
                    failures += 1
                    if failures == CHECKOUT_ATTEMPTS or not is_connection_failure(exc):
                        raise
                    log.info("a connection failed its check-out (attempt %d); trying another", failures)

    def release(self, conn: asyncpg.Connection, *, failed: bool = False) -> None:
        """Give ``conn`` back. ``failed``: its statement raised, so it may be mid-protocol (a server going
        away, a cancelled request) and must not serve another; a reconnect is cheap next to that, and rare."""
        if failed or conn.is_closed() or conn.is_in_transaction():
            self._drop(conn)
            return
        waiter = self._next_waiter()
        if waiter is not None:
            self._lend(conn, self._clock())  # still in use: now by the waiter
            waiter.set_result(conn)
            return
        self._in_use.pop(conn, None)
        self._idle.append((conn, self._clock()))
        if self._drained is not None and not self._in_use:
            self._drained.set()
        if self._sweep is None and not self._closing:
            self._sweep = asyncio.get_running_loop().call_later(self.close_after_idle, self._close_idle)

    async def close(self) -> None:
        """Refuse new checkouts, wait up to CLOSE_SECONDS for those running, then close every connection."""
        self._closing = True
        while waiter := self._next_waiter():
            waiter.set_exception(PoolClosedError("the service is stopping"))
        if self._in_use:
            self._drained = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), CLOSE_SECONDS)
        for conn in list(self._in_use):
            self._drop(conn)
        for timer in (self._sweep, self._watchdog):
            if timer is not None:
                timer.cancel()
        self._sweep = self._watchdog = None
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_close(conn) for conn, _ in idle))

    async def _checkout(self) -> asyncpg.Connection:
        """One attempt: an idle connection (pinged if it sat idle long), a new one, or one handed over."""
        if self._closing:
            raise PoolClosedError("the service is stopping")
        if self._idle and not self._waiters:
            conn, released_at = self._idle.pop()
            now = self._clock()
            self._lend(conn, now)
            if now - released_at > self.ping_after_idle:
                try:
                    await conn.execute("SELECT 1")
                except BaseException:
                    self._drop(conn)
                    raise
            return conn
        if self.size < self.max_size:
            self._opening += 1
        else:
            handed = await self._wait_for_turn()
            if handed is not None:
                return handed
            # A connection closed and its slot (already counted in _opening) is ours.
        try:
            conn = await self._connect()
        except BaseException:
            self._opening -= 1
            self._slot_freed()
            raise
        self._opening -= 1
        self._lend(conn, self._clock())
        return conn

    async def _wait_for_turn(self) -> asyncpg.Connection | None:
        waiter: asyncio.Future[asyncpg.Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            # Timed out or cancelled just as our turn came: pass on what was handed to us.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                handed = waiter.result()
                if handed is not None:
                    self.release(handed)
                else:
                    self._opening -= 1
                    self._slot_freed()
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _next_waiter(self) -> asyncio.Future[asyncpg.Connection | None] | None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                return waiter
        return None

    def _drop(self, conn: asyncpg.Connection) -> None:
        """Close ``conn`` (in use) for good; its slot goes to the first waiter."""
        self._in_use.pop(conn, None)
        conn.terminate()
        if self._drained is not None and not self._in_use:
            self._drained.set()
        self._slot_freed()

    def _slot_freed(self) -> None:
        waiter = self._next_waiter()
        if waiter is not None:
            self._opening += 1  # reserved for the waiter, who opens the connection
            waiter.set_result(None)

    def _lend(self, conn: asyncpg.Connection, now: float) -> None:
        self._in_use[conn] = now
        if self._watchdog is None and self.hold_limit != float("inf"):
            self._watchdog = asyncio.get_running_loop().call_later(WATCHDOG_SECONDS, self._watch)

    def _watch(self) -> None:
        """Close the connections held past ``hold_limit``: their statements fail as lost connections."""
        self._watchdog = None
        cutoff = self._clock() - self.hold_limit
        for conn, since in list(self._in_use.items()):
            if since <= cutoff:
                log.warning("a statement held its connection for over %g s; closing it", self.hold_limit)
                conn.terminate()
                self._in_use[conn] = float("inf")  # closed: its holder releases it as failed
        if self._in_use:
            self._watchdog = asyncio.get_running_loop().call_later(WATCHDOG_SECONDS, self._watch)

    def _close_idle(self) -> None:
        self._sweep = None
        cutoff = self._clock() - self.close_after_idle
        expired = 0
        while expired < len(self._idle) and self._idle[expired][1] <= cutoff:
            expired += 1
        for conn, _ in self._idle[:expired]:
            conn.terminate()  # idle: nothing in flight, and the server needs no goodbye
        del self._idle[:expired]
        if self._idle:
            self._sweep = asyncio.get_running_loop().call_later(self._idle[0][1] - cutoff, self._close_idle)


class _Checkout:
    __slots__ = ("conn", "pool")

    def __init__(self, pool: RequestPool) -> None:
        self.pool = pool

    async def __aenter__(self) -> asyncpg.Connection:
        self.conn = await self.pool.acquire()
        return self.conn

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.pool.release(self.conn, failed=kind is not None)


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(conn.close(), timeout=CLOSE_SECONDS)
    except Exception:  # already gone, or not answering: nothing left to say to it
        conn.terminate()


def asyncpg_dsn(settings: Settings) -> str:
    return settings.sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def create_request_pool(settings: Settings) -> RequestPool:
    """Opens no connection yet (a paused Aurora must not stop the service from starting)."""
    dsn = asyncpg_dsn(settings)

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(
            dsn,
            timeout=settings.db_pool_timeout_seconds,
            server_settings={
                "application_name": "tasks-api",
                "statement_timeout": str(settings.db_statement_timeout_ms),
                # The JSON the database writes carries UTC timestamps whatever the server's default zone.
                "TimeZone": "UTC",
            },
        )

    return RequestPool(
        connect,
        max_size=settings.db_pool_size + settings.db_max_overflow,
        acquire_timeout=settings.db_pool_timeout_seconds,
        ping_after_idle=settings.db_pre_ping_idle_seconds if settings.db_pool_pre_ping else float("inf"),
        close_after_idle=settings.db_pool_recycle_seconds,
        hold_limit=_hold_limit(settings),
    )


def _hold_limit(settings: Settings) -> float:
    """How long a statement may hold its connection: the server's statement_timeout (0: none) and 2 s for
    its error to come back; at least 5 s."""
    if settings.db_statement_timeout_ms == 0:
        return float("inf")
    return max(settings.db_statement_timeout_ms / 1000 + 2, 5)
