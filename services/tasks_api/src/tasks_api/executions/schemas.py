"""The execution history as the API returns it (camelCase, like the task resource)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator
from pydantic.alias_generators import to_camel

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


class InvalidCursorError(ValueError):
    pass


def encode_cursor(slot: datetime, execution_id: int) -> str:
    raw = json.dumps([as_utc(slot).isoformat(), execution_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[datetime, int]:
    try:
        slot_text, execution_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        slot = datetime.fromisoformat(slot_text)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCursorError(text) from exc
    if slot.tzinfo is None or not isinstance(execution_id, int) or isinstance(execution_id, bool):
        raise InvalidCursorError(text)
    return as_utc(slot), execution_id
