"""Per-phase accounting of a rollout run: requests, failures, 5xx, connection errors, lost writes, and the
scheduled executions due in the phase that ran twice or not at all. Pure functions over what the run
recorded (the request log, the database's rows, the replicas' effect log lines), so they are tested alone.

The SIGKILL bound: a replica killed with SIGKILL loses what it was serving. "In flight on that replica" is
every request HAProxy sent to it (``X-Served-By``) that started before HAProxy stopped routing to it and
had not ended when it was killed (and, in that window, a request HAProxy dropped without any answer: see
``in_flight_on``). The phase passes when each of its failures is one of those, and no 201
and no scheduled execution was lost.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from loadtests.locust.request_log import RequestRecord

SIGKILL = "sigkill"
REPORT_KEYS = (
    "phase",
    "requests",
    "failed",
    "status_5xx",
    "connection_errors",
    "lost_writes",
    "duplicate_executions",
    "missed_executions",
)


@dataclass(frozen=True)
class Phase:
    name: str
    start: float
    end: float
    killed_slot: str | None = None
    killed_at: float | None = None
    deregistered_at: float | None = None

    def holds(self, instant: float) -> bool:
        return self.start <= instant < self.end


@dataclass
class PhaseResult:
    phase: str
    requests: int = 0
    failed: int = 0
    status_5xx: int = 0
    connection_errors: int = 0
    lost_writes: int = 0
    duplicate_executions: int = 0
    missed_executions: int = 0
    seconds: float = 0.0
    executions_due: int = 0
    # SIGKILL phase only: the bound and how the failures compare with it.
    in_flight_on_killed: int | None = None
    failures_elsewhere: int | None = None
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        if self.in_flight_on_killed is None:
            del data["in_flight_on_killed"], data["failures_elsewhere"]
        return data


@dataclass(frozen=True)
class Execution:
    task_id: int
    slot: datetime
    status: str


def phase_of(phases: list[Phase], instant: float) -> Phase | None:
    return next((p for p in phases if p.holds(instant)), None)


def lost_write_ids(records: Iterable[RequestRecord], existing_ids: set[int]) -> set[int]:
    """Ids answered with a 201 that are not in the database, leaving out those the client deleted (or may
    have deleted: a DELETE without a clear answer)."""
    records = list(records)
    created = {r.id for r in records if r.method == "POST" and r.status == 201 and r.id is not None}
    maybe_deleted = {
        r.id
        for r in records
        if r.method == "DELETE" and r.id is not None and (r.status in (0, 204) or r.status >= 500)
    }
    return created - existing_ids - maybe_deleted


def effect_counts(log_files: Iterable[Path]) -> Counter[tuple[int, str]]:
    """How often each (task id, slot) effect ran, from the replicas' ``task_executed`` log lines."""
    counts: Counter[tuple[int, str]] = Counter()
    for path in log_files:
        for line in path.read_text(errors="replace").splitlines():
            if '"task_executed"' not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == "task_executed":
                counts[(int(entry["task_id"]), _slot_key(entry["slot"]))] += 1
    return counts


def _slot_key(value: str | datetime) -> str:
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(value.replace("Z", "+00:00"))
    return instant.isoformat()


def account(
    phases: list[Phase],
    records: list[RequestRecord],
    existing_ids: set[int],
    expected_slots: list[tuple[int, datetime]],
    executions: list[Execution],
    effects: Counter[tuple[int, str]],
) -> list[PhaseResult]:
    results = {p.name: PhaseResult(p.name, seconds=round(p.end - p.start, 1)) for p in phases}
    lost = lost_write_ids(records, existing_ids)
    for record in records:
        phase = phase_of(phases, record.t)
        if phase is None:
            continue
        result = results[phase.name]
        result.requests += 1
        result.failed += record.failed
        result.status_5xx += record.status >= 500
        result.connection_errors += record.status == 0
        if record.method == "POST" and record.status == 201 and record.id in lost:
            result.lost_writes += 1
    rows: Counter[tuple[int, str]] = Counter()
    succeeded: set[tuple[int, str]] = set()
    for execution in executions:
        key = (execution.task_id, _slot_key(execution.slot))
        rows[key] += 1
        if execution.status == "SUCCEEDED":
            succeeded.add(key)
    for task_id, slot in expected_slots:
        phase = phase_of(phases, slot.timestamp())
        if phase is None:
            continue
        result = results[phase.name]
        key = (task_id, _slot_key(slot))
        result.executions_due += 1
        if key not in succeeded:
            result.missed_executions += 1
        if rows[key] > 1 or effects[key] > 1:
            result.duplicate_executions += 1
    for phase in phases:
        if phase.name == SIGKILL and phase.killed_slot is not None:
            _sigkill_bound(results[phase.name], phase, records)
    return [results[p.name] for p in phases]


def in_flight_on(
    records: Iterable[RequestRecord], slot: str, killed_at: float, deregistered_at: float
) -> list[RequestRecord]:
    """Requests on the killed replica that started before it left the rotation and had not ended when it
    died. A request with no HTTP answer at all has no ``X-Served-By``: HAProxy (which stays up) closes the
    client's connection without a response when the server connection it reused dies under the request,
    so such a request in that window is counted as the killed replica's."""
    return [
        r
        for r in records
        if (r.server == slot or (r.server is None and r.status == 0))
        and r.t <= deregistered_at
        and r.end >= killed_at
    ]


def _sigkill_bound(result: PhaseResult, phase: Phase, records: list[RequestRecord]) -> None:
    assert phase.killed_at is not None
    assert phase.killed_slot is not None
    deregistered = phase.deregistered_at or phase.end
    in_flight = in_flight_on(records, phase.killed_slot, phase.killed_at, deregistered)
    in_flight_ids = {id(r) for r in in_flight}
    failures = [r for r in records if phase.holds(r.t) and r.failed]
    result.in_flight_on_killed = len(in_flight)
    result.failures_elsewhere = sum(1 for r in failures if id(r) not in in_flight_ids)


def judge(results: list[PhaseResult]) -> list[str]:
    """What breaks the run: any failure, lost write, duplicate or miss outside the SIGKILL phase; in it, a
    failure that was not in flight on the killed replica, a lost write or a missed execution."""
    problems = []
    for result in results:
        if result.requests == 0:
            problems.append(f"{result.phase}: no requests were sent")
        if result.phase == SIGKILL:
            if result.failures_elsewhere:
                problems.append(
                    f"{SIGKILL}: {result.failures_elsewhere} failure(s) beyond the "
                    f"{result.in_flight_on_killed} request(s) in flight on the killed replica"
                )
            for name in ("lost_writes", "missed_executions"):
                if getattr(result, name):
                    problems.append(f"{SIGKILL}: {name} = {getattr(result, name)}")
            continue
        for name in ("failed", "lost_writes", "duplicate_executions", "missed_executions"):
            if getattr(result, name):
                problems.append(f"{result.phase}: {name} = {getattr(result, name)}")
    for result in results:
        result.problems = [p for p in problems if p.startswith(f"{result.phase}:")]
    return problems
