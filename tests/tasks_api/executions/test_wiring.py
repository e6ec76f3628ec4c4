"""The executor inside the API process (lifespan, wake-up on writes) and as `tasks-api worker`."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from tasks_api.app import create_app
from tasks_api.db.models import Task, TaskExecution
from tasks_api.executions.executor import Executor
from tasks_api.settings import Settings
from tasks_api.state import api_state

from tests.support.tokens import TokenFactory
from tests.tasks_api.executions.conftest import add_task, eventually, executions_of
from tests.tasks_api.executions.processes import ROOT


async def test_the_api_runs_the_executor_and_wakes_it_for_a_sooner_task(
    postgres_url: str, make_settings: Callable[..., Settings], tokens: TokenFactory
) -> None:
    # An hour-long poll: only the API's wake-up can make the loop look again soon.
    settings = make_settings(postgres_url, scheduler_enabled=True, scheduler_poll_interval_seconds=3600)
    app = create_app(settings)
    headers = tokens.bearer("wiring-user")
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        executor = api_state(app).executor
        assert isinstance(executor, Executor)
        await eventually(lambda: executor.stats.passes >= 1, 20, "the first pass")
        await asyncio.sleep(0.2)
        passes = executor.stats.passes
        soon = datetime.now(UTC) + timedelta(minutes=2)
        body = {
            "name": "soon",
            "hour": soon.hour,
            "minute": soon.minute,
            "executionDays": "MON,TUE,WED,THU,FRI,SAT,SUN",
            "timeZone": "UTC",
        }
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            response = await client.post("/api/tasks", json=body, headers=headers)
        assert response.status_code == 201, response.text
        await eventually(lambda: executor.stats.passes > passes, 20, "the wake-up after the create")

        # Make it due now (as if the minute had come): the in-process loop runs it.
        task_id = response.json()["id"]
        now = datetime.now(UTC)
        async with api_state(app).running.engine.begin() as conn:
            await conn.execute(update(Task).where(Task.id == task_id).values(next_run_at=now))
        executor.wake_if_sooner(now)
        await eventually(lambda: executor.stats.succeeded == 1, 20, "the run")
        async with api_state(app).running.engine.connect() as conn:
            status = (await conn.execute(select(TaskExecution.status))).scalar_one()
        assert status == "SUCCEEDED"
    assert executor._task is None  # stopped with the app


async def test_the_api_without_the_scheduler_has_no_executor(
    postgres_url: str, make_settings: Callable[..., Settings]
) -> None:
    app = create_app(make_settings(postgres_url, scheduler_enabled=False))
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        assert api_state(app).executor is None


@pytest.mark.slow
async def test_tasks_api_worker_runs_due_tasks_and_exits_on_sigterm(
    engine: AsyncEngine, postgres_url: str
) -> None:
    task_id = await add_task(engine, next_run_at=datetime.now(UTC))
    env = {**os.environ, "DATABASE_URL": postgres_url, "SCHEDULER_POLL_INTERVAL_SECONDS": "0.2"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tasks_api", "worker", cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        for _ in range(300):
            if [e.status for e in await executions_of(engine, task_id)] == ["SUCCEEDED"]:
                break
            await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0, stderr.decode()
    assert [e.status for e in await executions_of(engine, task_id)] == ["SUCCEEDED"]
    assert b'"event":"task_executed"' in stderr
