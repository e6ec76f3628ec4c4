"""The executor inside the API process: started by the app's lifespan when SCHEDULER_ENABLED.

``create_app`` enters ``lifespan(app)`` after the database engine exists and leaves it before the
engine closes. The task service calls the app state's ``schedule_listeners`` after each committed write,
which lets a task due before the loop's next planned look wake it at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from starlette.applications import Starlette

from tasks_api.executions.executor import Executor
from tasks_api.state import api_state


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    state = api_state(app)
    settings = state.settings
    executor = Executor.from_settings(settings, state.running.engine)
    state.executor = executor

    def wake(_task_id: int, next_run_at: datetime | None) -> None:
        executor.wake_if_sooner(next_run_at)

    state.schedule_listeners.append(wake)
    executor.start()
    try:
        yield
    finally:
        state.schedule_listeners.remove(wake)
        # Finish the batch in hand well inside the lease, so a redeploy leaves nothing CLAIMED.
        await executor.stop(grace_seconds=settings.scheduler_lease_seconds / 2)
