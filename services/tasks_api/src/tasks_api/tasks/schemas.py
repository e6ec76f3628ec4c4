"""The Task resource on the wire: camelCase JSON, as the original's clients expect, with every field rule."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic.alias_generators import to_camel

from tasks_api.domain.days import InvalidDaysError, normalize_days
from tasks_api.domain.schedule import as_utc

Status = Literal["ACT", "INA"]
DeviceOperation = Literal["ACTIVATE", "DEACTIVATE"]
# PostgreSQL text cannot hold NUL: refuse it here (422), not in the database (500).
NO_NUL = r"^[^\x00]*$"
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60, pattern=NO_NUL)]
Hour = Annotated[int, Field(ge=0, le=23, strict=True)]
Minute = Annotated[int, Field(ge=0, le=59, strict=True)]
Description = Annotated[str, StringConstraints(max_length=255, pattern=NO_NUL)]
Command = Annotated[str, StringConstraints(max_length=255, pattern=NO_NUL)]
DeviceId = Annotated[str, StringConstraints(max_length=30, pattern=NO_NUL)]
TimeZoneName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]


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


class _TaskWrite(_Wire):
    """What every write body shares: the server-owned fields a client may echo back (the original's app PUTs
    the whole entity), accepted and ignored, and the checks of the days and the zone."""

    id: int | None = Field(default=None, json_schema_extra={"readOnly": True})
    job_id: str | None = Field(default=None, json_schema_extra={"readOnly": True})
    created_at: datetime | None = Field(default=None, json_schema_extra={"readOnly": True})
    updated_at: datetime | None = Field(default=None, json_schema_extra={"readOnly": True})
    next_run_at: datetime | None = Field(default=None, json_schema_extra={"readOnly": True})

    @field_validator("execution_days", check_fields=False)
    @classmethod
    def _days(cls, value: str | None) -> str | None:
        return None if value is None else check_days(value)

    @field_validator("time_zone", check_fields=False)
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_time_zone(value)


_READ_ONLY_ATTRS = frozenset(_TaskWrite.model_fields)


class TaskFields(_TaskWrite):
    """The writable fields; POST and PUT take all of them (PUT replaces)."""

    name: Name
    description: Description | None = None
    hour: Hour
    minute: Minute
    execution_days: str = Field(examples=["MON,WED,FRI"])
    execution_command: Command | None = None
    execute_until: AwareDatetime | None = None
    time_zone: TimeZoneName | None = Field(default=None, description="IANA zone; defaults to TIME_ZONE")
    status: Status = "ACT"
    device_id: DeviceId | None = None
    device_operation: DeviceOperation | None = None

    def writable(self) -> dict[str, Any]:
        return self.model_dump(exclude=_READ_ONLY_ATTRS)


class TaskPatch(_TaskWrite):
    """A merge patch: only the fields present change."""

    name: Name | None = None
    description: Description | None = None
    hour: Hour | None = None
    minute: Minute | None = None
    execution_days: str | None = None
    execution_command: Command | None = None
    execute_until: AwareDatetime | None = None
    time_zone: TimeZoneName | None = None
    status: Status | None = None
    device_id: DeviceId | None = None
    device_operation: DeviceOperation | None = None

    def changes(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.model_fields_set if k not in _READ_ONLY_ATTRS}


# Fields that may not be set to null by a patch.
REQUIRED_ATTRS = ("name", "hour", "minute", "execution_days", "time_zone", "status")


class TaskOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    id: int
    job_id: str
    name: str
    description: str | None
    hour: int
    minute: int
    execution_days: str
    execution_command: str | None
    execute_until: datetime | None
    time_zone: str
    status: Status
    device_id: str | None
    device_operation: DeviceOperation | None
    next_run_at: datetime | None = Field(description="When the task fires next (UTC); null when never again")
    created_at: datetime
    updated_at: datetime

    @field_validator("execute_until", "next_run_at", "created_at", "updated_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)  # SQLite hands back naive UTC


Day = Literal["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


class ListQuery(BaseModel):
    """The list's query string."""

    model_config = ConfigDict(extra="ignore")

    limit: int | None = Field(default=None, ge=1, description="Page size (default 100, at most 500)")
    cursor: str | None = Field(default=None, max_length=200, description="From the previous page's Link")
    status: Status | None = None
    day: Day | None = Field(default=None, description="Tasks that run on this day")
    q: str | None = Field(
        default=None, min_length=1, max_length=60, pattern=NO_NUL, description="Name contains"
    )
