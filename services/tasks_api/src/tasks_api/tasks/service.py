"""Task use cases: validation that needs the clock or the stored row, nextRunAt, optimistic concurrency.

Every write is one conditional statement (autocommit): the row is written only if it is still at the
version that was read, so there is no transaction to hold open between the read and the write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from tasks_api.domain.days import parse_days
from tasks_api.domain.schedule import Schedule, next_fire_time
from tasks_api.problems import INVALID_FIELDS, ProblemError, field_error, field_errors
from tasks_api.tasks.repository import Cursor, Page, StoredTask, TaskFilter, TaskRepository
from tasks_api.tasks.schemas import REQUIRED_ATTRS, TaskBody, TaskFields, TaskPatch

log = logging.getLogger("tasks_api.tasks")

# Called after a commit with (task id, next run); the scheduler uses it to wake early for a sooner task.
ScheduleListener = Callable[[int, datetime | None], None]


def etag(task: StoredTask) -> str:
    return f'"{task.id}.{task.version}"'


def if_match_allows(header: str | None, task: StoredTask) -> bool:
    if header is None:
        return True
    current = etag(task)
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*" or tag == current or tag.removeprefix("W/") == current:
            return True
    return False


def next_run_at(values: dict[str, Any], now: datetime) -> datetime | None:
    schedule = Schedule(
        hour=values["hour"],
        minute=values["minute"],
        days=parse_days(values["execution_days"]),
        time_zone=values["time_zone"],
        execute_until=_aware(values.get("execute_until")),
        active=values["status"] == "ACT",
    )
    return next_fire_time(schedule, now)


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _not_found() -> ProblemError:
    return ProblemError(404, "No such task.")


def _stale() -> ProblemError:
    return ProblemError(412, "The task has changed since it was read; fetch it again and retry.")


class TaskService:
    def __init__(
        self,
        repo: TaskRepository,
        *,
        default_time_zone: str,
        listeners: Iterable[ScheduleListener] = (),
    ) -> None:
        self.repo = repo
        self.default_zone = default_time_zone
        self.listeners = tuple(listeners)

    async def list(self, *, limit: int, after: Cursor | None, filters: TaskFilter) -> Page:
        return await self.repo.list(limit=limit, after=after, filters=filters)

    async def get(self, task_id: int) -> StoredTask:
        task = await self.repo.get(task_id)
        if task is None:
            raise _not_found()
        return task

    async def create(self, body: TaskFields) -> StoredTask:
        if body.stated_id() is not None:
            raise ProblemError(400, "A new task must not carry an id; the server assigns it.")
        now = datetime.now(UTC)
        values = self._complete(body.writable())
        if values["execute_until"] is not None and values["execute_until"] <= now:
            error = field_error(_wire_name("execute_until"), "must be in the future")
            raise ProblemError(422, INVALID_FIELDS, errors=[error])
        values["next_run_at"] = next_run_at(values, now)
        task = await self.repo.create(values)
        self._notify(task)
        return task

    async def replace(self, task_id: int, body: TaskFields, if_match: str | None) -> StoredTask:
        _check_id(body, task_id)
        current = await self.get(task_id)
        return await self._write(current, self._complete(body.writable()), if_match)

    async def patch(self, task_id: int, body: TaskPatch, if_match: str | None) -> StoredTask:
        _check_id(body, task_id)
        current = await self.get(task_id)
        changes = body.changes()
        nulls = [name for name in REQUIRED_ATTRS if name in changes and changes[name] is None]
        if nulls:
            errors = [field_error(_wire_name(name), "may not be null") for name in nulls]
            raise ProblemError(422, INVALID_FIELDS, errors=errors)
        merged = {name: current.values[name] for name in TaskFields.model_fields if name != "id"}
        merged.update(changes)
        merged["execute_until"] = _aware(merged.get("execute_until"))
        try:
            validated = TaskFields.model_validate(merged)
        except ValidationError as exc:  # the merge itself is valid field by field; keep a clear 422
            raise ProblemError(422, INVALID_FIELDS, errors=field_errors(exc.errors())) from None
        return await self._write(current, self._complete(validated.writable()), if_match)

    async def delete(self, task_id: int, if_match: str | None) -> None:
        if if_match is not None:
            current = await self.get(task_id)
            if not if_match_allows(if_match, current):
                raise _stale()
            deleted = await self.repo.delete(task_id, current.version)
        else:
            deleted = await self.repo.delete(task_id)
        if not deleted:
            raise _stale() if if_match is not None else _not_found()

    async def _write(self, current: StoredTask, values: dict[str, Any], if_match: str | None) -> StoredTask:
        if not if_match_allows(if_match, current):
            raise _stale()
        values["next_run_at"] = next_run_at(values, datetime.now(UTC))
        task = await self.repo.update(current.id, current.version, values)
        if task is None:  # another writer got there between our read and our write
            raise _stale()
        self._notify(task)
        return task

    def _complete(self, values: dict[str, Any]) -> dict[str, Any]:
        if values.get("time_zone") is None:
            values["time_zone"] = self.default_zone
        return values

    def _notify(self, task: StoredTask) -> None:
        for listener in self.listeners:
            try:
                listener(task.id, task.next_run_at)
            except Exception:  # a listener must never fail the request that already committed
                log.exception("schedule listener failed")


def _check_id(body: TaskBody, task_id: int) -> None:
    stated = body.stated_id()
    if stated is not None and stated != task_id:
        raise ProblemError(400, "The body's id differs from the task in the path.")


def _wire_name(attribute: str) -> str:
    """A field's name in the JSON a client sends (its camelCase alias)."""
    return TaskPatch.model_fields[attribute].alias or attribute
