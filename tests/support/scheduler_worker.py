"""A real executor process for the multi-process scheduler tests and the benchmark.

``python -m tests.support.scheduler_worker [--effect-delay S]`` runs the production worker
(``tasks_api.executions.worker.run_worker``, configured from the environment like ``tasks-api
worker``); the only difference is an optional pause inside the effect, so that a test can kill the
process while it holds claimed executions.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from tasks_api import jsonlog
from tasks_api.executions.effects import EventPublisher, TaskEffects
from tasks_api.executions.repository import Due
from tasks_api.executions.worker import run_worker
from tasks_api.settings import get_settings


class DelayedEffects(TaskEffects):
    def __init__(self, delay: float, publisher: EventPublisher | None) -> None:
        super().__init__(publisher)
        self.delay = delay

    async def perform(self, batch: Sequence[Due]) -> dict[int, str]:
        await asyncio.sleep(self.delay)
        return await super().perform(batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--effect-delay", type=float, default=0.0)
    args = parser.parse_args()
    settings = get_settings()
    jsonlog.configure(settings.log_level)
    effects = DelayedEffects(args.effect_delay, EventPublisher.from_settings(settings))
    asyncio.run(run_worker(settings, effects))


if __name__ == "__main__":
    main()
