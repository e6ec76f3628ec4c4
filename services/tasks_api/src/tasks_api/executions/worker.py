"""The standalone executor: ``tasks-api worker`` or ``python -m tasks_api.executions``.

Runs the claim loop without the HTTP server, until SIGTERM or SIGINT; then it finishes the batch in
hand and exits, so a rolling deploy leaves nothing CLAIMED behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tasks_api.executions.config import ExecutorConfig
from tasks_api.executions.effects import Effects, EventPublisher, TaskEffects
from tasks_api.executions.executor import Executor
from tasks_api.settings import Settings, get_settings

logger = logging.getLogger("tasks_api.executions")


def create_worker_engine(settings: Settings) -> AsyncEngine:
    """A small pool: the loop uses one connection at a time."""
    if settings.is_sqlite:
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        return create_async_engine(settings.sqlalchemy_url, connect_args={"timeout": 30})
    return create_async_engine(
        settings.sqlalchemy_url,
        pool_size=2,
        max_overflow=2,
        pool_pre_ping=True,
        pool_recycle=settings.db_pool_recycle_seconds,
        connect_args={"server_settings": {"application_name": "tasks-api-worker"}},
    )


async def run_worker(
    settings: Settings | None = None,
    effects: Effects | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    settings = settings or get_settings()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    engine = create_worker_engine(settings)
    executor = Executor(
        engine,
        ExecutorConfig.from_settings(settings),
        effects or TaskEffects(EventPublisher.from_settings(settings)),
    )
    try:
        executor.start()
        await stop.wait()
        await executor.stop(grace_seconds=settings.scheduler_lease_seconds / 2)
    finally:
        await engine.dispose()


async def run(settings: Settings) -> None:
    """The entry ``tasks-api worker`` calls (it has already configured logging)."""
    await run_worker(settings)


class JsonLines(logging.Formatter):
    """One JSON object per line, with the ``extra`` fields the executor attaches."""

    _standard = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in self._standard})
        return json.dumps(line, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level)
    asyncio.run(run_worker(settings))
