"""The task statements compiled for asyncpg: every value a parameter, passed in ``$n`` order."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, literal, select
from tasks_api.db.models import tasks_table
from tasks_api.tasks import statements
from tasks_api.tasks.repository import WRITABLE_COLUMNS
from tasks_api.tasks.store_postgres import AsyncpgStatement


def test_parameters_are_passed_in_dollar_order() -> None:
    compiled = AsyncpgStatement.compile(
        select(tasks_table.c.id).where(
            tasks_table.c.owner_sub == bindparam("owner"), tasks_table.c.id == bindparam("task_id")
        )
    )
    assert compiled.sql.endswith("WHERE tasks.owner_sub = $1::VARCHAR AND tasks.id = $2::BIGINT")
    assert compiled.args({"task_id": 7, "owner": "alice", "unused": 0}) == ("alice", 7)
    single = AsyncpgStatement.compile(
        select(tasks_table.c.id).where(tasks_table.c.id == bindparam("task_id"))
    )
    assert single.args({"task_id": 7}) == (7,)


def test_a_statement_may_not_bind_a_value_of_its_own() -> None:
    # asyncpg gets only what the caller passes: a value fixed in the statement would be silently dropped.
    with pytest.raises(ValueError, match="binds values of its own"):
        AsyncpgStatement.compile(select(literal(1)))


def test_writes_carry_every_writable_column() -> None:
    new_values = {statements.value_param(column) for column in WRITABLE_COLUMNS}
    insert = AsyncpgStatement.compile(statements.INSERT)
    assert set(insert.names) == new_values | {"owner", "job_id", "now"}
    update = AsyncpgStatement.compile(statements.UPDATE)
    assert set(update.names) == new_values | {"task_id", "owner", "expected_version", "now"}
