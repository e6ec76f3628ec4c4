"""Wait, bounded, for the database to accept connections before a command starts using it.

Containers start in any order: podman-compose ignores `depends_on: condition`, and a user may restart the API
alone while the database restarts too. Instead of failing on the first refused connection (and relying on the
engine to restart us), `serve`, `migrate` and `worker` wait here first, saying so in the log.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import text

from tasks_api.db.errors import is_connection_failure
from tasks_api.settings import Settings

log = logging.getLogger("tasks_api.db")


class DatabaseUnavailable(RuntimeError):
    """The database did not accept a connection within DB_WAIT_SECONDS."""


async def wait_for_database(settings: Settings, *, poll_seconds: float = 1.0) -> float:
    """Return once the server answers (the seconds it took); raise DatabaseUnavailable after
    ``settings.db_wait_seconds`` of refused or lost connections. SQLite (``make dev``) and 0 do not wait."""
    if settings.is_sqlite or settings.db_wait_seconds == 0:
        return 0.0
    from tasks_api.db.engine import create_pool

    pool = create_pool(settings)
    started = time.monotonic()
    deadline = started + settings.db_wait_seconds
    announced = False
    try:
        while True:
            try:
                async with pool.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            except Exception as exc:
                if not is_connection_failure(exc):
                    # The server answered (a wrong password, a missing database): waiting will not fix it;
                    # the command goes on and reports it the way it always does.
                    log.warning("the database answered with an error", extra={"error": type(exc).__name__})
                    return time.monotonic() - started
                if time.monotonic() >= deadline:
                    raise DatabaseUnavailable(
                        f"it did not accept connections within {settings.db_wait_seconds:g} s "
                        f"({type(exc).__name__}: {exc})"
                    ) from None
                if not announced:
                    log.info(
                        "waiting for the database",
                        extra={"timeout_seconds": settings.db_wait_seconds, "error": type(exc).__name__},
                    )
                    announced = True
                await asyncio.sleep(poll_seconds)
                continue
            waited = time.monotonic() - started
            if announced:
                log.info("the database is up", extra={"waited_seconds": round(waited, 1)})
            return waited
    finally:
        await pool.dispose()
