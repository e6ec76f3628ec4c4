"""The task routes' statements, each defined once in SQLAlchemy Core and run by both stores.

Every statement reads or writes one owner's rows and returns, beside the row, the task's JSON document
(``TaskOut``'s fields in its order) written by the database. A list page thus reaches Python as a few strings
to join rather than rows to decode, convert and encode again. The fields are defined once
(``_document_fields``) and written two ways: for one row (read, insert, update) with ``json_build_object``
(PostgreSQL) or ``json_object`` (SQLite); for a list page, the page is a derived table whose columns are those
fields, and PostgreSQL writes each of its rows with ``row_to_json``, which costs the database about a quarter
less than building each object key by key (docs/performance.md). Timestamps are written as pydantic writes
them: UTC, ``Z``, microseconds only when there are any. Values are always bound parameters, named as the
stores pass them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    DateTime,
    Delete,
    Insert,
    Select,
    Text,
    Update,
    bindparam,
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


class UtcText(FunctionElement[str]):
    """A timestamp column as the API writes it, in the database's own dialect: UTC, ``Z``, microseconds only
    when there are any."""

    type = Text()
    inherit_cache = True
    name = "utc_text"


def _with_constants(compiler: SQLCompiler, expression: Any, kw: dict[str, Any]) -> str:
    # The keys and formats are constants of this module: written into the SQL, not bound per call.
    return compiler.process(expression, **{**kw, "literal_binds": True})


@compiles(UtcText, "postgresql")
def _postgresql_timestamp(element: UtcText, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    # Always with microseconds, then ".000000" dropped: one to_char, cheaper than testing for whole seconds.
    text = func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    return _with_constants(compiler, func.replace(text, ".000000Z", "Z"), kw)


@compiles(UtcText, "sqlite")
def _sqlite_timestamp(element: UtcText, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    # SQLite holds UTC as "YYYY-MM-DD HH:MM:SS.ffffff" (the stores write every instant in UTC).
    text = func.replace(column, " ", "T") + literal("Z")
    return _with_constants(compiler, func.replace(text, ".000000Z", "Z"), kw)


def _document_fields() -> list[Any]:
    """The document's fields as columns of ``tasks``, each labelled with its JSON name, timestamps as text."""
    return [
        (UtcText(column) if column.name in TIMESTAMP_COLUMNS else column).label(key)
        for key, column in _DOCUMENT_FIELDS
    ]


class JsonObject(FunctionElement[str]):
    """A JSON object, as text, of the labelled columns given: their labels are its keys, in their order."""

    type = Text()
    inherit_cache = True
    name = "json_object_of"


def _pairs(element: JsonObject) -> list[Any]:
    pairs: list[Any] = []
    for field in element.clauses:
        # Typed, or SQLAlchemy may take the key's type from the argument before it.
        pairs += [literal(field.name, Text), getattr(field, "element", field)]
    return pairs


@compiles(JsonObject, "postgresql")
def _postgresql_object(element: JsonObject, compiler: SQLCompiler, **kw: Any) -> str:
    return _with_constants(compiler, cast(func.json_build_object(*_pairs(element)), Text), kw)


@compiles(JsonObject, "sqlite")
def _sqlite_object(element: JsonObject, compiler: SQLCompiler, **kw: Any) -> str:
    return _with_constants(compiler, func.json_object(*_pairs(element)), kw)


class JsonRow(FunctionElement[str]):
    """A JSON object, as text, of one row of a derived table: each of its columns (given) a key."""

    type = Text()
    inherit_cache = True
    name = "json_row"


@compiles(JsonRow, "postgresql")
def _postgresql_row(element: JsonRow, compiler: SQLCompiler, **kw: Any) -> str:
    table = next(iter(element.clauses)).table
    return compiler.process(cast(func.row_to_json(table.table_valued()), Text), **kw)


@compiles(JsonRow, "sqlite")
def _sqlite_row(element: JsonRow, compiler: SQLCompiler, **kw: Any) -> str:
    pairs: list[Any] = []
    for column in element.clauses:
        pairs += [literal(column.name, Text), column]
    return _with_constants(compiler, func.json_object(*pairs), kw)


DOCUMENT = "document"
_ROW = (*tasks.c, JsonObject(*_document_fields()).label(DOCUMENT))
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


_JSON_NAME = {column.name: key for key, column in _DOCUMENT_FIELDS}


@lru_cache(maxsize=16)
def list_statement(after: bool, status: bool, day: bool, q: bool) -> Select[Any]:
    """The list page for one combination of filters (each stays one prepared statement): the page's rows as
    a derived table of the document's fields, then each row's position and JSON."""
    position = tuple_(*(tasks.c[name] for name in LIST_POSITION))
    query = select(*_document_fields()).where(_OWNED)
    if after:
        query = query.where(position > tuple_(*(bindparam(f"after_{name}") for name in LIST_POSITION)))
    if status:
        query = query.where(tasks.c.status == bindparam("status"))
    if day:
        query = query.where(tasks.c.execution_days.like(bindparam("day")))
    if q:
        query = query.where(tasks.c.name.ilike(bindparam("q"), escape="\\"))
    page = query.order_by(*position.clauses).limit(bindparam("limit")).subquery("page")
    page_position = [page.c[_JSON_NAME[name]] for name in LIST_POSITION]
    return select(*page_position, JsonRow(*page.c).label(DOCUMENT)).order_by(*page_position)


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
