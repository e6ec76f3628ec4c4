"""The task routes' statements, each defined once in SQLAlchemy Core and run by both stores.

Every statement reads or writes one owner's rows and returns, beside the row, the task's JSON document
(``TaskOut``'s fields in its order) written by the database: ``json_build_object`` on PostgreSQL,
``json_object`` on SQLite. A list page thus reaches Python as a few strings to join rather than rows to
decode, convert and encode again. Timestamps are written as pydantic writes them: UTC, ``Z``, microseconds
only when there are any. Values are always bound parameters, named as the stores pass them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Delete,
    Insert,
    Select,
    Text,
    Update,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from tasks_api.db.models import tasks_table as tasks
from tasks_api.domain.schedule import as_utc
from tasks_api.tasks.repository import (
    WRITABLE_COLUMNS,
    Cursor,
    Page,
    StoredTask,
    TaskFilter,
    like_pattern,
    new_job_id,
)
from tasks_api.tasks.schemas import TaskOut

# The document's (JSON name, column) pairs: TaskOut's fields, in its order.
_DOCUMENT_FIELDS = [(info.alias or name, tasks.c[name]) for name, info in TaskOut.model_fields.items()]
TIMESTAMP_COLUMNS = frozenset(column.name for column in tasks.columns if isinstance(column.type, DateTime))


class TaskDocument(FunctionElement[str]):
    """The task's JSON document, as text, written by the database in its own dialect."""

    type = Text()
    inherit_cache = True
    name = "task_document"


