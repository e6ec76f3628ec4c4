"""The engine contract: create_engine() runs real transactions; the API's pool view is autocommit."""

from __future__ import annotations

from sqlalchemy import text
from tasks_api.db import migrate
from tasks_api.db.engine import create_engine, create_pool, transactional
from tasks_api.settings import Settings

COUNT = text("SELECT count(*) FROM tasks WHERE owner_sub = 'engine-test'")
INSERT = text(
    "INSERT INTO tasks (owner_sub, job_id, name, hour, minute, execution_days, time_zone, status, version) "
    "VALUES ('engine-test', :job, 'n', 1, 1, 'MON', 'UTC', 'ACT', 1)"
)


async def test_create_engine_is_transactional_and_pool_is_autocommit(postgres_url: str) -> None:
    settings = Settings(database_url=postgres_url)
    engine = create_engine(settings)
    try:
        await migrate.upgrade(engine)
        # A rolled-back transaction leaves nothing behind (what SKIP LOCKED claims rely on) ...
        async with engine.connect() as conn:
            await conn.execute(INSERT, {"job": "a"})
            await conn.rollback()
            assert (await conn.execute(COUNT)).scalar_one() == 0
    finally:
        await engine.dispose()

    pool = create_pool(settings)
    try:
        # ... while each statement on the pool itself commits on its own.
        async with pool.connect() as conn:
            await conn.execute(INSERT, {"job": "b"})
            await conn.rollback()
        async with transactional(pool).connect() as conn:
            assert (await conn.execute(COUNT)).scalar_one() == 1
    finally:
        await pool.dispose()
