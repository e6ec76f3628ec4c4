"""Which requests count as the old build serving on the new schema (pure: events and request records)."""

from __future__ import annotations

from loadtests.locust.request_log import RequestRecord
from loadtests.rollout.run import served_by_old_build_after_migration


def _request(t: float, server: str, status: int = 200) -> RequestRecord:
    return RequestRecord(t=t, dt=0.01, method="GET", op="list", status=status, failed=False, error=None,
                         server=server, id=None)  # fmt: skip


def _event(t: float, event: str, build: str, slot: str | None) -> dict[str, object]:
    return {"t": t, "event": event, "build": build, "slot": slot}


# The deploy's shape: the one-off migration at 10, then per old replica a new one launched and healthy, and
# the old one deregistered right after.
EVENTS = [
    _event(10.0, "migrated", "new", None),
    _event(14.0, "healthy", "new", "task3"),
    _event(14.1, "deregistered", "current", "task1"),
    _event(18.0, "healthy", "new", "task4"),
    _event(18.1, "deregistered", "current", "task2"),
]


def test_the_window_opens_when_the_one_off_migration_ends() -> None:
    # task1 served between the migration and its deregistration, before any new replica was healthy.
    records = [_request(12.0, "task1"), _request(13.0, "task1")]
    assert served_by_old_build_after_migration(EVENTS, records) == 2


def test_requests_outside_the_windows_or_failed_do_not_count() -> None:
    records = [
        _request(9.0, "task1"),  # before the migration
        _request(15.0, "task1"),  # after task1 left
        _request(16.0, "task2", status=503),  # not answered
        _request(16.0, "task3"),  # the new build
        _request(17.0, "task2"),  # counts
    ]
    assert served_by_old_build_after_migration(EVENTS, records) == 1


def test_without_a_one_off_migration_the_first_new_replica_opens_it() -> None:
    events = [e for e in EVENTS if e["event"] != "migrated"]
    records = [_request(12.0, "task1"), _request(16.0, "task2")]
    assert served_by_old_build_after_migration(events, records) == 1
