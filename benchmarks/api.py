"""Tasks API throughput measured with wrk: /health/live vs authenticated list vs create, in one run.

    uv run python -m benchmarks.api [--seconds 8] [--rounds 3] [--connections 16] [--server-cpu 0]
        [--wrk-cpu 1] [--db-cpu 1]

Starts a throwaway PostgreSQL (tests.support.postgres) and a JWKS server, seeds a few hundred tasks for one
user, starts the API (uvicorn, one process, the service's defaults) pinned to one CPU, and drives each
scenario with wrk (Debian's `wrk`; a Lua script sets the Authorization header and the POST body) pinned to
another with PostgreSQL, one wrk thread. The scenarios take turns for ``--rounds`` rounds, and each round's
ratios are taken against that round's /health/live: on a shared host the speed of a CPU drifts from minute
to minute, and a ratio of two figures taken seconds apart drifts far less than either figure.

Prints, per scenario, the median req/s and ratio (with the rounds' range), p50, p99, and what each party
spent: wrk's share of its CPU (wrk must leave part of it idle, or the figure measures wrk), the server's
share and its CPU time per request, PostgreSQL's share and CPU time per request, and the time the host took
from the server's CPU (steal). Not a test: the figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from devstack.config import REPO as ROOT
from devstack.net import free_port
from devstack.processes import LoggedProcess, spawn
from tests.support.postgres import ThrowawayPostgres
from tests.support.tokens import DEFAULT_CLIENT_ID, JwksServer, TokenFactory, new_signing_key

SEED_TASKS = 300
OWNER = "bench-user"
BODY = json.dumps(
    {"name": "Bench task", "hour": 7, "minute": 30, "executionDays": "MON,WED,FRI", "deviceId": "dev-1"}
).encode()
# Targets of issue 18, as shares of /health/live's req/s in the same run.
TARGETS = {"list20": 0.45, "create": 0.35}
# wrk is the bottleneck when it used more than this share of its CPU: then it, not the server, set the pace.
GENERATOR_CPU_LIMIT = 0.80
_MARK = "WRK_RESULT "

# --- wrk ------------------------------------------------------------------------------------------------

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"status_errors":%d,"socket_errors":%d}\\n',
    "MARK", summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def wrk_script(method: str, headers: Mapping[str, str], body: bytes = b"") -> str:
    """The Lua script for one scenario: the request is set once (no per-request Lua), and ``done`` prints
    the figures as one JSON line that ``parse_wrk`` reads."""
    lines = [f"wrk.method = {_lua_string(method)}"]
    if body:
        lines.append(f"wrk.body = {_lua_string(body.decode())}")
    lines += [f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n" + _DONE.replace("MARK", _MARK)


def _lua_string(text: str) -> str:
    # A long bracket that the text cannot close.
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx/3xx answers and socket errors


def parse_wrk(output: str) -> WrkResult:
    """wrk's output with our script's line in it."""
    for line in output.splitlines():
        if line.startswith(_MARK):
            raw = json.loads(line[len(_MARK) :])
            seconds = raw["duration_us"] / 1e6
            return WrkResult(
                requests=raw["requests"],
                seconds=seconds,
                rps=raw["requests"] / seconds,
                p50_ms=raw["p50_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                errors=raw["status_errors"] + raw["socket_errors"],
            )
    raise ValueError(f"no {_MARK.strip()} line in wrk's output (is the script's done() in place?):\n{output}")


@dataclass(frozen=True)
class Load:
    """One wrk run and the CPU that wrk, the server and the database used during it."""

    result: WrkResult
    wall_seconds: float
    wrk_cpu_seconds: float
    server_cpu_seconds: float
    db_cpu_seconds: float = 0.0
    steal_share: float = 0.0  # of the server's CPU, taken by the host for other guests

    @property
    def wrk_cpu_share(self) -> float:
        return self.wrk_cpu_seconds / self.wall_seconds

    @property
    def server_cpu_share(self) -> float:
        return self.server_cpu_seconds / self.wall_seconds

    @property
    def db_cpu_share(self) -> float:
        return self.db_cpu_seconds / self.wall_seconds

    @property
    def server_us_per_request(self) -> float:
        return self.server_cpu_seconds / max(self.result.requests, 1) * 1e6

    @property
    def db_us_per_request(self) -> float:
        return self.db_cpu_seconds / max(self.result.requests, 1) * 1e6

    @property
    def generator_bound(self) -> bool:
        """wrk used (almost) all of its CPU: the server may have had more to give."""
        return self.wrk_cpu_share > GENERATOR_CPU_LIMIT


def run_wrk(
    url: str,
    script: str,
    *,
    seconds: float,
    connections: int,
    server_pid: int,
    wrk_cpu: int | None = None,
    db_pid: int | None = None,
    server_cpu: int | None = None,
) -> Load:
    """Run wrk (one thread, on CPU ``wrk_cpu`` when given) against ``url``; measure its CPU, the server's
    (the process ``server_pid`` and its children), the database's (``db_pid`` and its children) and the steal
    on CPU ``server_cpu``."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (make api-bench installs it)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", file.name, url]
    if wrk_cpu is not None:
        command = ["taskset", "-c", str(wrk_cpu), *command]
    server = psutil.Process(server_pid)
    database = psutil.Process(db_pid) if db_pid is not None else None
    try:
        server_before = _cpu_seconds(server)
        db_before = _cpu_seconds(database) if database is not None else 0.0
        stat_before = cpu_stat(server_cpu) if server_cpu is not None else (0, 0)
        started = time.perf_counter()
        # taskset execs wrk in its own process, so wait4 reports wrk's own CPU time.
        proc = spawn(command, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        output = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        server_seconds = _cpu_seconds(server) - server_before
        db_seconds = _cpu_seconds(database) - db_before if database is not None else 0.0
        steal = steal_share(stat_before, cpu_stat(server_cpu)) if server_cpu is not None else 0.0
    finally:
        os.unlink(file.name)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited with {proc.returncode}: {output.strip()}")
    return Load(parse_wrk(output), wall, usage.ru_utime + usage.ru_stime, server_seconds, db_seconds, steal)


def cpu_stat(cpu: int, stat: Path = Path("/proc/stat")) -> tuple[int, int]:
    """(all ticks, steal ticks) of CPU ``cpu`` so far, from /proc/stat (zeros where there is none)."""
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return 0, 0
    for line in lines:
        name, *ticks = line.split()
        if name == f"cpu{cpu}":
            values = [int(t) for t in ticks]
            # user nice system idle iowait irq softirq steal [guest guest_nice: already in user and nice]
            return sum(values[:8]), values[7] if len(values) > 7 else 0
    return 0, 0


def steal_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[0] - before[0]
    return (after[1] - before[1]) / total if total > 0 else 0.0


def _cpu_seconds(process: psutil.Process) -> float:
    """CPU time of ``process`` and its living children (the database's backends come and go: the figure
    is meant for a run whose connections stay open, as keep-alive wrk and a warm pool keep them)."""
    total = 0.0
    for p in (process, *process.children(recursive=True)):
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


# --- the API under load -----------------------------------------------------------------------------------


async def seed(database_url: str) -> None:
    from sqlalchemy import insert
    from sqlalchemy.ext.asyncio import create_async_engine
    from tasks_api.db import migrate
    from tasks_api.db.models import Task
    from tasks_api.tasks.repository import new_job_id

    engine = create_async_engine(database_url)
    try:
        await migrate.upgrade(engine)
        now = datetime.now(UTC)
        rows = [
            {
                "owner_sub": OWNER if i < SEED_TASKS else f"other-{i % 50}",
                "job_id": new_job_id(),
                "name": f"seed {i}",
                "hour": i % 24,
                "minute": (i * 7) % 60,
                "execution_days": "MON,WED,FRI",
                "time_zone": "America/Guayaquil",
                "status": "ACT",
                "version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(SEED_TASKS * 4)
        ]
        async with engine.begin() as conn:
            await conn.execute(insert(Task), rows)
    finally:
        await engine.dispose()


async def postmaster_pid(database_url: str) -> int:
    """The PostgreSQL server's main process (every backend is its child)."""
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        postmaster = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()")).parent()
    finally:
        await conn.close()
    assert postmaster is not None
    return postmaster.pid


def pin_postgres(postmaster: int, cpu: int) -> None:
    """Put the PostgreSQL server (its postmaster and every process it has or will fork: affinity is
    inherited) on ``cpu``, so that it does not take the API's CPU from under it."""
    server = psutil.Process(postmaster)
    for process in (server, *server.children()):
        try:
            process.cpu_affinity([cpu])
        except psutil.NoSuchProcess:  # a backend that ended meanwhile
            continue


def api_server(port: int, env: dict[str, str], cpu: int | None) -> LoggedProcess:
    argv = [sys.executable, "-m", "tasks_api", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if cpu is not None:
        argv = ["taskset", "-c", str(cpu), *argv]  # taskset execs the server: the pid stays the server's
    log = ROOT / "loadtests" / "reports" / "bench_api_server.log"
    return LoggedProcess(
        argv, log, env=env, ready_url=f"http://127.0.0.1:{port}/health/ready", start_timeout=60
    )


def scenarios(token: str) -> dict[str, tuple[str, str]]:
    """name -> (path, Lua script)."""
    auth = {"Authorization": f"Bearer {token}"}
    json_body = {**auth, "Content-Type": "application/json"}
    return {
        "hello": ("/health/live", wrk_script("GET", {})),
        "list20": ("/api/tasks?limit=20", wrk_script("GET", auth)),
        "create": ("/api/tasks", wrk_script("POST", json_body, BODY)),
    }


@dataclass(frozen=True)
class Summary:
    """One scenario over the rounds: medians, the ratio's range, and the most wrk ever used."""

    loads: Sequence[Load]
    ratios: Sequence[float]  # to the same round's hello

    @property
    def worst_for_wrk(self) -> Load:
        return max(self.loads, key=lambda load: load.wrk_cpu_share)

    def median(self, figure: str) -> float:
        return statistics.median(_figure(load, figure) for load in self.loads)


def _figure(load: Load, name: str) -> float:
    return float(getattr(load.result, name) if hasattr(load.result, name) else getattr(load, name))


def summarize(rounds: Sequence[Mapping[str, Load]]) -> dict[str, Summary]:
    """Each scenario's rounds, with its ratio to the hello of the same round."""
    return {
        name: Summary(
            loads=[one[name] for one in rounds],
            ratios=[one[name].result.rps / one["hello"].result.rps for one in rounds],
        )
        for name in rounds[0]
    }


def report(summaries: Mapping[str, Summary], args: argparse.Namespace, load_average: str) -> str:
    lines = [
        f"Tasks API with wrk: {args.connections} connections, {args.rounds} round(s) of {args.seconds:g} s "
        f"per scenario, server on CPU {args.server_cpu}, wrk (1 thread) on CPU {args.wrk_cpu}, "
        f"PostgreSQL on CPU {args.db_cpu}, {os.cpu_count()} CPUs; load average before: {load_average}",
        "Medians over the rounds; ratios to the same round's hello, with the rounds' range.",
        "",
        f"{'scenario':8} {'req/s':>6} {'vs hello':>17} {'target':>11} {'p50 ms':>6} {'p99 ms':>6} "
        f"{'errors':>6} {'wrk CPU':>7} {'server':>6} {'us/req':>6} {'PG CPU':>6} {'us/req':>6} {'steal':>5}",
    ]
    for name, summary in summaries.items():
        ratio = statistics.median(summary.ratios)
        spread = f"({min(summary.ratios):.2f}-{max(summary.ratios):.2f})" if len(summary.ratios) > 1 else ""
        target = TARGETS.get(name)
        verdict = "" if target is None else ("ok" if ratio >= target else "MISSED")
        target_text = f"{target:.2f} {verdict}" if target is not None else ""
        errors = sum(load.result.errors for load in summary.loads)
        lines.append(
            f"{name:8} {summary.median('rps'):6.0f} {ratio:5.2f} {spread:>11} {target_text:>11} "
            f"{summary.median('p50_ms'):6.2f} {summary.median('p99_ms'):6.2f} {errors:6d} "
            f"{summary.worst_for_wrk.wrk_cpu_share:7.0%} {summary.median('server_cpu_share'):6.0%} "
            f"{summary.median('server_us_per_request'):6.0f} {summary.median('db_cpu_share'):6.0%} "
            f"{summary.median('db_us_per_request'):6.0f} {summary.median('steal_share'):5.0%}"
        )
    worst = {name: summary.worst_for_wrk for name, summary in summaries.items()}
    lines += ["", bottleneck_verdict(worst)]
    return "\n".join(lines)


def bottleneck_verdict(loads: Mapping[str, Load]) -> str:
    limit = f"{GENERATOR_CPU_LIMIT:.0%}"
    bound = [name for name, load in loads.items() if load.generator_bound]
    if bound:
        return f"wrk WAS the bottleneck in {', '.join(bound)} (above {limit} of its CPU)"
    most = max(load.wrk_cpu_share for load in loads.values())
    return f"wrk was not the bottleneck: it used at most {most:.0%} of its CPU (limit {limit})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--wrk-cpu", type=int, default=1)
    parser.add_argument("--db-cpu", type=int, default=1, help="PostgreSQL's CPU (-1: not pinned)")
    args = parser.parse_args()
    if args.rounds < 1 or args.seconds <= 0:
        parser.error("--rounds must be at least 1 and --seconds more than 0")
    (ROOT / "loadtests" / "reports").mkdir(parents=True, exist_ok=True)

    key = new_signing_key("bench-key")
    with ThrowawayPostgres() as pg, JwksServer([key]) as jwks:
        database_url = pg.create_database()
        asyncio.run(seed(database_url))
        postmaster = asyncio.run(postmaster_pid(database_url))
        if args.db_cpu >= 0:
            pin_postgres(postmaster, args.db_cpu)
        token = TokenFactory(issuer=jwks.issuer, key=key, lifetime_seconds=6 * 3600).access(OWNER)
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "AUTH_ISSUER": jwks.issuer,
            "AUTH_CLIENT_IDS": DEFAULT_CLIENT_ID,
            "SCHEDULER_ENABLED": "false",
            "WRITE_RATE_PER_MINUTE": "0",
            "DRAIN_SECONDS": "0",
            "LOG_LEVEL": "INFO",
        }
        port = free_port()
        rounds: list[dict[str, Load]] = []
        with api_server(port, env, args.server_cpu) as server:
            assert server.process is not None
            load_average = " ".join(f"{x:.2f}" for x in os.getloadavg())
            common = {
                "connections": args.connections,
                "server_pid": server.process.pid,
                "wrk_cpu": args.wrk_cpu,
                "db_pid": postmaster,
                "server_cpu": args.server_cpu,
            }
            urls = {name: f"http://127.0.0.1:{port}{path}" for name, (path, _) in scenarios(token).items()}
            scripts = {name: script for name, (_, script) in scenarios(token).items()}
            for name, url in urls.items():
                run_wrk(url, scripts[name], seconds=1, **common)  # warm-up
            for _ in range(args.rounds):
                rounds.append({name: run_wrk(url, scripts[name], seconds=args.seconds, **common)
                               for name, url in urls.items()})  # fmt: skip
    print("\n" + report(summarize(rounds), args, load_average))
    out = ROOT / "loadtests" / "reports" / "bench_api.json"
    figures = [
        {name: {**asdict(x.result), "wrk_cpu": x.wrk_cpu_share, "server_cpu": x.server_cpu_share,
                "db_cpu": x.db_cpu_share, "steal": x.steal_share} for name, x in one.items()}
        for one in rounds
    ]  # fmt: skip
    out.write_text(json.dumps({"load_average": load_average, "rounds": figures}, indent=2))
    print(f"\nraw figures: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
