"""Migrations: up and down on Postgres and SQLite, and the models agree with what the migrations build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from tasks_api.db import migrate
from tasks_api.db.models import Base

TABLES = {"tasks", "task_executions"}


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def _diff(engine: AsyncEngine) -> list:
    def compare(sync_conn):
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as conn:
        return await conn.run_sync(compare)


async def _round_trip(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)
    assert await _tables(engine) >= TABLES
    async with engine.connect() as conn:
        assert await migrate.is_at_head(conn)
    # `alembic check`: autogenerate finds nothing to add, drop or alter.
    assert await _diff(engine) == []

    await migrate.downgrade(engine, "base")
    assert not (TABLES & await _tables(engine))
    async with engine.connect() as conn:
        assert not await migrate.is_at_head(conn)

    await migrate.upgrade(engine)
    assert await _tables(engine) >= TABLES


async def test_postgres_up_down_up(postgres_url: str) -> None:
    engine = create_async_engine(postgres_url)
    try:
        await _round_trip(engine)
    finally:
        await engine.dispose()


async def test_sqlite_up_down_up(tmp_path: Path) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    try:
        await _round_trip(engine)
    finally:
        await engine.dispose()


def test_single_head() -> None:
    assert len(migrate.head_revisions()) == 1


@pytest.mark.slow
def test_cli_migrate_up_and_down(postgres_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": postgres_url}
    up = subprocess.run(
        [sys.executable, "-m", "tasks_api", "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert up.returncode == 0, up.stderr
    down = subprocess.run(
        [sys.executable, "-m", "tasks_api", "migrate", "--down"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert down.returncode == 0, down.stderr


def test_cli_migrate_unreachable_database_is_a_clear_error() -> None:
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
        "DB_POOL_TIMEOUT_SECONDS": "2",
        "DB_WAIT_SECONDS": "2",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tasks_api", "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "cannot reach the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_bad_secret_is_a_clear_error() -> None:
    env = {**os.environ, "DB_SECRET": "{not json"}
    result = subprocess.run(
        [sys.executable, "-m", "tasks_api", "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "DB_SECRET" in result.stderr
