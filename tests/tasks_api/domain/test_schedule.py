"""Schedule math: fixed DST cases, and hypothesis against a brute-force minute-by-minute reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from tasks_api.domain.schedule import Schedule, next_fire_time

EVERY_DAY = frozenset(range(7))
ONE_MINUTE = timedelta(minutes=1)

# Zones with the shapes that break naive code: 1 h DST both hemispheres, 30 min DST (Lord Howe),
# DST at midnight (Santiago, Havana), odd offsets (Kathmandu, Chatham, St Johns), a skipped day (Apia,
# 2011-12-30), no DST at all (Guayaquil, the original's default).
ZONES = (
    "America/New_York",
    "Europe/Berlin",
    "America/Guayaquil",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/St_Johns",
    "Pacific/Apia",
    "UTC",
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def reference_next(schedule: Schedule, after: datetime, horizon_days: int = 9) -> datetime | None:
    """Walk UTC minute by minute; fire whenever the wall clock first reaches a scheduled day's time.

    "First reaches" is tracked with the highest wall time seen so far, so a wall time repeated after
    a fall-back never fires twice and one skipped by a spring-forward fires when the clock jumps past.
    """
    if not schedule.active:
        return None
    zone = ZoneInfo(schedule.time_zone)
    start = after.replace(second=0, microsecond=0) - timedelta(days=1)
    highest = (start - ONE_MINUTE).astimezone(zone).replace(tzinfo=None)
    moment = start
    end = after + timedelta(days=horizon_days)
    while moment <= end:
        wall = moment.astimezone(zone).replace(tzinfo=None)
        if wall > highest:
            # Thresholds crossed in (highest, wall]: this date's and the dates the clock jumped over.
            day = highest.date()
            while day <= wall.date():
                threshold = datetime(day.year, day.month, day.day, schedule.hour, schedule.minute)
                if highest < threshold <= wall and day.weekday() in schedule.days and moment > after:
                    until = schedule.execute_until
                    return moment if until is None or moment <= until else None
                day += timedelta(days=1)
            highest = wall
        moment += ONE_MINUTE
    return None


@cache
def transitions(zone_name: str) -> tuple[datetime, ...]:
    """UTC instants in 2010-2030 at which ``zone_name`` changes its offset (to the minute)."""
    zone = ZoneInfo(zone_name)
    found = []
    moment, end = utc(2010, 1, 1), utc(2030, 1, 1)
    while moment < end:
        following = moment + timedelta(days=1)
        if moment.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset():
            low, high = moment, following
            while high - low > ONE_MINUTE:
                middle = (low + (high - low) / 2).replace(second=0, microsecond=0)
                if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high)
        moment = following
    return tuple(found)


zones = st.sampled_from(ZONES)
weekday_sets = st.frozensets(st.integers(0, 6), min_size=1)


@st.composite
def schedules_and_instants(draw: st.DrawFn) -> tuple[Schedule, datetime]:
    zone = draw(zones)
    near = transitions(zone)
    if near and draw(st.booleans()):
        # Most bugs live within a day or two of a transition: aim there half of the time.
        base = draw(st.sampled_from(near))
        after = base + timedelta(seconds=draw(st.integers(-3 * 86400, 2 * 86400)))
    else:
        after = draw(st.datetimes(datetime(2005, 1, 1), datetime(2035, 12, 31), timezones=st.just(UTC)))
    until = None
    if draw(st.booleans()):
        until = after + timedelta(minutes=draw(st.integers(-60, 10 * 24 * 60)))
    schedule = Schedule(
        hour=draw(st.integers(0, 23)),
        minute=draw(st.integers(0, 59)),
        days=draw(weekday_sets),
        time_zone=zone,
        execute_until=until,
    )
    return schedule, after


@settings(max_examples=250, deadline=None)
@given(schedules_and_instants())
@example((Schedule(2, 30, EVERY_DAY, "America/New_York"), utc(2024, 3, 10, 6, 59)))
@example((Schedule(1, 30, EVERY_DAY, "America/New_York"), utc(2024, 11, 3, 5, 30)))
@example((Schedule(2, 30, EVERY_DAY, "Europe/Berlin"), utc(2024, 10, 27, 0, 30)))
@example((Schedule(0, 0, frozenset({4, 5}), "America/Santiago"), utc(2024, 9, 6, 12)))
@example((Schedule(12, 0, frozenset({4}), "Pacific/Apia"), utc(2011, 12, 28)))
@example((Schedule(2, 15, EVERY_DAY, "Australia/Lord_Howe"), utc(2024, 10, 5, 12)))
def test_next_fire_time_matches_minute_by_minute_reference(case: tuple[Schedule, datetime]) -> None:
    schedule, after = case
    assert next_fire_time(schedule, after) == reference_next(schedule, after)


@settings(max_examples=150, deadline=None)
@given(schedules_and_instants())
def test_slots_are_stable_and_strictly_increasing(case: tuple[Schedule, datetime]) -> None:
    schedule, after = case
    slot = next_fire_time(schedule, after)
    if slot is None:
        return
    assert slot > after
    assert slot.tzinfo is UTC
    # Asking again from just before the slot finds the same slot, and the next one is later.
    assert next_fire_time(schedule, slot - timedelta(microseconds=1)) == slot
    following = next_fire_time(schedule, slot)
    assert following is None or following > slot


# --- fixed cases that document the behaviour ---------------------------------------------------


def test_new_york_spring_forward_fires_at_the_first_valid_instant() -> None:
    schedule = Schedule(2, 30, EVERY_DAY, "America/New_York")
    # 2024-03-10 02:00 EST jumps to 03:00 EDT; 02:30 does not exist, so the slot is 03:00 EDT.
    assert next_fire_time(schedule, utc(2024, 3, 9, 12)) == utc(2024, 3, 10, 7, 0)
    # The day after, 02:30 EDT again exists.
    assert next_fire_time(schedule, utc(2024, 3, 10, 7, 0)) == utc(2024, 3, 11, 6, 30)


def test_new_york_fall_back_fires_once() -> None:
    schedule = Schedule(1, 30, EVERY_DAY, "America/New_York")
    # 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST): only the first one fires.
    first = next_fire_time(schedule, utc(2024, 11, 3, 0))
    assert first == utc(2024, 11, 3, 5, 30)
    assert next_fire_time(schedule, first) == utc(2024, 11, 4, 6, 30)


def test_berlin_spring_forward_and_fall_back() -> None:
    gap = Schedule(2, 30, EVERY_DAY, "Europe/Berlin")
    # 2024-03-31 02:00 CET -> 03:00 CEST at 01:00 UTC.
    assert next_fire_time(gap, utc(2024, 3, 30, 12)) == utc(2024, 3, 31, 1, 0)
    # 2024-10-27 03:00 CEST -> 02:00 CET at 01:00 UTC; 02:30 happens at 00:30 and 01:30 UTC.
    twice = next_fire_time(gap, utc(2024, 10, 26, 12))
    assert twice == utc(2024, 10, 27, 0, 30)
    assert next_fire_time(gap, twice) == utc(2024, 10, 28, 1, 30)


def test_a_time_outside_the_transition_keeps_its_wall_clock_across_dst() -> None:
    schedule = Schedule(8, 0, EVERY_DAY, "America/New_York")
    assert next_fire_time(schedule, utc(2024, 3, 9, 14)) == utc(2024, 3, 10, 12, 0)  # 08:00 EDT
    assert next_fire_time(schedule, utc(2024, 3, 8, 14)) == utc(2024, 3, 9, 13, 0)  # 08:00 EST


def test_only_the_execution_days_fire() -> None:
    mon_wed = Schedule(9, 15, frozenset({0, 2}), "America/Guayaquil")
    # 2024-06-04 is a Tuesday: the next slot is Wednesday 09:15 -05:00.
    assert next_fire_time(mon_wed, utc(2024, 6, 4, 0)) == utc(2024, 6, 5, 14, 15)
    assert next_fire_time(mon_wed, utc(2024, 6, 5, 14, 15)) == utc(2024, 6, 10, 14, 15)


def test_next_is_strictly_after() -> None:
    schedule = Schedule(9, 0, EVERY_DAY, "UTC")
    assert next_fire_time(schedule, utc(2024, 6, 4, 9, 0)) == utc(2024, 6, 5, 9, 0)
    assert next_fire_time(schedule, utc(2024, 6, 4, 8, 59, 59)) == utc(2024, 6, 4, 9, 0)


def test_execute_until_is_inclusive() -> None:
    slot = utc(2024, 6, 4, 9, 0)
    at_slot = Schedule(9, 0, EVERY_DAY, "UTC", execute_until=slot)
    assert next_fire_time(at_slot, utc(2024, 6, 4)) == slot
    assert next_fire_time(at_slot, slot) is None
    just_before = Schedule(9, 0, EVERY_DAY, "UTC", execute_until=slot - timedelta(seconds=1))
    assert next_fire_time(just_before, utc(2024, 6, 4)) is None


def test_execute_until_in_another_offset_is_compared_as_an_instant() -> None:
    until = datetime(2024, 6, 4, 4, 0, tzinfo=ZoneInfo("America/Guayaquil"))  # 09:00 UTC
    schedule = Schedule(9, 0, EVERY_DAY, "UTC", execute_until=until)
    assert next_fire_time(schedule, utc(2024, 6, 4)) == utc(2024, 6, 4, 9, 0)


def test_inactive_task_never_fires() -> None:
    assert next_fire_time(Schedule(9, 0, EVERY_DAY, "UTC", active=False), utc(2024, 6, 4)) is None


def test_no_days_never_fires() -> None:
    assert next_fire_time(Schedule(9, 0, frozenset(), "UTC"), utc(2024, 6, 4)) is None


def test_naive_instants_are_utc() -> None:
    schedule = Schedule(9, 0, EVERY_DAY, "UTC", execute_until=datetime(2024, 6, 4, 9, 0))
    assert next_fire_time(schedule, datetime(2024, 6, 4, 8, 0)) == utc(2024, 6, 4, 9, 0)


@pytest.mark.parametrize(("hour", "minute", "days"), [(24, 0, {0}), (0, 60, {0}), (-1, 0, {0}), (1, 1, {7})])
def test_out_of_range_fields_are_refused(hour: int, minute: int, days: set[int]) -> None:
    with pytest.raises(ValueError, match="must be"):
        Schedule(hour, minute, frozenset(days), "UTC")


def test_reference_itself_sees_both_transitions() -> None:
    # Guard against a reference that agrees with anything: it must find the DST answers too.
    assert reference_next(Schedule(2, 30, EVERY_DAY, "America/New_York"), utc(2024, 3, 9, 12)) == utc(
        2024, 3, 10, 7
    )
    assert reference_next(Schedule(1, 30, EVERY_DAY, "America/New_York"), utc(2024, 11, 3, 5, 30)) == utc(
        2024, 11, 4, 6, 30
    )
