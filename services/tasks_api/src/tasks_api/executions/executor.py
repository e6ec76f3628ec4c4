"""The claim loop: one asyncio task per process, any number of processes on one database.

Each pass: one indexed query asks when the next thing is due. If something is, the loop claims
batches (``FOR UPDATE SKIP LOCKED``), records an execution per slot and advances the task in the same
transaction, commits, and only then performs the effects and records their outcome. Otherwise it
sleeps until the earliest due instant or the poll interval, whichever comes first, or until the API
says a sooner task was just created.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from tasks_api.domain.schedule import as_utc
from tasks_api.executions import repository as repo
from tasks_api.executions.clock import Clock, SystemClock
from tasks_api.executions.config import ExecutorConfig
from tasks_api.executions.effects import Effects, EventPublisher, TaskEffects
from tasks_api.settings import Settings

logger = logging.getLogger("tasks_api.executions")

# When something is due but every due row is locked by another replica, look again soon rather
# than spin on the database.
_CONTENDED_PAUSE = 0.05
_MAX_ERROR_BACKOFF = 30.0
# Batches whose effects may still be running while the next batch is claimed.
_IN_FLIGHT = 2


@dataclass
class ExecutorStats:
    passes: int = 0
    claimed: int = 0
    succeeded: int = 0
    failed: int = 0
    missed: int = 0
    errors: int = 0


class Executor:
    def __init__(
        self,
        engine: AsyncEngine,
        config: ExecutorConfig | None = None,
        effects: Effects | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.engine = engine
        self.config = config or ExecutorConfig()
        self.effects: Effects = effects or TaskEffects()
        self.clock: Clock = clock or SystemClock()
        self.stats = ExecutorStats()
        self._wake = asyncio.Event()
        self._stopping = False
        self._next_check: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, engine: AsyncEngine, clock: Clock | None = None) -> Executor:
        effects = TaskEffects(EventPublisher.from_settings(settings))
        return cls(engine, ExecutorConfig.from_settings(settings), effects, clock)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name="scheduler")
            logger.info(
                "scheduler started", extra={"event": "scheduler_started", "worker": self.config.worker_id}
            )

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Finish the batch in hand (so nothing stays CLAIMED); cancel after ``grace_seconds``."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), grace_seconds)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        logger.info(
            "scheduler stopped", extra={"event": "scheduler_stopped", "worker": self.config.worker_id}
        )

    def wake_if_sooner(self, due_at: datetime | None) -> None:
        """Called by the API after a write: look now if ``due_at`` comes before the planned check."""
        if due_at is None:
            return
        if self._next_check is None or as_utc(due_at) < self._next_check:
            self._wake.set()

    async def run(self) -> None:
        consecutive_errors = 0
        while not self._stopping:
            self._wake.clear()
            try:
                delay = await self.run_once()
                consecutive_errors = 0
            except Exception as exc:  # a lost database must not kill the loop: back off and retry
                consecutive_errors += 1
                self.stats.errors += 1
                delay = min(self.config.poll_interval * 2**consecutive_errors, _MAX_ERROR_BACKOFF)
                logger.warning(
                    "scheduler pass failed, next try in %.1f s: %s: %s",
                    delay,
                    type(exc).__name__,
                    exc,
                    extra={"event": "scheduler_error"},
                )
            await self._sleep(delay)

    async def _sleep(self, delay: float) -> None:
        if delay <= 0 or self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

    # --- one pass -------------------------------------------------------------------------------

    async def run_once(self) -> float:
        """Work off whatever is due now; return the seconds to wait before the next pass."""
        self.stats.passes += 1
        now = self.clock.now()
        self._next_check = None
        async with self.engine.connect() as conn:
            earliest = await repo.next_wakeup(conn)
        if earliest is not None and earliest <= now:
            handled = await self._drain()
            return 0.0 if handled else _CONTENDED_PAUSE
        wait = timedelta(seconds=self.config.poll_interval)
        if earliest is not None:
            wait = min(wait, earliest - now)
        self._next_check = now + wait
        return wait.total_seconds()

    async def _drain(self) -> int:
        """Claim and perform due tasks, then expired leases and due retries, batch after batch.

        The effects of one batch run while the next batch is claimed (at most ``_IN_FLIGHT`` batches
        at a time): every batch is committed before its effects start, so this only overlaps waits.
        """
        handled = 0
        for claim in (repo.claim_due_tasks, repo.claim_pending_executions):
            in_flight: set[asyncio.Task[None]] = set()
            try:
                while not self._stopping:
                    async with self.engine.begin() as conn:
                        outcome = await claim(conn, self.clock.now(), self.config)
                    self.stats.claimed += len(outcome.due)
                    self.stats.missed += outcome.missed
                    handled += outcome.rows
                    if outcome.due:
                        if len(in_flight) >= _IN_FLIGHT:
                            done, in_flight = await asyncio.wait(
                                in_flight, return_when=asyncio.FIRST_COMPLETED
                            )
                            for finished in done:
                                finished.result()  # a failed outcome write ends the pass
                        in_flight.add(asyncio.create_task(self._perform(outcome.due)))
                    if outcome.rows < self.config.batch_size:
                        break
            finally:
                results = await asyncio.gather(*in_flight, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        return handled

    async def _perform(self, batch: Sequence[repo.Due]) -> None:
        if not batch:
            return
        try:
            errors = await self.effects.perform(batch)
        except Exception as exc:  # a broken effect fails its executions; it never loses the claim
            errors = {due.execution_id: f"effect raised {type(exc).__name__}: {exc}" for due in batch}
        now = self.clock.now()
        succeeded = [due.execution_id for due in batch if due.execution_id not in errors]
        failed = [(due, errors[due.execution_id]) for due in batch if due.execution_id in errors]
        async with self.engine.begin() as conn:
            await repo.mark_succeeded(conn, succeeded, now, self.config)
            await repo.mark_failed(conn, failed, now, self.config)
        self.stats.succeeded += len(succeeded)
        self.stats.failed += len(failed)
