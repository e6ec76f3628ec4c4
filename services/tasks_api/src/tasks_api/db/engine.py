"""The async SQLAlchemy engine and session factory, tuned for ECS + Aurora (and SQLite for `make dev`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from tasks_api.settings import Settings


def create_engine(settings: Settings) -> AsyncEngine:
    """An engine whose connections run real transactions (the migrations, the executor, the worker)."""
    return transactional(create_pool(settings))


def create_pool(settings: Settings) -> AsyncEngine:
    """The connection pool; used as is, its connections are in autocommit (see below)."""
    url = settings.sqlalchemy_url
    if settings.is_sqlite:
        return _sqlite_engine(url, settings.sqlite_path)
    connect_args: dict[str, Any] = {
        # Bound the TCP connect so a paused or lost database becomes a quick 503, not a hang.
        "timeout": settings.db_pool_timeout_seconds,
        "command_timeout": max(settings.db_statement_timeout_ms / 1000 + 2, 5),
        "server_settings": {
            "application_name": "tasks-api",
            "statement_timeout": str(settings.db_statement_timeout_ms),
        },
    }
    engine = create_async_engine(
        url,
        # The pool's connections default to autocommit: the API's reads and writes are single statements
        # (a write is one conditional INSERT/UPDATE/DELETE), so BEGIN/COMMIT would only add round trips, and
        # asyncpg's pre-ping costs one round trip, not three. Multi-statement work uses `transactional()`.
        isolation_level="AUTOCOMMIT",
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # Aurora fail-overs and idle pauses leave dead sockets in the pool: test before use, and
        # retire connections before the proxies and NATs in between forget them.
        pool_pre_ping=settings.db_pool_pre_ping and settings.db_pre_ping_idle_seconds == 0,
        pool_recycle=settings.db_pool_recycle_seconds,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_args=connect_args,
    )
    if settings.db_pool_pre_ping and settings.db_pre_ping_idle_seconds > 0:
        ping_when_idle(engine, settings.db_pre_ping_idle_seconds)
    return engine


def ping_when_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Pre-ping only connections that sat in the pool longer than ``idle_seconds``.

    A busy pool's connections were used milliseconds ago, and on a loaded host a ping is the single biggest
    cost of a short request; a connection that sat idle is the one a NAT, proxy or fail-over may have killed.
    DisconnectionError makes the pool drop it and check out another (SQLAlchemy retries up to 3 times).
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since <= idle_seconds:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError("pooled connection died while idle") from exc


def _sqlite_engine(url: str, path: Path) -> AsyncEngine:
    if str(path) != ":memory:":
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30}, isolation_level="AUTOCOMMIT")

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE for executions
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def transactional(engine: AsyncEngine) -> AsyncEngine:
    """A view of the same pool whose connections run real transactions (BEGIN ... COMMIT).

    Use it for anything that needs more than one statement to be atomic, or row locks that must outlive a
    statement (SELECT ... FOR UPDATE SKIP LOCKED).
    """
    level = "SERIALIZABLE" if engine.dialect.name == "sqlite" else "READ COMMITTED"
    return engine.execution_options(isolation_level=level)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on ``engine`` as given (pass ``transactional(engine)`` for transactions)."""
    return async_sessionmaker(engine, expire_on_commit=False)
