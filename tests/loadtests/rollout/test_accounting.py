"""The rollout's per-phase accounting and its verdict, on hand-made request logs and execution rows."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path

from loadtests.locust.request_log import RequestRecord
from loadtests.rollout.accounting import (
    SIGKILL,
    Execution,
    Phase,
    account,
    effect_counts,
    judge,
    lost_write_ids,
)

T0 = 1_000_000.0
SLOT = dt.datetime.fromtimestamp(T0 + 15, dt.UTC)


def req(t: float, status: int = 200, method: str = "GET", server: str = "task1", dt_s: float = 0.01,
        task_id: int | None = None) -> RequestRecord:  # fmt: skip
    failed = status == 0 or status >= 400
    return RequestRecord(T0 + t, dt_s, method, f"{method} /api/tasks", status, failed, None, server, task_id)


PHASES = [Phase("steady", T0, T0 + 10), Phase("roll", T0 + 10, T0 + 20)]


def test_requests_are_counted_in_the_phase_they_started_in() -> None:
    records = [req(1), req(9.99, dt_s=5), req(10), req(12, 502), req(13, 0), req(30)]
    steady, roll = account(PHASES, records, set(), [], [], Counter())
    assert (steady.requests, steady.failed) == (2, 0)
    assert (roll.requests, roll.failed, roll.status_5xx, roll.connection_errors) == (3, 2, 1, 1)


def test_a_201_missing_from_the_database_is_a_lost_write_unless_the_client_deleted_it() -> None:
    records = [
        req(1, 201, "POST", task_id=1),
        req(2, 201, "POST", task_id=2),
        req(3, 201, "POST", task_id=3),
        req(4, 204, "DELETE", task_id=3),
        req(5, 201, "POST", task_id=4),
        req(6, 502, "DELETE", task_id=4),  # unknown outcome: may have been deleted
        req(7, 404, "DELETE", task_id=2),  # a refused delete leaves the task in place
    ]
    assert lost_write_ids(records, existing_ids={1}) == {2}
    steady, _ = account(PHASES, records, {1}, [], [], Counter())
    assert steady.lost_writes == 1


def test_a_due_slot_without_a_success_is_missed_and_one_run_twice_is_a_duplicate() -> None:
    slots = [(1, SLOT), (2, SLOT), (3, SLOT), (4, SLOT)]
    rows = [
        Execution(1, SLOT, "SUCCEEDED"),
        Execution(2, SLOT, "MISSED"),
        Execution(4, SLOT, "SUCCEEDED"),
    ]
    effects = Counter({(1, SLOT.isoformat()): 1, (4, SLOT.isoformat()): 2})
    _, roll = account(PHASES, [req(11)], set(), slots, rows, effects)
    assert (roll.executions_due, roll.missed_executions, roll.duplicate_executions) == (4, 2, 1)


def test_effects_are_counted_from_the_replicas_log_lines(tmp_path: Path) -> None:
    line = {
        "event": "task_executed",
        "task_id": 7,
        "slot": SLOT.isoformat(),
        "logger": "tasks_api.executions",
    }
    (tmp_path / "a.log").write_text(json.dumps(line) + "\nnot json\n" + json.dumps({"event": "other"}) + "\n")
    (tmp_path / "b.log").write_text(json.dumps({**line, "slot": SLOT.isoformat().replace("+00:00", "Z")}))
    assert effect_counts(sorted(tmp_path.glob("*.log"))) == Counter({(7, SLOT.isoformat()): 2})


def kill_phase() -> Phase:
    return Phase(
        SIGKILL, T0 + 20, T0 + 40, killed_slot="task2", killed_at=T0 + 25, deregistered_at=T0 + 25.01
    )


def test_sigkill_failures_in_flight_on_the_killed_replica_are_within_the_bound() -> None:
    records = [
        req(24.9, 502, server="task2", dt_s=0.2),  # in flight at the kill
        req(25.005, 502, server="task2"),  # sent before HAProxy stopped routing to it
        req(24.0, 200, server="task2", dt_s=0.5),  # ended before the kill: not in flight
        req(25.001, 0, server=None, dt_s=0.1),  # HAProxy closed the connection without an answer
        req(26, 200, server="task1"),
    ]
    [result] = account([kill_phase()], records, set(), [], [], Counter())
    assert (result.failed, result.in_flight_on_killed, result.failures_elsewhere) == (3, 3, 0)
    assert judge([result]) == []


def test_a_sigkill_failure_on_another_replica_breaks_the_run() -> None:
    records = [
        req(24.9, 502, server="task2", dt_s=0.2),
        req(26, 502, server="task1"),
        req(30, 0, server=None),  # no answer long after the killed replica left the rotation
    ]
    [result] = account([kill_phase()], records, set(), [], [], Counter())
    assert result.failures_elsewhere == 2
    assert judge([result]) == [
        f"{SIGKILL}: 2 failure(s) beyond the 1 request(s) in flight on the killed replica"
    ]


def test_any_failure_outside_the_sigkill_phase_breaks_the_run() -> None:
    steady, roll = account(PHASES, [req(1), req(11, 503)], set(), [(1, SLOT)], [], Counter())
    problems = judge([steady, roll])
    assert problems == ["roll: failed = 1", "roll: missed_executions = 1"]
    assert roll.problems == problems
    assert steady.problems == []


def test_a_phase_without_requests_breaks_the_run() -> None:
    results = account(PHASES, [req(1)], set(), [], [], Counter())
    assert judge(results) == ["roll: no requests were sent"]
