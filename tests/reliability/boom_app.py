"""A test-only build of the API: `create_app` plus routes that fail on purpose (uvicorn --factory)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import text
from tasks_api.app import create_app
from tasks_api.settings import Settings
from tasks_api.state import api_state

SECRET = "hunter2-internal-detail"


def create() -> FastAPI:
    app = create_app(Settings())
    router = APIRouter(prefix="/boom")

    @router.get("/raise")
    async def raise_error() -> None:
        raise RuntimeError(f"internal state leaked: password={SECRET}")

    @router.get("/sql")
    async def bad_sql(request: Request) -> None:
        async with api_state(request.app).running.engine.connect() as conn:
            await conn.execute(text("SELECT hunter2_internal_detail FROM no_such_table"))

    @router.get("/constraint")
    async def bad_insert(request: Request) -> None:
        async with api_state(request.app).running.engine.begin() as conn:
            await conn.execute(text("INSERT INTO tasks (id) VALUES (NULL)"))

    app.include_router(router)
    return app
