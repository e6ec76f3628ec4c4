"""``make rollout-test``: API replicas behind HAProxy configured like the ALB, under steady Locust load,
through a rolling deploy with an expand migration, a scale-in, a scale-out and a SIGKILL; every request,
every 201 and every scheduled execution accounted for per phase.

Phases (each one's requests are those that started in it):

1. ``steady``: three API replicas of the checkout's build and, as deployed, the scheduler as its own
   ``tasks-api worker`` process (or inside the replicas, when the template says so);
2. ``roll``: the new build's migration (it adds a column) runs once, as the deploy's one-off task does (or
   on start, when the task definition says so); the scheduler worker is replaced by one of the new build;
   then, one at a time, start an API replica of the new build, wait until the target group's checks make
   it healthy, and retire an old one (deregister, deregistration delay, SIGTERM, drain). Old replicas
   keep serving on the new schema;
3. ``scale_in``: retire two replicas at once (3 -> 1);
4. ``scale_out``: start two at once and wait until both are healthy (1 -> 3);
5. ``sigkill``: SIGKILL one replica; the supervisor deregisters it when the process is gone, as ECS does
   for a stopped task, and starts a replacement.

Writes ``loadtests/reports/rollout.json`` and exits 1 when a phase other than ``sigkill`` has a failed
request, a lost write, or a scheduled execution that ran twice or not at all, or when ``sigkill`` lost more
than the requests in flight on the killed replica (``rollout_accounting.py`` says how that is bounded).

``--bounded`` is the CI form: the same sequence with every ALB/ECS duration scaled by 0.15 and fewer users,
in about three minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

from devstack.config import missing_services
from devstack.headless import HeadlessConfig, HeadlessStack
from devstack.net import free_port
from devstack.processes import LoggedProcess
from loadtests.capacity import tasks_template
from loadtests.locust.auth import client_credentials_token
from loadtests.locust.request_log import RequestRecord
from loadtests.locust.request_log import read as read_request_log
from loadtests.locust.run_local import REPORTS, create_pool, database
from loadtests.locust.runner import ROOT, RunSpec, locust_command, locust_environment
from loadtests.locust.thresholds import Thresholds
from loadtests.rollout import alb, haproxy
from loadtests.rollout.accounting import (
    REPORT_KEYS,
    SIGKILL,
    Execution,
    Phase,
    account,
    effect_counts,
    judge,
)
from loadtests.rollout.builds import CURRENT, make_expand_build
from loadtests.rollout.fleet import Fleet, in_parallel
from tests.support.postgres import with_driver

SLOTS = [f"task{i}" for i in range(1, 9)]
BOUNDED_TIME_FACTOR = 0.15


@dataclass(frozen=True)
class Settings:
    replicas: int
    users: int
    think_min: float
    think_max: float
    steady_s: float
    sigkill_observe_s: float
    tasks_per_minute: int
    time_factor: float


FULL = Settings(3, 20, 0.2, 1.0, 30, 20, 5, 1.0)
BOUNDED = Settings(3, 8, 0.2, 1.0, 5, 5, 4, BOUNDED_TIME_FACTOR)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="sandbox", help="whose Tasks stack the ALB settings come from")
    parser.add_argument("--template", type=Path, help="a synthesized Tasks template (default: synth now)")
    parser.add_argument("--bounded", action="store_true", help="the CI form: durations x0.15, 8 users")
    parser.add_argument("--users", type=int, help="Locust users (default 20, bounded 8)")
    parser.add_argument("--report", type=Path, default=REPORTS / "rollout.json")
    parser.add_argument("--workdir", type=Path, default=REPORTS / "rollout")
    return parser.parse_args(argv)


class Run:
    """One rollout run: the stack, HAProxy, the fleet, the load, and the phase timeline."""

    def __init__(self, settings: Settings, profile: alb.AlbProfile, workdir: Path) -> None:
        self.settings = settings
        self.profile = profile
        self.workdir = workdir
        self.phases: list[Phase] = []
        self.scheduled: list[tuple[int, dt.datetime]] = []

    # -- the pieces ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def haproxy(self) -> Iterator[tuple[str, haproxy.HaproxyAdmin]]:
        port = free_port()
        socket_path = self.workdir / "haproxy.sock"
        config = self.workdir / "haproxy.cfg"
        config.write_text(haproxy.render_config(self.profile, port, SLOTS, socket_path))
        process = LoggedProcess(
            [haproxy.haproxy_binary(), "-db", "-f", str(config)], self.workdir / "haproxy.log"
        )
        process.spawn()
        try:
            admin = haproxy.HaproxyAdmin(socket_path)
            admin.wait_until_up()
            yield f"http://127.0.0.1:{port}", admin
        finally:
            process.stop(grace_seconds=5)

    def replica_environment(self, stack: HeadlessStack) -> dict[str, str]:
        env = stack.api_environment()
        env.update(
            {
                # As the task definition runs it (shutdown timing scaled in the bounded form); INFO keeps
                # the executor's "task executed" lines, which count the effects.
                "MIGRATE_ON_START": str(self.profile.migrate_on_start).lower(),
                "SCHEDULER_ENABLED": str(self.profile.scheduler_in_api).lower(),
                "DRAIN_SECONDS": f"{self.profile.drain_s:.3f}",
                "GRACEFUL_SHUTDOWN_SECONDS": str(max(1, math.ceil(self.profile.graceful_shutdown_s))),
                "LOG_LEVEL": "INFO",
            }
        )
        return env

    def schedule_tasks(self, api_url: str, stack: HeadlessStack, minutes: int) -> None:
        """Tasks due at each whole minute of the run (UTC), owned by the machine client: the executions the
        replicas must run exactly once whatever happens to them."""
        seed = stack.seed
        if not (seed.machine_client_id and seed.machine_client_secret):
            raise RuntimeError("the IdP seed has no machine client (services/idp/seed.yaml)")
        session = requests.Session()
        token = client_credentials_token(
            session, f"{stack.idp_url}/oauth2/token", seed.machine_client_id, seed.machine_client_secret,
            seed.machine_scope or None,
        )  # fmt: skip
        headers = {"Authorization": f"Bearer {token.access_token}"}
        first = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        for offset in range(minutes):
            slot = first + dt.timedelta(minutes=offset)
            for n in range(self.settings.tasks_per_minute):
                body: dict[str, str | int] = {
                    "name": f"rollout {slot:%H:%M} #{n}",
                    "hour": slot.hour,
                    "minute": slot.minute,
                    "executionDays": "MON,TUE,WED,THU,FRI,SAT,SUN",
                    "timeZone": "UTC",
                    "status": "ACT",
                }
                response = session.post(f"{api_url}/api/tasks", json=body, headers=headers, timeout=10)
                if response.status_code != 201:
                    raise RuntimeError(
                        f"creating a scheduled task answered {response.status_code}: {response.text}"
                    )
                self.scheduled.append((int(response.json()["id"]), slot))

    @contextlib.contextmanager
    def load(self, api_url: str, stack: HeadlessStack, request_log: Path) -> Iterator[None]:
        pool_file = self.workdir / ".pool.json"
        create_pool(stack, self.settings.users, pool_file)
        spec = RunSpec(
            host=api_url,
            csv_prefix=self.workdir / "locust",
            users=self.settings.users,
            spawn_rate=self.settings.users,
            duration_s=1800,  # a hard bound only: the run stops Locust when the phases are done
            thresholds=Thresholds(max_failures=10**9, p95_ms=10**9),
            settings={
                "LOAD_POOL_FILE": str(pool_file),
                "LOAD_IDP_ENDPOINT": stack.idp_url,
                "LOAD_USER_POOL_ID": stack.seed.pool_id,
                "LOAD_CLIENT_ID": stack.seed.web_client_id,
                "LOAD_THINK_MIN": str(self.settings.think_min),
                "LOAD_THINK_MAX": str(self.settings.think_max),
                "LOAD_REQUEST_LOG": str(request_log),
            },
            html=False,
        )
        locust = LoggedProcess(
            locust_command(spec), self.workdir / "locust.log", locust_environment(spec), cwd=ROOT
        )
        locust.spawn()
        try:
            self._wait_for_requests(request_log, locust)
            yield
        finally:
            locust.stop(grace_seconds=15)

    def _wait_for_requests(self, request_log: Path, locust: LoggedProcess, timeout: float = 90) -> None:
        """Until every user has signed in and sent a request (the sign-ins are not what is measured)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if locust.poll() is not None:
                raise RuntimeError(f"Locust exited early; see {locust.log}")
            if request_log.exists() and len(request_log.read_text().splitlines()) >= 2 * self.settings.users:
                return
            time.sleep(0.5)
        raise RuntimeError(f"Locust sent too few requests within {timeout:.0f} s; see {locust.log}")

    # -- the phases ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def phase(self, name: str, **facts: object) -> Iterator[dict[str, object]]:
        start = time.time()
        say(f"phase {name} ...")
        yield facts
        self.phases.append(Phase(name, start, time.time(), **facts))  # type: ignore[arg-type]

    def run_phases(self, fleet: Fleet) -> None:
        s = self.settings
        with self.phase("steady"):
            time.sleep(s.steady_s)
            self._align_roll_with_a_slot()
        new = make_expand_build(self.workdir)
        with self.phase("roll"):
            if not self.profile.migrate_on_start:
                fleet.migrate(new)  # the deploy's one-off migration task, before the service update
            for old_worker in list(fleet.workers):  # the scheduler's service is updated too
                fleet.start_worker(new)
                fleet.stop_worker(old_worker)
            for old in fleet.running(CURRENT):
                fleet.launch(new)
                fleet.retire(old)
        with self.phase("scale_in"):
            in_parallel([functools.partial(fleet.retire, r) for r in fleet.running()[1:]])
        with self.phase("scale_out"):
            in_parallel([lambda: fleet.launch(new) for _ in range(s.replicas - 1)])
        with self.phase(SIGKILL) as facts:
            victim = fleet.running()[0]
            fleet.kill(victim)
            facts.update(
                killed_slot=victim.slot, killed_at=victim.killed_at, deregistered_at=victim.deregistered_at
            )
            time.sleep(s.sigkill_observe_s)
            fleet.launch(new)  # ECS replaces the stopped task to keep the desired count

    def _align_roll_with_a_slot(self, earliest_s: float = 5.0, latest_s: float = 30.0) -> None:
        """Start the roll between ``earliest_s`` and ``latest_s`` before a whole minute, so scheduled
        executions fall due during it even when the roll is short (the bounded form takes about 40 s)."""
        until_boundary = 60 - time.time() % 60
        if until_boundary > latest_s:
            time.sleep(until_boundary - latest_s)
        elif until_boundary < earliest_s:
            time.sleep(until_boundary + 60 - latest_s)

    def settle_executions(self, url: str, timeout: float) -> None:
        """Wait until every slot due before the end has a finished execution (a claim held by the killed
        replica is taken over when its lease expires), at most ``timeout`` seconds."""
        end = self.phases[-1].end
        due = [(task, slot) for task, slot in self.scheduled if slot.timestamp() < end]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            finished = {
                (e.task_id, e.slot)
                for e in executions(url, [t for t, _ in due])
                if e.status in ("SUCCEEDED", "MISSED")
            }
            if all((task, slot) in finished for task, slot in due):
                return
            time.sleep(1)


