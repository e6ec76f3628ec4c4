"""plan_slots: what runs, what is missed, where the task goes next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from tasks_api.domain.misfire import plan_slots
from tasks_api.domain.schedule import Schedule, next_fire_time

DAILY_8 = Schedule(8, 0, frozenset(range(7)), "UTC")
GRACE = timedelta(seconds=60)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_on_time_runs_the_slot_and_moves_to_the_next() -> None:
    plan = plan_slots(DAILY_8, utc(2024, 6, 4, 8), utc(2024, 6, 4, 8, 0, 1), GRACE)
    assert (plan.missed, plan.run, plan.next_run_at) == ([], utc(2024, 6, 4, 8), utc(2024, 6, 5, 8))


def test_exactly_the_grace_late_still_runs() -> None:
    plan = plan_slots(DAILY_8, utc(2024, 6, 4, 8), utc(2024, 6, 4, 8, 1), GRACE)
    assert plan.run == utc(2024, 6, 4, 8)
    late = plan_slots(DAILY_8, utc(2024, 6, 4, 8), utc(2024, 6, 4, 8, 1, 0, 1), GRACE)
    assert (late.missed, late.run) == ([utc(2024, 6, 4, 8)], None)


def test_a_long_outage_lists_each_missed_slot_up_to_the_cap() -> None:
    plan = plan_slots(DAILY_8, utc(2024, 6, 1, 8), utc(2024, 6, 4, 8, 0, 30), GRACE)
    assert plan.missed == [utc(2024, 6, 1, 8), utc(2024, 6, 2, 8), utc(2024, 6, 3, 8)]
    assert plan.run == utc(2024, 6, 4, 8)  # today's slot is within the grace
    capped = plan_slots(DAILY_8, utc(2024, 1, 1, 8), utc(2024, 6, 4, 12), GRACE, max_missed=5)
    assert len(capped.missed) == 5
    assert (capped.run, capped.next_run_at) == (None, utc(2024, 6, 5, 8))


def test_inactive_or_past_execute_until_runs_nothing_and_stops() -> None:
    inactive = Schedule(8, 0, frozenset(range(7)), "UTC", active=False)
    assert plan_slots(inactive, utc(2024, 6, 4, 8), utc(2024, 6, 4, 8, 0, 1), GRACE).next_run_at is None
    ended = Schedule(8, 0, frozenset(range(7)), "UTC", execute_until=utc(2024, 6, 3))
    plan = plan_slots(ended, utc(2024, 6, 4, 8), utc(2024, 6, 4, 8, 0, 1), GRACE)
    assert (plan.missed, plan.run, plan.next_run_at) == ([], None, None)


def test_a_grace_longer_than_a_day_still_runs_one_slot() -> None:
    plan = plan_slots(DAILY_8, utc(2024, 6, 1, 8), utc(2024, 6, 4, 8, 0, 1), timedelta(days=5))
    assert plan.run == utc(2024, 6, 4, 8)
    assert plan.missed == [utc(2024, 6, 1, 8), utc(2024, 6, 2, 8), utc(2024, 6, 3, 8)]


@settings(max_examples=150, deadline=None)
@given(
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    days=st.frozensets(st.integers(0, 6), min_size=1),
    zone=st.sampled_from(["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe"]),
    start=st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1), timezones=st.just(UTC)),
    outage=st.integers(0, 20 * 24 * 3600),
    grace=st.integers(0, 3600),
)
def test_every_slot_is_accounted_for_once_and_at_most_one_runs(
    hour: int, minute: int, days: frozenset[int], zone: str, start: datetime, outage: int, grace: int
) -> None:
    schedule = Schedule(hour, minute, days, zone)
    first = next_fire_time(schedule, start)
    assert first is not None
    now = first + timedelta(seconds=outage)
    plan = plan_slots(schedule, first, now, timedelta(seconds=grace), max_missed=1000)
    handled = [*plan.missed, *([plan.run] if plan.run else [])]
    # Exactly the slots in [first, now], in order, none twice; the next slot is the one after them.
    expected = []
    slot: datetime | None = first
    while slot is not None and slot <= now:
        expected.append(slot)
        slot = next_fire_time(schedule, slot)
    assert handled == expected
    assert plan.next_run_at == slot
    assert all(now - missed > timedelta(seconds=grace) for missed in plan.missed)
    if plan.run is not None:
        assert now - plan.run <= timedelta(seconds=grace)
