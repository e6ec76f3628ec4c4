"""Tasks API throughput measured with wrk: /health/live vs authenticated list vs create, in one run.

    uv run python -m benchmarks.api [--seconds 8] [--connections 16] [--server-cpu 0] [--wrk-cpu 1]
        [--db-cpu 1]

Starts a throwaway PostgreSQL (tests.support.postgres) and a JWKS server, seeds a few hundred tasks for one
user, starts the API (uvicorn, one process, the service's defaults) pinned to one CPU, and drives each
scenario with wrk (Debian's `wrk`; a Lua script sets the Authorization header and the POST body) pinned to
another with PostgreSQL, one wrk thread. Prints req/s, p50, p99, the ratios to /health/live against the
targets, and for each scenario the CPU that wrk and the server used: wrk must not be the bottleneck (it must
leave part of its CPU idle), or the figure measures wrk. Not a test: the figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

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
    """One wrk run and the CPU that wrk and the server used during it."""

    result: WrkResult
    wall_seconds: float
    wrk_cpu_seconds: float
    server_cpu_seconds: float

    @property
    def wrk_cpu_share(self) -> float:
        return self.wrk_cpu_seconds / self.wall_seconds

    @property
    def server_cpu_share(self) -> float:
        return self.server_cpu_seconds / self.wall_seconds

    @property
    def generator_bound(self) -> bool:
        """wrk used (almost) all of its CPU: the server may have had more to give."""
        return self.wrk_cpu_share > GENERATOR_CPU_LIMIT


def run_wrk(
    url: str, script: str, *, seconds: float, connections: int, server_pid: int, wrk_cpu: int | None = None
) -> Load:
    """Run wrk (one thread, on CPU ``wrk_cpu`` when given) against ``url``; measure its CPU and the
    server's (the process ``server_pid`` and its children)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (make api-bench installs it)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "-s", file.name, url]
    if wrk_cpu is not None:
        command = ["taskset", "-c", str(wrk_cpu), *command]
    server = psutil.Process(server_pid)
    try:
        server_before = _cpu_seconds(server)
        started = time.perf_counter()
        # taskset execs wrk in its own process, so wait4 reports wrk's own CPU time.
        proc = spawn(command, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        output = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        server_cpu = _cpu_seconds(server) - server_before
    finally:
        os.unlink(file.name)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited with {proc.returncode}: {output.strip()}")
    return Load(parse_wrk(output), wall, usage.ru_utime + usage.ru_stime, server_cpu)


def _cpu_seconds(process: psutil.Process) -> float:
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


async def pin_postgres(database_url: str, cpu: int) -> None:
    """Put the PostgreSQL server (its postmaster and every process it has or will fork: affinity is
    inherited) on ``cpu``, so that it does not take the API's CPU from under it."""
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        postmaster = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()")).parent()
    finally:
        await conn.close()
    assert postmaster is not None
    for process in (postmaster, *postmaster.children()):
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


def report(loads: dict[str, Load], args: argparse.Namespace, load_average: str) -> str:
    lines = [
        f"Tasks API with wrk: {args.connections} connections, {args.seconds:g} s per scenario, server on "
        f"CPU {args.server_cpu}, wrk (1 thread) on CPU {args.wrk_cpu}, PostgreSQL on CPU {args.db_cpu}, "
        f"{os.cpu_count()} CPUs; load average "
        f"before: {load_average}",
        "",
        f"{'scenario':8} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'vs hello':>8} "
        f"{'target':>9} {'wrk CPU':>7} {'server CPU':>10}",
    ]
    hello = loads["hello"].result.rps
    for name, load in loads.items():
        r = load.result
        ratio = r.rps / hello
        target = TARGETS.get(name)
        verdict = "" if target is None else ("ok" if ratio >= target else "MISSED")
        target_text = f"{target:.2f} {verdict}" if target is not None else ""
        lines.append(
            f"{name:8} {r.rps:8.0f} {r.p50_ms:7.2f} {r.p99_ms:7.2f} {r.errors:6d} {ratio:8.2f} "
            f"{target_text:>9} {load.wrk_cpu_share:7.0%} {load.server_cpu_share:10.0%}"
        )
    lines += ["", bottleneck_verdict(loads)]
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
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--wrk-cpu", type=int, default=1)
    parser.add_argument("--db-cpu", type=int, default=1, help="PostgreSQL's CPU (-1: not pinned)")
    args = parser.parse_args()
    (ROOT / "loadtests" / "reports").mkdir(parents=True, exist_ok=True)

    key = new_signing_key("bench-key")
    with ThrowawayPostgres() as pg, JwksServer([key]) as jwks:
        database_url = pg.create_database()
        asyncio.run(seed(database_url))
        if args.db_cpu >= 0:
            asyncio.run(pin_postgres(database_url, args.db_cpu))
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
        loads: dict[str, Load] = {}
        with api_server(port, env, args.server_cpu) as server:
            assert server.process is not None
            load_average = " ".join(f"{x:.2f}" for x in os.getloadavg())
            for name, (path, script) in scenarios(token).items():
                url = f"http://127.0.0.1:{port}{path}"
                common = {
                    "connections": args.connections,
                    "server_pid": server.process.pid,
                    "wrk_cpu": args.wrk_cpu,
                }
                run_wrk(url, script, seconds=1, **common)  # warm-up
                loads[name] = run_wrk(url, script, seconds=args.seconds, **common)
    print("\n" + report(loads, args, load_average))
    out = ROOT / "loadtests" / "reports" / "bench_api.json"
    figures = {name: {**asdict(x.result), "wrk_cpu": x.wrk_cpu_share, "server_cpu": x.server_cpu_share}
               for name, x in loads.items()}  # fmt: skip
    out.write_text(json.dumps({"load_average": load_average, "scenarios": figures}, indent=2))
    print(f"\nraw figures: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