def served_by_old_build_after_migration(events: list[dict[str, Any]], records: list[RequestRecord]) -> int:
    """Requests the checkout's build answered (2xx) after the new build migrated the schema (its one-off
    migration, or its first replica, healthy only once migrated) and before that old replica left.

    The one-off migration's end is the moment when there is one: the first new replica only gets healthy
    just before the first old one is retired, which leaves that replica no window at all."""
    migrated = min(
        (float(e["t"]) for e in events if e["build"] == "new" and e["event"] in {"migrated", "healthy"}),
        default=None,
    )
    if migrated is None:
        return 0
    windows = [
        (str(e["slot"]), float(e["t"]))
        for e in events
        if e["build"] == CURRENT.name and e["event"] == "deregistered" and float(e["t"]) > migrated
    ]
    return sum(
        1
        for r in records
        for slot, until in windows
        if r.server == slot and migrated < r.t < until and 200 <= r.status < 300
    )


def executions(url: str, task_ids: list[int]) -> list[Execution]:
    import psycopg

    with psycopg.connect(with_driver(url, "postgresql")) as conn:
        rows = conn.execute(
            "SELECT task_id, scheduled_for, status FROM task_executions WHERE task_id = ANY(%s)", (task_ids,)
        ).fetchall()
    return [Execution(int(task_id), slot, status) for task_id, slot, status in rows]


