"""Bounded retry of idempotent reads when the database connection fails (an Aurora resume or fail-over).

Aurora Serverless refuses or drops connections for a few seconds while it resumes from an idle pause. A read
can simply be tried again; a write cannot (its commit may or may not have happened), so writes are never
retried here and reach the caller as a 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, DisconnectionError

from tasks_api.db.errors import is_connection_failure

log = logging.getLogger("tasks_api.db")
T = TypeVar("T")


def is_retryable(exc: BaseException) -> bool:
    """A lost or refused connection; never a pool that is merely busy (retrying would add load)."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or is_connection_failure(exc)
    return isinstance(exc, DisconnectionError) or is_connection_failure(exc)


@dataclass(frozen=True)
class ReadRetry:
    budget_seconds: float = 6.0
    first_delay_seconds: float = 0.1
    max_delay_seconds: float = 1.0

    async def run(self, read: Callable[[], Awaitable[T]]) -> T:
        """``read()`` until it succeeds or the budget is spent. ``read`` checks its connection out and in
        itself, so each attempt gets a live one (the pools drop a connection that failed)."""
        deadline = time.monotonic() + self.budget_seconds
        delay = self.first_delay_seconds
        attempt = 1
        while True:
            try:
                return await read()
            except Exception as exc:
                pause = delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security
                if not is_retryable(exc) or time.monotonic() + pause > deadline:
                    raise
                log.warning("read failed on a lost connection (attempt %d); retrying", attempt)
                await asyncio.sleep(pause)
                delay = min(delay * 2, self.max_delay_seconds)
                attempt += 1
