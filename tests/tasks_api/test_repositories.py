"""Both task stores keep the same contract: PostgreSQL through asyncpg, and the embedded SQLite.

Each test runs against both, on real databases: a fresh PostgreSQL database and a SQLite file.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pydantic.alias_generators import to_camel
from tasks_api.db.engine import create_pool, transactional
from tasks_api.db.migrate import upgrade
from tasks_api.db.request_pool import create_request_pool
from tasks_api.db.retry import ReadRetry
from tasks_api.settings import Settings
from tasks_api.tasks.repository import Cursor, TaskFilter, TaskRepository
from tasks_api.tasks.schemas import TaskOut
from tasks_api.tasks.store_postgres import PostgresTaskStore
from tasks_api.tasks.store_sqlite import SqliteTaskStore

Repositories = Callable[[str], TaskRepository]


def _values(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "Water the garden",
        "description": None,
        "hour": 6,
        "minute": 30,
        "execution_days": "MON,WED,FRI",
        "execution_command": None,
        "execute_until": None,
        "time_zone": "America/Guayaquil",
        "status": "ACT",
        "device_id": None,
        "device_operation": None,
        "next_run_at": None,
    }
    values.update(overrides)
    return values


@pytest_asyncio.fixture(params=["postgresql", "sqlite"], loop_scope="session")
async def repositories(
    request: pytest.FixtureRequest, postgres_url: str, tmp_path: Path
) -> AsyncIterator[Repositories]:
    retry = ReadRetry(0)
    if request.param == "postgresql":
        settings = Settings(database_url=postgres_url)  # type: ignore[arg-type]
    else:
        settings = Settings(database_url=None, db_secret=None, sqlite_path=tmp_path / "tasks.db")
    engine = create_pool(settings)
    try:
        await upgrade(transactional(engine))
        if request.param == "postgresql":
            pool = create_request_pool(settings)
            try:
                yield lambda owner: PostgresTaskStore(pool, owner, retry)
            finally:
                await pool.close()
        else:
            yield lambda owner: SqliteTaskStore(engine, owner, retry)
    finally:
        await engine.dispose()


async def test_create_get_update_delete(repositories: Repositories) -> None:
    alice = repositories("alice")
    created = await alice.create(_values())
    assert created.version == 1
    assert json.loads(created.json)["name"] == "Water the garden"
    fetched = await alice.get(created.id)
    assert fetched is not None
    assert fetched.json == created.json

    updated = await alice.update(created.id, 1, _values(minute=45))
    assert updated is not None
    assert updated.version == 2
    assert json.loads(updated.json)["minute"] == 45
    assert await alice.update(created.id, 1, _values(minute=50)) is None  # stale version: nothing written
    assert json.loads((await alice.get(created.id)).json)["minute"] == 45  # type: ignore[union-attr]

    assert await alice.delete(created.id, expected_version=1) is False
    assert await alice.delete(created.id, expected_version=2) is True
    assert await alice.get(created.id) is None
    assert await alice.delete(created.id) is False


async def test_every_method_is_scoped_to_the_owner(repositories: Repositories) -> None:
    alice, bob = repositories("alice"), repositories("bob")
    task = await alice.create(_values())
    assert await bob.get(task.id) is None
    assert await bob.update(task.id, 1, _values(name="taken")) is None
    assert await bob.delete(task.id) is False
    assert (await bob.list(limit=10, after=None, filters=TaskFilter())).items == []
    still = await alice.get(task.id)
    assert still is not None
    assert json.loads(still.json)["name"] == "Water the garden"


async def test_pages_in_time_order_with_a_cursor(repositories: Repositories) -> None:
    alice = repositories("alice")
    times = [(23, 59), (0, 0), (6, 30), (6, 30), (12, 5), (6, 29), (0, 1)]
    for hour, minute in times:
        await alice.create(_values(hour=hour, minute=minute))
    seen: list[tuple[int, int]] = []
    after: Cursor | None = None
    pages = 0
    while True:
        page = await alice.list(limit=3, after=after, filters=TaskFilter())
        pages += 1
        seen += [(d["hour"], d["minute"]) for d in map(json.loads, page.items)]
        if page.next is None:
            break
        after = page.next
    assert seen == sorted(times)
    assert pages == 3


async def test_filters(repositories: Repositories) -> None:
    alice = repositories("alice")
    await alice.create(_values(name="Morning lights", execution_days="MON,TUE", status="INA"))
    await alice.create(_values(name="100% humid_fan", execution_days="WED"))
    await alice.create(_values(name="Evening LIGHTS", execution_days="SAT,SUN"))

    async def names(**filters: str) -> list[str]:
        page = await alice.list(limit=10, after=None, filters=TaskFilter(**filters))
        return sorted(json.loads(item)["name"] for item in page.items)

    assert await names(q="lights") == ["Evening LIGHTS", "Morning lights"]
    assert await names(q="%") == ["100% humid_fan"]  # LIKE wildcards are matched literally
    assert await names(q="m_d") == []  # would match "humid" as a wildcard
    assert await names(q="d_f") == ["100% humid_fan"]
    assert await names(day="WED") == ["100% humid_fan"]
    assert await names(status="INA") == ["Morning lights"]
    assert await names(status="ACT", day="SUN", q="evening") == ["Evening LIGHTS"]


EDGE_CASES = [
    _values(),
    _values(
        name='quote " backslash \\ tab \t newline \n ñ ✓ \U0001f331',
        description="</script>",
        execute_until=datetime(2031, 3, 29, 1, 30, tzinfo=UTC),  # whole seconds: no fraction written
        next_run_at=datetime(2030, 1, 2, 3, 4, 5, 120000, tzinfo=UTC),  # trailing zeros kept, as pydantic
        device_id="d",
        device_operation="DEACTIVATE",
        execution_command="",
    ),
    _values(
        execute_until=datetime(2030, 6, 1, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        next_run_at=datetime(2030, 6, 1, 6, 0, 0, 999999, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize("values", EDGE_CASES, ids=["plain", "text-and-whole-seconds", "offset-and-micros"])
async def test_documents_are_what_task_out_writes(
    repositories: Repositories, values: dict, request: pytest.FixtureRequest
) -> None:
    alice = repositories("alice")
    created = await alice.create(values)
    fetched = await alice.get(created.id)
    listed = (await alice.list(limit=5, after=None, filters=TaskFilter())).items
    assert fetched is not None
    expected = TaskOut.model_validate(dict(fetched.values)).model_dump_json(by_alias=True)
    for column in ("execute_until", "next_run_at"):  # the same instants as written, whatever their offset
        if values[column] is not None:
            written = datetime.fromisoformat(json.loads(expected)[to_camel(column)])
            assert written == values[column]
    for document in (created.json.decode(), fetched.json.decode(), listed[0]):
        assert json.loads(document) == json.loads(expected)
        assert list(json.loads(document)) == list(json.loads(expected))  # same field order
    if request.node.callspec.params["repositories"] == "sqlite":
        # SQLite's json_object writes what pydantic writes, byte for byte (PostgreSQL adds spaces).
        assert fetched.json.decode() == expected