def _postgresql_timestamp(column: Any) -> ColumnElement[Any]:
    utc = func.timezone("UTC", column)
    whole_seconds = func.date_trunc("second", utc) == utc
    pattern = case((whole_seconds, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), else_='YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    return func.to_char(utc, pattern, type_=Text)


def _sqlite_timestamp(column: Any) -> ColumnElement[Any]:
    # SQLite holds UTC as "YYYY-MM-DD HH:MM:SS.ffffff" (the stores write every instant in UTC).
    whole_seconds = func.substr(column, 21, 6) == "000000"
    text = case((whole_seconds, func.substr(column, 1, 19)), else_=func.substr(column, 1, 26))
    return func.replace(text, " ", "T") + literal("Z")


def _document(build: Callable[..., Any], timestamp: Callable[[Any], ColumnElement[Any]]) -> Any:
    pairs: list[Any] = []
    for key, column in _DOCUMENT_FIELDS:
        # Typed, or SQLAlchemy may take the key's type from the argument before it.
        pairs += [literal(key, Text), timestamp(column) if column.name in TIMESTAMP_COLUMNS else column]
    return cast(build(*pairs), Text)


_POSTGRESQL_DOCUMENT = _document(func.json_build_object, _postgresql_timestamp)
_SQLITE_DOCUMENT = _document(func.json_object, _sqlite_timestamp)


@compiles(TaskDocument, "postgresql")
def _compile_postgresql(element: TaskDocument, compiler: SQLCompiler, **kw: Any) -> str:
    # The keys and formats are constants of this module: written into the SQL, not bound per call.
    return compiler.process(_POSTGRESQL_DOCUMENT, literal_binds=True, **kw)


@compiles(TaskDocument, "sqlite")
def _compile_sqlite(element: TaskDocument, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(_SQLITE_DOCUMENT, literal_binds=True, **kw)


DOCUMENT = "document"
_ROW = (*tasks.c, TaskDocument().label(DOCUMENT))
_OWNED = tasks.c.owner_sub == bindparam("owner")
_THIS_TASK = (tasks.c.id == bindparam("task_id"), _OWNED)


def value_param(column: str) -> str:
    """The parameter that carries ``column``'s new value in INSERT and UPDATE."""
    return f"new_{column}"


GET: Select[Any] = select(*_ROW).where(*_THIS_TASK)
INSERT: Insert = (
    insert(tasks)
    .values(
        owner_sub=bindparam("owner"),
        job_id=bindparam("job_id"),
        version=literal_column("1"),
        created_at=bindparam("now"),
        updated_at=bindparam("now"),
        **{column: bindparam(value_param(column)) for column in WRITABLE_COLUMNS},
    )
    .returning(*_ROW)
)
UPDATE: Update = (
    update(tasks)
    .where(*_THIS_TASK, tasks.c.version == bindparam("expected_version"))
    .values(
        version=tasks.c.version + literal_column("1"),
        updated_at=bindparam("now"),
        **{column: bindparam(value_param(column)) for column in WRITABLE_COLUMNS},
    )
    .returning(*_ROW)
)


@lru_cache(maxsize=2)
def delete_statement(at_version: bool) -> Delete:
    statement = delete(tasks).where(*_THIS_TASK)
    return statement.where(tasks.c.version == bindparam("expected_version")) if at_version else statement


# The list's columns: the keyset position, then the document.
LIST_POSITION = ("hour", "minute", "id")


@lru_cache(maxsize=16)
def list_statement(after: bool, status: bool, day: bool, q: bool) -> Select[Any]:
    """The list page for one combination of filters (each stays one prepared statement)."""
    position = tuple_(*(tasks.c[name] for name in LIST_POSITION))
    query = select(*position.clauses, TaskDocument().label(DOCUMENT)).where(_OWNED)
    if after:
        query = query.where(position > tuple_(*(bindparam(f"after_{name}") for name in LIST_POSITION)))
    if status:
        query = query.where(tasks.c.status == bindparam("status"))
    if day:
        query = query.where(tasks.c.execution_days.like(bindparam("day")))
    if q:
        query = query.where(tasks.c.name.ilike(bindparam("q"), escape="\\"))
    return query.order_by(*position.clauses).limit(bindparam("limit"))


def list_params(owner: str, limit: int, after: Cursor | None, filters: TaskFilter) -> dict[str, Any]:
    """The parameters of ``list_statement`` for this page: one row more than asked, to know of a next page."""
    params: dict[str, Any] = {"owner": owner, "limit": limit + 1}
    if after is not None:
        params.update(after_hour=after.hour, after_minute=after.minute, after_id=after.id)
    if filters.status:
        params["status"] = filters.status
    if filters.day:
        params["day"] = f"%{filters.day}%"  # stored days are normalised "MON,WED": names never overlap
    if filters.q:
        params["q"] = like_pattern(filters.q)
    return params


def list_page(rows: list[Any], limit: int) -> Page:
    """The page in ``list_statement``'s rows, fetched with ``list_params`` (one more than ``limit``)."""
    following = None
    if len(rows) > limit:
        del rows[limit:]
        hour, minute, id_, _ = rows[-1]
        following = Cursor(hour, minute, id_)
    return Page(items=[row[3] for row in rows], next=following)


def stored(row: Mapping[Any, Any]) -> StoredTask:
    """The task in a row of GET, INSERT or UPDATE."""
    return StoredTask(values=row, json=row[DOCUMENT].encode())


# --- each statement's parameters, as both stores pass them -----------------------------------------

_NEW_VALUES = tuple((column, value_param(column)) for column in WRITABLE_COLUMNS)
_NEW_TIMESTAMPS = tuple(value_param(column) for column in WRITABLE_COLUMNS if column in TIMESTAMP_COLUMNS)


def _new_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {param: values[column] for column, param in _NEW_VALUES}


def in_utc(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` of INSERT or UPDATE with every instant in UTC, for SQLite: it keeps a timestamp's wall time
    and drops its offset. (PostgreSQL stores the instant whatever the offset.)"""
    for param in _NEW_TIMESTAMPS:
        if params[param] is not None:
            params[param] = as_utc(params[param])
    return params


def get_params(task_id: int, owner: str) -> dict[str, Any]:
    return {"task_id": task_id, "owner": owner}


def insert_params(owner: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """``INSERT``'s parameters: ``values`` (every WRITABLE_COLUMNS entry), a new job id, now."""
    params = _new_values(values)
    params.update(owner=owner, job_id=new_job_id(), now=datetime.now(UTC))
    return params


def update_params(
    task_id: int, owner: str, expected_version: int, values: Mapping[str, Any]
) -> dict[str, Any]:
    params = _new_values(values)
    params.update(task_id=task_id, owner=owner, expected_version=expected_version, now=datetime.now(UTC))
    return params


def delete_params(task_id: int, owner: str, expected_version: int | None) -> dict[str, Any]:
    """``delete_statement(expected_version is not None)``'s parameters."""
    params: dict[str, Any] = {"task_id": task_id, "owner": owner}
    if expected_version is not None:
        params["expected_version"] = expected_version
    return params
