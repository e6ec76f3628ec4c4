"""Scheduler benchmark: 10,000 tasks due in the same minute, three executor processes, one Postgres.

    uv run python -m benchmarks.scheduler [--tasks 10000] [--workers 3] [--idle-seconds 30]

Prints, for the burst: the time from the slot to the last finished execution (goal <= 5 s), the
duplicates (executions beyond one per task and slot, and effects logged more than once: goal 0) and
the misses (tasks without a successful execution for the slot: goal 0). Then, with the same 10,000
tasks not due, the CPU each idle process uses (goal < 2 % of a core).

The workers are the production standalone executor (``python -m tasks_api.executions``) with the
default settings (poll 1 s, batch 100). Postgres is ``DATABASE_URL`` when set, else a throwaway
local server (tests/support/postgres.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from tasks_api.db.migrate import upgrade
from tasks_api.db.models import Task, TaskExecution

from devstack.config import REPO as ROOT
from devstack.processes import LoggedProcess
from tests.support.postgres import ThrowawayPostgres


def next_minute(lead: float) -> datetime:
    """The first whole minute at least ``lead`` seconds from now."""
    moment = datetime.now(UTC) + timedelta(seconds=lead)
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


async def prepare(engine: AsyncEngine, count: int, slot: datetime) -> None:
    await upgrade(engine)
    async with engine.begin() as conn:
        rows = [
            {
                "owner_sub": f"user-{n % 50}",
                "job_id": secrets.token_hex(8),
                "name": f"task {n}",
                "hour": slot.hour,
                "minute": slot.minute,
                "execution_days": "MON,TUE,WED,THU,FRI,SAT,SUN",
                "time_zone": "UTC",
                "status": "ACT",
                "device_id": f"device-{n}",
                "device_operation": "ACTIVATE",
                "next_run_at": slot,
            }
            for n in range(count)
        ]
        for start in range(0, count, 2000):
            await conn.execute(insert(Task), rows[start : start + 2000])


def start_workers(url: str, count: int, logs: Path) -> list[LoggedProcess]:
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "INFO"}
    for name in [k for k in env if k.startswith("SCHEDULER_") or k == "EVENT_BUS_NAME"]:
        del env[name]  # the defaults are what we measure
    argv = [sys.executable, "-m", "tasks_api.executions"]
    return [LoggedProcess(argv, logs / f"worker-{n}.log", env, ROOT).spawn() for n in range(count)]


def log_events(logs: Path, name: str) -> list[dict[str, object]]:
    found = []
    for path in logs.glob("worker-*.log"):
        for raw in path.read_text().splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if line.get("event") == name:
                found.append(line)
    return found


def wait_started(workers: list[LoggedProcess], logs: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while len(log_events(logs, "scheduler_started")) < len(workers):
        if any(w.poll() is not None for w in workers):
            raise SystemExit("a worker exited early: see " + str(logs))
        if time.monotonic() > deadline:
            raise SystemExit("workers did not start in time")
        time.sleep(0.1)


async def wait_done(engine: AsyncEngine, count: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with engine.connect() as conn:
            done = (
                await conn.execute(
                    select(func.count())
                    .select_from(TaskExecution)
                    .where(TaskExecution.status.in_(("SUCCEEDED", "FAILED", "MISSED")))
                )
            ).scalar_one()
        if done >= count:
            return
        await asyncio.sleep(0.2)
    print(f"warning: only {done} of {count} executions finished in {seconds} s")


async def burst_figures(engine: AsyncEngine, count: int, slot: datetime, logs: Path) -> dict[str, object]:
    async with engine.connect() as conn:
        executions = (
            await conn.execute(
                select(
                    TaskExecution.task_id,
                    TaskExecution.scheduled_for,
                    TaskExecution.status,
                    TaskExecution.finished_at,
                    TaskExecution.claimed_by,
                )
            )
        ).all()
    succeeded = [e for e in executions if e.status == "SUCCEEDED" and e.scheduled_for == slot]
    lateness = sorted((e.finished_at - slot).total_seconds() for e in succeeded)
    effects = log_events(logs, "task_executed")
    return {
        "tasks": count,
        "executions": len(executions),
        "duplicate_records": len(executions) - len({(e.task_id, e.scheduled_for) for e in executions}),
        "duplicate_effects": len(effects) - len({line["task_id"] for line in effects}),
        "misses": count - len({e.task_id for e in succeeded}),
        "missed_status": sum(e.status == "MISSED" for e in executions),
        "slot_to_first_s": round(lateness[0], 3) if lateness else None,
        "slot_to_median_s": round(statistics.median(lateness), 3) if lateness else None,
        "slot_to_last_s": round(lateness[-1], 3) if lateness else None,
        "per_worker": sorted(
            sum(e.claimed_by == worker for e in succeeded) for worker in {e.claimed_by for e in succeeded}
        ),
    }


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def postgres_pids(server: ThrowawayPostgres) -> list[int]:
    """The server's postmaster and its backends (only for a server this script started)."""
    pid_file = server._datadir / "postmaster.pid" if server._datadir else None
    if pid_file is None or not pid_file.exists():
        return []
    postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
    return [postmaster.pid, *(child.pid for child in postmaster.children(recursive=True))]


