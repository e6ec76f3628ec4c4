"""Which slots of a task to run, and which to record as missed, when the executor reaches it.

Pure logic, no database: the executor hands in the slot stored on the task (its ``nextRunAt``) and
the current instant; the plan says which slots were missed by more than the grace, which single slot
(if any) runs now, and the task's next slot. At most one slot runs per claim, so a task never bursts
through a backlog after downtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tasks_api.domain.schedule import Schedule, as_utc, next_fire_time

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class SlotPlan:
    missed: list[datetime] = field(default_factory=list)
    run: datetime | None = None
    next_run_at: datetime | None = None


def plan_slots(
    schedule: Schedule, stored_slot: datetime, now: datetime, grace: timedelta, max_missed: int = 50
) -> SlotPlan:
    """Plan the slots from ``stored_slot`` (already due) up to ``now``.

    A slot more than ``grace`` before ``now`` is missed; at most ``max_missed`` of them are listed,
    beyond that the task simply moves on. An inactive task, or a slot past ``execute_until``, runs
    nothing and has no next slot.
    """
    slot: datetime | None = as_utc(stored_slot)
    now = as_utc(now)
    until = as_utc(schedule.execute_until) if schedule.execute_until is not None else None
    if not schedule.active or (until is not None and slot is not None and slot > until):
        return SlotPlan()
    horizon = now - grace
    missed: list[datetime] = []
    while slot is not None and slot < horizon:
        if len(missed) >= max_missed:
            slot = next_fire_time(schedule, horizon - _TICK)
            break
        missed.append(slot)
        slot = next_fire_time(schedule, slot)
    if slot is None or slot > now:
        return SlotPlan(missed, None, slot)
    following = next_fire_time(schedule, slot)
    # Only with a grace longer than the gap between two slots can a second one be due already:
    # the older one counts as missed, so one claim still runs a single slot.
    while following is not None and following <= now:
        missed.append(slot)
        slot, following = following, next_fire_time(schedule, following)
    return SlotPlan(missed, slot, following)
