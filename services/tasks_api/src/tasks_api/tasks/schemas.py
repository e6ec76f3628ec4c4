"""The Task resource on the wire: camelCase JSON, as the original's clients expect, with every field rule.

The models' fields are derived from the task's columns (``db.models.Task``, see there why): each column's
access decides the models it appears in, its type, length and nullability its checks, and ``RULES`` adds what
a column cannot state. A new column appears in TaskFields, TaskPatch and TaskOut without a change here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar, cast, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
    field_validator,
)
from pydantic.alias_generators import to_camel
from sqlalchemy import Column

from tasks_api.db.models import Access, task_columns
from tasks_api.domain.days import InvalidDaysError, normalize_days
from tasks_api.domain.schedule import as_utc
from tasks_api.paging import PageQuery

Status = Literal["ACT", "INA"]
DeviceOperation = Literal["ACTIVATE", "DEACTIVATE"]
# PostgreSQL text cannot hold NUL: refuse it here (422), not in the database (500).
NO_NUL = r"^[^\x00]*$"


def check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("is not a known IANA time zone, such as America/Guayaquil") from None
    return value


def check_days(value: str) -> str:
    try:
        return normalize_days(value)
    except InvalidDaysError as exc:
        raise ValueError(str(exc)) from None


class _Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


@dataclass(frozen=True)
class Rule:
    """What the API checks of a task column beyond its type, length and nullability (derived from the column).

    ``type`` replaces the derived value type; ``text`` adds string constraints, ``number`` numeric ones;
    ``optional`` lets a write leave out a column the service then fills; ``doc`` is a ``Field`` for the full
    write body (TaskFields) only, ``out_doc`` one for the response (TaskOut).
    """

    type: Any = None
    text: Mapping[str, Any] = field(default_factory=dict)
    number: Mapping[str, Any] = field(default_factory=dict)
    optional: bool = False
    doc: Mapping[str, Any] = field(default_factory=dict)
    out_doc: Mapping[str, Any] = field(default_factory=dict)


# Only the columns with a rule the table cannot state; any other column gets its derived type.
RULES: dict[str, Rule] = {
    "name": Rule(text={"strip_whitespace": True, "min_length": 1}),
    "hour": Rule(number={"ge": 0, "le": 23}),
    "minute": Rule(number={"ge": 0, "le": 59}),
    # Checked and normalised by the validator below; the normal form fits the column.
    "execution_days": Rule(type=str, doc={"examples": ["MON,WED,FRI"]}),
    "time_zone": Rule(
        text={"min_length": 1}, optional=True, doc={"description": "IANA zone; defaults to TIME_ZONE"}
    ),
    "status": Rule(type=Status),
    "device_operation": Rule(type=DeviceOperation),
    "next_run_at": Rule(out_doc={"description": "When the task fires next (UTC); null when never again"}),
}

_CLIENT = task_columns(Access.CLIENT)
# What a write body may echo back from a read (the original's app PUTs the whole entity): the store's fields,
# then the service's, each in the table's order.
_ECHOED = task_columns(Access.STORE) + task_columns(Access.SERVICE)
_ON_THE_WIRE = task_columns(Access.CLIENT, Access.SERVICE, Access.STORE)
_unknown = set(RULES) - {column.name for column in _ON_THE_WIRE}
if _unknown:
    raise LookupError(f"rules for columns the task does not have on the wire: {sorted(_unknown)}")


def _stored_type(column: Column[Any]) -> Any:
    """The Python type a column holds, as the API states it (with its rule's allowed values, if any)."""
    rule = RULES.get(column.name)
    if rule is not None and rule.type is not None and get_origin(rule.type) is Literal:
        return rule.type
    return column.type.python_type


def _write_type(column: Column[Any]) -> Any:
    """The checked type of a client column's value: the column's type and length, and its rule."""
    rule = RULES.get(column.name, Rule())
    if rule.type is not None:
        return rule.type
    python_type = column.type.python_type
    if python_type is str:
        length = getattr(column.type, "length", None)
        return Annotated[str, StringConstraints(max_length=length, pattern=NO_NUL, **rule.text)]
    if python_type is int:
        return Annotated[int, Field(strict=True, **rule.number)]
    if python_type is datetime:
        return AwareDatetime
    return python_type


def _default(column: Column[Any]) -> Any:
    if column.default is not None and column.default.is_scalar:
        return getattr(column.default, "arg", None)
    return None


def _full_field(column: Column[Any]) -> tuple[Any, Any]:
    """A client column in a full write (POST, PUT): required unless nullable, defaulted or optional."""
    rule = RULES.get(column.name, Rule())
    value_type = _write_type(column)
    if column.nullable or rule.optional:
        return value_type | None, Field(default=None, **rule.doc)
    default = _default(column)
    if default is not None:
        return value_type, Field(default=default, **rule.doc)
    return value_type, Field(**rule.doc)


def _echoed_field(column: Column[Any]) -> tuple[Any, Any]:
    return column.type.python_type | None, Field(default=None, json_schema_extra={"readOnly": True})


def _out_field(column: Column[Any]) -> tuple[Any, Any]:
    value_type = _stored_type(column)
    if column.nullable:
        value_type = value_type | None
    return value_type, Field(**RULES.get(column.name, Rule()).out_doc)


M = TypeVar("M", bound=BaseModel)


def _fields(definitions: Mapping[str, tuple[Any, Any]]) -> Callable[[type[M]], type[M]]:
    """Class decorator: the model with ``definitions`` as its fields, after those of its bases."""

    def build(model: type[M]) -> type[M]:
        return create_model(  # type: ignore[call-overload, no-any-return]
            model.__name__,
            __base__=model,
            __module__=model.__module__,
            __doc__=model.__doc__,
            **definitions,
        )

    return build


class TaskBody(_Wire):
    """What every write body shares: the fields a client may echo back, accepted and ignored, and the checks
    of the days and the zone."""

    @field_validator("execution_days", check_fields=False)
    @classmethod
    def _days(cls, value: str | None) -> str | None:
        return None if value is None else check_days(value)

    @field_validator("time_zone", check_fields=False)
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_time_zone(value)

    def stated_id(self) -> int | None:
        """The id the body carries, if any (it may only repeat the path's)."""
        return cast(int | None, getattr(self, "id", None))


_ECHOED_FIELDS = {column.name: _echoed_field(column) for column in _ECHOED}
_ECHOED_ATTRS = set(_ECHOED_FIELDS)


@_fields({**_ECHOED_FIELDS, **{column.name: _full_field(column) for column in _CLIENT}})
class TaskFields(TaskBody):
    """The writable fields; POST and PUT take all of them (PUT replaces)."""

    def writable(self) -> dict[str, Any]:
        return self.model_dump(exclude=_ECHOED_ATTRS)


@_fields({**_ECHOED_FIELDS, **{column.name: (_write_type(column) | None, None) for column in _CLIENT}})
class TaskPatch(TaskBody):
    """A merge patch: only the fields present change."""

    def changes(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.model_fields_set if k not in _ECHOED_ATTRS}


# Fields that may not be set to null by a patch.
REQUIRED_ATTRS = tuple(column.name for column in _CLIENT if not column.nullable)


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    @field_validator("*")
    @classmethod
    def _aware(cls, value: Any) -> Any:
        # SQLite hands back naive UTC.
        return as_utc(value) if isinstance(value, datetime) else value


@_fields({column.name: _out_field(column) for column in _ON_THE_WIRE})
class TaskOut(_Out):
    pass


Day = Literal["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


class ListQuery(PageQuery):
    """The task list's query string: a page, and its filters."""

    status: Status | None = None
    day: Day | None = Field(default=None, description="Tasks that run on this day")
    q: str | None = Field(
        default=None, min_length=1, max_length=60, pattern=NO_NUL, description="Name contains"
    )
