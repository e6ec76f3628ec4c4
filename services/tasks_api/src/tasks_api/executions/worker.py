"""The standalone executor: ``tasks-api worker`` or ``python -m tasks_api.executions``.

Runs the claim loop without the HTTP server, until SIGTERM or SIGINT; then it finishes the batch in
hand and exits, so a rolling deploy leaves nothing CLAIMED behind.
"""

from __future__ import annotations

import asyncio
import signal

from tasks_api import jsonlog
from tasks_api.db.engine import create_engine
from tasks_api.executions.config import ExecutorConfig
from tasks_api.executions.effects import Effects, EventPublisher, TaskEffects
from tasks_api.executions.executor import Executor
from tasks_api.settings import Settings, get_settings


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
    engine = create_engine(settings)
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


def main() -> None:
    settings = get_settings()
    jsonlog.configure(settings.log_level)
    asyncio.run(run_worker(settings))