def existing_task_ids(url: str) -> set[int]:
    import psycopg

    with psycopg.connect(with_driver(url, "postgresql")) as conn:
        return {int(row[0]) for row in conn.execute("SELECT id FROM tasks").fetchall()}


def say(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if missing := missing_services():
        print(f"rollout: {', '.join(missing)} not installed; run `uv sync --all-packages`", file=sys.stderr)
        return 2
    settings = BOUNDED if args.bounded else FULL
    if args.users:
        settings = Settings(**{**asdict(settings), "users": args.users})
    workdir = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    request_log = workdir / "requests.jsonl"
    with contextlib.ExitStack() as resources:
        template = args.template
        synth = None
        if template is None:
            # The synth (10-30 s of jsii) runs while PostgreSQL and the IdP start.
            template = workdir / f"tasks-{args.env}.template.json"
            say(f"synthesizing the {args.env} Tasks stack")
            synth = LoggedProcess(
                [
                    sys.executable,
                    "-m",
                    "loadtests.capacity.tasks_template",
                    "--env",
                    args.env,
                    "--out",
                    str(template),
                ],
                workdir / "synth.log",
                cwd=ROOT,
            ).spawn()
            resources.callback(synth.stop, 5)
        url = resources.enter_context(database())
        stack = resources.enter_context(
            HeadlessStack(
                HeadlessConfig(
                    database_url=url, workdir=workdir, cheap_password_hashing=True, serve_api=False
                )
            )
        )
        if synth is not None and synth.wait(timeout=300) != 0:
            raise RuntimeError(f"the synth failed; see {synth.log}")
        profile = alb.from_template(tasks_template.load(template, args.env))
        if settings.time_factor != 1.0:
            profile = profile.scaled(settings.time_factor)
        print(f"ALB profile ({args.env}{', bounded' if args.bounded else ''}): {profile}", flush=True)
        run = Run(settings, profile, workdir)
        api_url, admin = resources.enter_context(run.haproxy())
        fleet = Fleet(admin, profile, SLOTS, workdir, run.replica_environment(stack))
        resources.callback(fleet.stop_all)
        say("stack up; starting the replicas")
        in_parallel([lambda: fleet.launch(CURRENT) for _ in range(settings.replicas)])
        if not profile.scheduler_in_api:
            # The scheduler's own service. One worker even where the environment runs none (sandbox, so
            # that Aurora can pause): the executions due during the phases are part of what is checked.
            fleet.start_worker(CURRENT)
        minutes = 12 if args.bounded else 20
        run.schedule_tasks(api_url, stack, minutes)
        say("replicas healthy, scheduled tasks created; starting the load")
        with run.load(api_url, stack, request_log):
            run.run_phases(fleet)
        say("phases done; waiting for the executions due during them")
        run.settle_executions(url, timeout=75)
        say("accounting")
        replica_logs = sorted([*workdir.glob("replica-*.log"), *workdir.glob("worker-*.log")])
        records = read_request_log(request_log)
        results = account(
            run.phases,
            records,
            existing_task_ids(url),
            run.scheduled,
            executions(url, [t for t, _ in run.scheduled]),
            effect_counts(replica_logs),
        )
        events = fleet.events
        old_on_new_schema = served_by_old_build_after_migration(events, records)
    problems = judge(results)
    if not old_on_new_schema:
        problems.append("roll: the old build answered no request after the new build migrated")
    report = {
        "phases": [{key: r.as_json()[key] for key in REPORT_KEYS} | r.as_json() for r in results],
        "old_build_answers_on_new_schema": old_on_new_schema,
        "passed": not problems,
        "problems": problems,
        "alb_profile": asdict(profile),
        "environment": args.env,
        "bounded": args.bounded,
        "users": settings.users,
        "load_average": os.getloadavg(),
        "events": events,
    }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1, default=str))
    for r in results:
        print(json.dumps({key: r.as_json()[key] for key in REPORT_KEYS}))
    print("load average (1/5/15 min) at the end: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    print(f"report: {args.report}; logs: {workdir}")
    if problems:
        for line in problems:
            print(f"FAILED: {line}", file=sys.stderr)
        return 1
    print("PASSED: no failure outside the SIGKILL phase; SIGKILL within the in-flight bound")
    return 0


if __name__ == "__main__":
    sys.exit(main())
