"""Alembic, driven from code: upgrade/downgrade on an async engine and the schema check behind readiness.

Migrations are written expand/contract: the code of release N-1 runs on the schema of release N. So a
database at or *ahead of* this code's head is fine to serve from (a rolled-back deploy keeps serving); only
a database behind the head (a migration not applied yet) is not.
"""

from __future__ import annotations

import enum
import logging
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
log = logging.getLogger("tasks_api.migrate")


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        # env.py runs on this connection instead of opening its own (we are already inside an event loop).
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revisions() -> frozenset[str]:
    return frozenset(_scripts().get_heads())


@lru_cache(maxsize=1)
def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions())


class SchemaState(enum.Enum):
    """Where the database's schema stands relative to this code's migrations."""

    AT_HEAD = "at head"
    # A revision this code does not know: a later release migrated, then the deploy was rolled back.
    AHEAD = "ahead of this code"
    BEHIND = "behind this code"

    @property
    def serves(self) -> bool:
        return self is not SchemaState.BEHIND


def schema_state(current: frozenset[str]) -> SchemaState:
    """Classify the database's revisions (from alembic_version) against this code's scripts."""
    if current == head_revisions():
        return SchemaState.AT_HEAD
    if current - known_revisions():
        return SchemaState.AHEAD
    return SchemaState.BEHIND  # empty, or a known revision older than the head


# Replicas started together with MIGRATE_ON_START take turns instead of racing each other.
_MIGRATION_LOCK_ID = 0x7A5C_0001


async def upgrade(engine: AsyncEngine, revision: str = "head") -> bool:
    """Apply migrations up to `revision`; False when the database is already ahead of this code (a rollback
    of a deploy that migrated runs the older `migrate`, which must then change nothing and succeed)."""
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        if revision == "head":
            state, current = await database_schema_state(conn)
            if state is SchemaState.AHEAD:
                log.warning(
                    "database at revision(s) %s, newer than this code's head: nothing to migrate",
                    ", ".join(sorted(current)),
                )
                return False
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
    return True


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


async def current_revisions(conn: AsyncConnection) -> frozenset[str]:
    return await conn.run_sync(lambda sync: frozenset(MigrationContext.configure(sync).get_current_heads()))


async def is_at_head(conn: AsyncConnection) -> bool:
    return await current_revisions(conn) == head_revisions()


async def database_schema_state(conn: AsyncConnection) -> tuple[SchemaState, frozenset[str]]:
    current = await current_revisions(conn)
    return schema_state(current), current
