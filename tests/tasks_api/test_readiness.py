"""Readiness against the database's schema: behind the code's head is not ready; at or ahead of it is.

A deploy that migrated and was then rolled back leaves the database at a revision the old code does not
know. The old tasks must still become ready (with one warning in the log), or the rollback never finishes.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from tasks_api.app import create_app
from tasks_api.db import migrate
from tasks_api.db.migrate import SchemaState, schema_state

from tests.tasks_api.conftest import _client

FUTURE_REVISION = "9999_from_a_later_release"


async def _set_revision(url: str, revision: str) -> None:
    """Migrate to head, then record `revision` in alembic_version as a later release's migration would."""
    engine = create_async_engine(url)
    try:
        await migrate.upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        await engine.dispose()


def test_schema_state_classifies_behind_at_and_ahead_of_head() -> None:
    (head,) = migrate.head_revisions()
    older = migrate.known_revisions() - {head}
    assert schema_state(frozenset({head})) is SchemaState.AT_HEAD
    assert schema_state(frozenset()) is SchemaState.BEHIND
    assert all(schema_state(frozenset({rev})) is SchemaState.BEHIND for rev in older)
    assert schema_state(frozenset({FUTURE_REVISION})) is SchemaState.AHEAD
    assert [s.serves for s in SchemaState] == [True, True, False]


async def test_a_database_ahead_of_the_code_is_ready_with_one_warning(
    make_settings, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await _set_revision(postgres_url, FUTURE_REVISION)
    settings = make_settings(postgres_url, migrate_on_start=False)
    caplog.set_level(logging.WARNING, logger="tasks_api.health")
    async for client in _client(create_app(settings)):
        for _ in range(3):  # the ALB asks again and again; the log says it once
            response = await client.get("/health/ready")
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "UP"
    warnings = [r.getMessage() for r in caplog.records if r.name == "tasks_api.health"]
    assert len(warnings) == 1, warnings
    assert FUTURE_REVISION in warnings[0]
    assert "newer than this code" in warnings[0]


async def test_a_database_behind_the_code_is_not_ready(make_settings, postgres_url: str) -> None:
    older = sorted(migrate.known_revisions() - migrate.head_revisions())
    assert older, "needs at least two migrations"
    engine = create_async_engine(postgres_url)
    try:
        await migrate.upgrade(engine, older[-1])
    finally:
        await engine.dispose()
    async for client in _client(create_app(make_settings(postgres_url, migrate_on_start=False))):
        response = await client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["reason"] == "database schema is behind this code's latest migration"


async def test_migrate_on_a_database_ahead_of_the_code_changes_nothing(postgres_url: str) -> None:
    """A rolled-back deploy runs the older `tasks-api migrate`: it succeeds without touching the schema."""
    await _set_revision(postgres_url, FUTURE_REVISION)
    engine = create_async_engine(postgres_url)
    try:
        assert await migrate.upgrade(engine) is False
        async with engine.connect() as conn:
            assert await migrate.current_revisions(conn) == frozenset({FUTURE_REVISION})
    finally:
        await engine.dispose()
