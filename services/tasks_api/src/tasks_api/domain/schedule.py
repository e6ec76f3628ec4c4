"""When does a task fire next? Pure schedule math (the scheduler work refines this module).

Public contract used by the API and the executor:
    Schedule(hour, minute, days, time_zone, execute_until, active)
    next_fire_time(schedule, after) -> aware UTC datetime strictly after ``after``, or None
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Schedule:
    hour: int
    minute: int
    days: frozenset[int]  # 0 = Monday
    time_zone: str
    execute_until: datetime | None = None  # inclusive
    active: bool = True


def next_fire_time(schedule: Schedule, after: datetime) -> datetime | None:
    """The first slot strictly after ``after`` (aware), in UTC; None when it never fires again."""
    if not schedule.active or not schedule.days:
        return None
    zone = ZoneInfo(schedule.time_zone)
    local = after.astimezone(zone)
    for offset in range(0, 8):
        day = (local + timedelta(days=offset)).date()
        if day.weekday() not in schedule.days:
            continue
        wall = datetime(day.year, day.month, day.day, schedule.hour, schedule.minute, tzinfo=zone)
        candidate = wall.astimezone(UTC)
        if candidate > after:
            if schedule.execute_until is not None and candidate > schedule.execute_until:
                return None
            return candidate
    return None
