"""The executor inside the API process: started by the app's lifespan when SCHEDULER_ENABLED.

``create_app`` enters ``lifespan(app)`` after the database engine exists and leaves it before the
engine closes. The task service calls ``app.state.schedule_listeners`` after each committed write,
which lets a task due before the loop's next planned look wake it at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI

from tasks_api.executions.executor import Executor


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    executor = Executor.from_settings(settings, app.state.engine)
    app.state.executor = executor

    def wake(_task_id: int, next_run_at: datetime | None) -> None:
        executor.wake_if_sooner(next_run_at)

    app.state.schedule_listeners.append(wake)
    executor.start()
    try:
        yield
    finally:
        app.state.schedule_listeners.remove(wake)
        # Finish the batch in hand well inside the lease, so a redeploy leaves nothing CLAIMED.
        await executor.stop(grace_seconds=settings.scheduler_lease_seconds / 2)
