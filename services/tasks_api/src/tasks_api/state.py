"""What the app holds for the life of its process, typed: one ``AppState`` set once as ``app.state.api``.

Built in two steps: ``create_app`` sets what exists before start (settings, readiness, the rate limiter,
the listeners and hooks); the lifespan opens the database and the token verifier (``Running``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.applications import Starlette

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from tasks_api.auth import AccessTokenVerifier
    from tasks_api.executions.executor import Executor
    from tasks_api.health import Readiness
    from tasks_api.ratelimit import WriteRateLimiter
    from tasks_api.settings import Settings
    from tasks_api.tasks.repository import TaskRepository
    from tasks_api.tasks.service import ScheduleListener

# Something to run for the life of the app (entered after the database is ready, left before it closes).
LifespanHook = Callable[[Starlette], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class Running:
    """What the lifespan opens and closes."""

    engine: AsyncEngine  # transactional (BEGIN ... COMMIT): the executor, migrations, readiness
    sessionmaker: async_sessionmaker[AsyncSession]
    task_repository: Callable[[str], TaskRepository]  # owner sub -> that owner's tasks
    verifier: AccessTokenVerifier


@dataclass
class AppState:
    settings: Settings
    readiness: Readiness
    write_limiter: WriteRateLimiter
    # Called with (task id, next run) after each committed task write; the executor registers here.
    schedule_listeners: list[ScheduleListener] = field(default_factory=list)
    # Entered in order during the lifespan; the executor's hook is added when the scheduler is enabled.
    lifespan_hooks: list[LifespanHook] = field(default_factory=list)
    executor: Executor | None = None
    _running: Running | None = None

    @property
    def running(self) -> Running:
        if self._running is None:
            raise RuntimeError("the app has not started: its database and verifier open in its lifespan")
        return self._running

    def start(self, running: Running) -> None:
        self._running = running

    def stop(self) -> None:
        self._running = None


def api_state(app: Starlette) -> AppState:
    """The app's state (set by ``create_app``)."""
    state: AppState = app.state.api
    return state
