"""The executor's knobs, taken from the application settings."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, field
from datetime import timedelta

from tasks_api.settings import Settings


def default_worker_id() -> str:
    """host:pid:random, so the claimed_by column says which process holds a lease."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class ExecutorConfig:
    poll_interval: float = 1.0
    batch_size: int = 100
    misfire_grace: timedelta = timedelta(seconds=60)
    max_attempts: int = 3
    lease: timedelta = timedelta(seconds=60)
    # Retry n waits retry_base * 2**(n-1), at most retry_cap.
    retry_base: timedelta = timedelta(seconds=2)
    retry_cap: timedelta = timedelta(minutes=5)
    # Missed slots recorded one by one per task after downtime; beyond this the task just moves on.
    max_missed_per_task: int = 50
    worker_id: str = field(default_factory=default_worker_id)

    @classmethod
    def from_settings(cls, settings: Settings) -> ExecutorConfig:
        return cls(
            poll_interval=settings.scheduler_poll_interval_seconds,
            batch_size=settings.scheduler_batch_size,
            misfire_grace=timedelta(seconds=settings.scheduler_misfire_grace_seconds),
            max_attempts=settings.scheduler_max_attempts,
            lease=timedelta(seconds=settings.scheduler_lease_seconds),
        )

    def retry_delay(self, attempts: int) -> timedelta:
        return min(self.retry_cap, self.retry_base * (2 ** max(attempts - 1, 0)))