def idle_cpu(workers: list[LoggedProcess], seconds: float) -> list[float]:
    """Percent of one core each process used over ``seconds`` of wall time."""
    handles = [psutil.Process(w.pid) for w in workers]
    before = [sum(h.cpu_times()[:2]) for h in handles]
    started = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - started
    return [round(100 * (sum(h.cpu_times()[:2]) - b) / wall, 3) for h, b in zip(handles, before, strict=True)]


def stop(workers: list[LoggedProcess]) -> None:
    for worker in workers:  # all at once, as ECS stops a service's tasks
        worker.terminate()
    for worker in workers:
        worker.stop(grace_seconds=20)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    args = parser.parse_args()

    with ThrowawayPostgres() as server, tempfile.TemporaryDirectory(prefix="bench-sched-") as tmp:
        logs = Path(tmp)
        url = server.create_database()
        engine = create_async_engine(url)
        workers: list[LoggedProcess] = []
        try:
            # Far enough ahead to load the rows and start the workers before the slot.
            slot = next_minute(lead=20)
            await prepare(engine, args.tasks, slot)
            workers = start_workers(url, args.workers, logs)
            wait_started(workers, logs)
            print(f"{args.tasks} tasks due at {slot.isoformat()}, {args.workers} workers ready", flush=True)
            await asyncio.sleep(max((slot - datetime.now(UTC)).total_seconds() - 1, 0))
            worker_pids = [w.pid for w in workers]
            cpu_before = cpu_seconds(worker_pids), cpu_seconds(postgres_pids(server))
            load_before = os.getloadavg()[0]
            await wait_done(engine, args.tasks, seconds=120)
            burst = await burst_figures(engine, args.tasks, slot, logs)
            # CPU spent on the burst does not depend on how busy the machine is, unlike the latency.
            burst["cpu_s_workers"] = round(cpu_seconds(worker_pids) - cpu_before[0], 2)
            burst["cpu_s_postgres"] = round(cpu_seconds(postgres_pids(server)) - cpu_before[1], 2)
            burst["load_average_1m"] = round(load_before, 2)
            burst["cores"] = psutil.cpu_count()
            print(json.dumps({"burst": burst}), flush=True)

            # All tasks now wait for tomorrow's slot: nothing is due.
            cpu = idle_cpu(workers, args.idle_seconds)
            print(
                json.dumps(
                    {"idle": {"tasks_not_due": args.tasks, "seconds": args.idle_seconds, "cpu_percent": cpu}}
                ),
                flush=True,
            )
        finally:
            stop(workers)
            await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
