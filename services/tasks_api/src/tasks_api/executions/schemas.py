"""The execution history as the API returns it (camelCase, like the task resource)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from pydantic.alias_generators import to_camel

from tasks_api import paging
from tasks_api.domain.schedule import as_utc


class ExecutionOut(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    id: int
    task_id: int
    slot: datetime = Field(validation_alias="scheduled_for", description="The instant the task was due (UTC)")
    status: Literal["CLAIMED", "SUCCEEDED", "FAILED", "MISSED"]
    attempts: int = Field(description="Effect attempts made so far (0 for a missed slot)")
    started_at: datetime | None = Field(description="When the latest attempt started")
    finished_at: datetime | None = Field(description="When it succeeded, failed for good, or was missed")
    error: str | None = Field(description="Why the latest attempt failed, or why the slot was missed")

    @field_validator("slot", "started_at", "finished_at", mode="after")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)


ExecutionList = TypeAdapter(list[ExecutionOut])


def encode_cursor(slot: datetime, execution_id: int) -> str:
    """The cursor after the execution at ``slot`` with ``execution_id`` (newest first)."""
    return paging.encode_cursor((as_utc(slot).isoformat(), execution_id))


def decode_cursor(text: str) -> tuple[datetime, int]:
    """The (slot, id) in a cursor; raises ``paging.InvalidCursorError`` for one this API did not write."""
    slot_text, execution_id = paging.decode_cursor(text, (str, int))
    try:
        slot = datetime.fromisoformat(str(slot_text))
    except ValueError as exc:
        raise paging.InvalidCursorError(text) from exc
    if slot.tzinfo is None:
        raise paging.InvalidCursorError(text)
    return as_utc(slot), int(execution_id)
