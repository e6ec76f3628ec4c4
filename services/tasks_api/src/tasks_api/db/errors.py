"""Telling a lost or unreachable database from every other database error (the retry, the wait for the
database and the HTTP layer's 503 all ask the same question)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError


def is_connection_failure(exc: BaseException) -> bool:
    """The connection was refused, lost, or not possible yet: a driver's exception (asyncpg's, the
    socket's) as the task routes see it, or the one under a SQLAlchemy DBAPIError."""
    # Under SQLAlchemy the driver's error sits below the DB-API adapter's (asyncpg's CannotConnectNowError,
    # raised while a restarted or resuming server recovers, arrives as a plain adapter Error): look down the
    # whole chain.
    names: set[str] = set()
    cause: BaseException | None = exc.orig if isinstance(exc, DBAPIError) else exc
    for _ in range(5):
        if cause is None:
            break
        names.update(cls.__name__ for cls in type(cause).__mro__)
        if str(getattr(cause, "sqlstate", "") or "").startswith(("08", "57P")):
            return True  # connection_exception class, admin/crash shutdown, cannot connect now
        cause = cause.__cause__
    return bool(
        names
        & {
            "ConnectionDoesNotExistError",
            "ConnectionFailureError",
            "CannotConnectNowError",
            "InterfaceError",
            "ConnectionRefusedError",
            "OSError",
            "TimeoutError",
            "AdminShutdownError",
            # A pooled connection that received the server's shutdown notice while idle is left mid-protocol;
            # asyncpg refuses to send on it (nothing was sent, the connection is dropped).
            "InternalClientError",
        }
    )
