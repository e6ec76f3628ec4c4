"""A task with one more column, ``note``, taken through the whole API: run by test_one_definition.py.

    python -m tests.tasks_api.note_column POSTGRES_URL SQLITE_FILE

In a fresh interpreter, the column is added to the one definition of a task (the ``tasks`` table of
``db.models``) before anything that derives from it is imported, as a new ``mapped_column`` would be; each
database gets it the way a migration would (``op.add_column`` after the migrations). The API then creates,
reads, lists and patches a task with a note on PostgreSQL and on SQLite. Prints a JSON report on stdout.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from sqlalchemy import Column, String
from tasks_api.db.models import CLIENT, Task, tasks_table, written_by

NOTE = Column("note", String(80), nullable=True, info=written_by(CLIENT))
tasks_table.append_column(NOTE)
Task.__mapper__.add_property("note", NOTE)

# Only now: everything below derives its lists from the table.
import httpx  # noqa: E402
from alembic.operations import Operations  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from asgi_lifespan import LifespanManager  # noqa: E402
from sqlalchemy.engine import Connection  # noqa: E402
from tasks_api.app import create_app  # noqa: E402
from tasks_api.db.engine import create_pool, transactional  # noqa: E402
from tasks_api.db.migrate import upgrade  # noqa: E402
from tasks_api.settings import Settings  # noqa: E402

from tests.support.tokens import DEFAULT_CLIENT_ID, JwksServer, TokenFactory, new_signing_key  # noqa: E402

BODY = {"name": "Water the garden", "hour": 6, "minute": 30, "executionDays": "MON", "note": "front lawn"}


def _add_note(connection: Connection) -> None:
    Operations(MigrationContext.configure(connection)).add_column("tasks", NOTE.copy())


async def _migrate(settings: Settings) -> None:
    engine = create_pool(settings)
    try:
        await upgrade(transactional(engine))
        async with transactional(engine).begin() as conn:
            await conn.run_sync(_add_note)
    finally:
        await engine.dispose()


async def _round_trip(settings: Settings, headers: dict[str, str]) -> dict[str, Any]:
    await _migrate(settings)
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            created = await client.post("/api/tasks", json=BODY, headers=headers)
            url = created.headers.get("location", "/api/tasks/0")
            fetched = await client.get(url, headers=headers)
            listed = await client.get("/api/tasks", headers=headers)
            tag = {"If-Match": fetched.headers.get("etag", "")}
            patched = await client.patch(url, json={"note": "back yard"}, headers={**headers, **tag})
            cleared = await client.patch(url, json={"note": None}, headers=headers)
            too_long = await client.patch(url, json={"note": "x" * 81}, headers=headers)
    return {
        "created": [created.status_code, created.json()],
        "fetched": fetched.json(),
        "listed": listed.json(),
        "patched": [patched.status_code, patched.json()],
        "cleared": cleared.json(),
        "too_long": too_long.status_code,
    }


async def main(postgres_url: str, sqlite_file: str) -> dict[str, Any]:
    key = new_signing_key("note-key")
    with JwksServer([key]) as jwks:
        common: dict[str, Any] = {
            "auth_issuer": jwks.issuer,
            "auth_client_ids": [DEFAULT_CLIENT_ID],
            "scheduler_enabled": False,
            "migrate_on_start": False,
            "write_rate_per_minute": 0,
        }
        headers = TokenFactory(issuer=jwks.issuer, key=key).bearer("note-owner")
        schemas = create_app(Settings(database_url=None, **common)).openapi()["components"]["schemas"]
        return {
            "openapi": {name: schemas[name]["properties"] for name in ("TaskFields", "TaskPatch", "TaskOut")},
            "postgresql": await _round_trip(Settings(database_url=postgres_url, **common), headers),
            "sqlite": await _round_trip(
                Settings(database_url=None, db_secret=None, sqlite_path=sqlite_file, **common), headers
            ),
        }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
