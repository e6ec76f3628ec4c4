"""When does a task fire next? Pure schedule math: no framework, no database.

Public contract used by the API and the executor:
    Schedule(hour, minute, days, time_zone, execute_until, active)
    next_fire_time(schedule, after) -> aware UTC datetime strictly after ``after``, or None

The rule, for every local date whose weekday is in ``days``: the task fires at the first instant at
which the wall clock of ``time_zone`` reads ``hour:minute`` or later on that date. That one rule
gives the DST behaviour we want:

* a wall time that does not exist (spring forward, e.g. 02:30 in New York) fires at the first valid
  instant after it, which is the transition itself (03:00 EDT);
* a wall time that happens twice (fall back, e.g. 01:30 in New York) fires once, at its first
  occurrence (01:30 EDT), because by the second one the clock has already passed it.

``execute_until`` is inclusive: a slot exactly at it still fires. Naive datetimes (SQLite hands them
back) are taken to be UTC, the form in which the application stores every instant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_ONE_DAY = timedelta(days=1)
# One local day back catches a zone whose gap pushes a date's slot past midnight; the days ahead
# always contain a day of any non-empty weekday set.
_DAYS_BACK, _DAYS_AHEAD = 1, 9


@dataclass(frozen=True)
class Schedule:
    hour: int
    minute: int
    days: frozenset[int]  # 0 = Monday, as datetime.weekday()
    time_zone: str
    execute_until: datetime | None = None  # inclusive
    active: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.hour <= 23 or not 0 <= self.minute <= 59:
            raise ValueError(f"hour must be 0-23 and minute 0-59, got {self.hour}:{self.minute}")
        if any(not 0 <= day <= 6 for day in self.days):
            raise ValueError(f"days must be weekdays 0 (Monday) to 6 (Sunday), got {sorted(self.days)}")


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; a naive value is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def slot_on(day: date, hour: int, minute: int, zone: ZoneInfo) -> datetime:
    """The instant (UTC) at which ``zone``'s wall clock first reads ``hour:minute`` or later on ``day``."""
    wall = datetime(day.year, day.month, day.day, hour, minute)
    # Per PEP 495, fold=0 resolves an ambiguous wall time to its first occurrence and fold=1 to its second.
    first = wall.replace(tzinfo=zone).astimezone(UTC)
    if _wall(first, zone) == wall:
        return first
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if _wall(second, zone) == wall:
        return second
    # ``wall`` falls in a gap. fold=1 maps it (with the later offset) to an instant before the
    # transition and fold=0 (with the earlier offset) to one after it: search between them for the
    # first instant whose wall clock is at or past ``wall``, i.e. the transition.
    low, high = sorted((int(second.timestamp()), math.ceil(first.timestamp())))
    while high - low > 1:  # zones change offset on whole seconds
        middle = (low + high) // 2
        if _wall(datetime.fromtimestamp(middle, UTC), zone) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def next_fire_time(schedule: Schedule, after: datetime) -> datetime | None:
    """The first slot strictly after ``after``, in UTC; None when the task never fires again."""
    if not schedule.active or not schedule.days:
        return None
    after = as_utc(after)
    until = as_utc(schedule.execute_until) if schedule.execute_until is not None else None
    if until is not None and until <= after:
        return None
    zone = ZoneInfo(schedule.time_zone)
    start = after.astimezone(zone).date() - _DAYS_BACK * _ONE_DAY
    for offset in range(_DAYS_BACK + _DAYS_AHEAD):
        day = start + offset * _ONE_DAY
        if day.weekday() not in schedule.days:
            continue
        # Slots never decrease from one date to the next ("first instant at or past a later wall
        # time"), so the first one after ``after`` is the answer.
        candidate = slot_on(day, schedule.hour, schedule.minute, zone)
        if candidate > after:
            return None if until is not None and candidate > until else candidate
    return None


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)
