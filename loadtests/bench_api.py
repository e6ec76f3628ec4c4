"""Tasks API throughput: hello vs authenticated list vs create, on a real server and a throwaway Postgres.

    uv run python loadtests/bench_api.py [--seconds 8] [--connections 16] [--servers uvicorn,granian]
        [--db-pool-size 10] [--db-max-overflow 10]

Starts Postgres (tests.support.postgres), a JWKS server, then each server in turn (one worker process) with a
few hundred tasks for one user, and drives it from a separate process with a small keep-alive HTTP/1.1 load
generator on 127.0.0.1 (bounded: fixed connections, fixed duration). Prints req/s, p50, p99 and the ratios
list/hello and create/hello. Not a test: the figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devstack.net import free_port  # noqa: E402
from tests.support.postgres import ThrowawayPostgres  # noqa: E402
from tests.support.tokens import DEFAULT_CLIENT_ID, JwksServer, TokenFactory, new_signing_key  # noqa: E402

SEED_TASKS = 300
OWNER = "bench-user"
BODY = json.dumps(
    {"name": "Bench task", "hour": 7, "minute": 30, "executionDays": "MON,WED,FRI", "deviceId": "dev-1"}
).encode()


# --- load generator (runs in its own process) ---------------------------------------------------------


async def _one_connection(port: int, request: bytes, expect: int, stop_at: float, out: list[float]) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            out.append(time.perf_counter() - started)
            if status != expect:
                errors += 1
    finally:
        writer.close()
    return errors


async def _drive(port: int, request: bytes, expect: int, seconds: float, connections: int) -> dict:
    warm: list[float] = []
    await asyncio.gather(
        *(_one_connection(port, request, expect, time.perf_counter() + 1.0, warm) for _ in range(connections))
    )
    latencies: list[float] = []
    started = time.perf_counter()
    errors = await asyncio.gather(
        *(_one_connection(port, request, expect, started + seconds, latencies) for _ in range(connections))
    )
    return _figures(latencies, time.perf_counter() - started, sum(errors))


def _figures(latencies: list[float], elapsed: float, errors: int) -> dict:
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "errors": errors,
    }


def _loadgen(
    port: int, request: bytes, expect: int, seconds: float, connections: int, queue: mp.Queue
) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    queue.put(asyncio.run(_drive(port, request, expect, seconds, connections)))


def measure(port: int, request: bytes, expect: int, seconds: float, connections: int) -> dict:
    queue: mp.Queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(
        target=_loadgen, args=(port, request, expect, seconds, connections, queue)
    )
    proc.start()
    result = queue.get(timeout=seconds + 60)
    proc.join(timeout=10)
    return result


async def _db_ceiling(dsn: str, seconds: float, connections: int) -> dict:
    """The same list query straight through asyncpg: what the database path alone allows on this host."""
    import asyncpg

    query = (
        "SELECT * FROM tasks WHERE owner_sub = $1 ORDER BY hour, minute, id LIMIT 21"  # what the API sends
    )
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    latencies: list[float] = []

    async def loop(stop_at: float) -> None:
        async with pool.acquire() as conn:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                await conn.fetch(query, OWNER)
                latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(loop(time.perf_counter() + 1.0) for _ in range(connections)))
    latencies.clear()
    started = time.perf_counter()
    await asyncio.gather(*(loop(started + seconds) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    await pool.close()
    return _figures(latencies, elapsed, 0)


def _ceiling_proc(dsn: str, seconds: float, connections: int, queue: mp.Queue) -> None:
    import uvloop

    queue.put(uvloop.run(_db_ceiling(dsn, seconds, connections)))


def measure_db_ceiling(database_url: str, seconds: float, connections: int) -> dict:
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_ceiling_proc, args=(dsn, seconds, connections, queue))
    proc.start()
    result = queue.get(timeout=seconds + 60)
    proc.join(timeout=10)
    return result


def http_request(method: str, path: str, token: str | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Accept: application/json"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# --- setup ------------------------------------------------------------------------------------------


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


def start_server(kind: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    if kind == "uvicorn":
        cmd = [sys.executable, "-m", "tasks_api", "serve", "--host", "127.0.0.1", "--port", str(port)]
    else:
        cmd = [
            sys.executable, "-m", "granian", "--interface", "asgi", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", "--loop", "uvloop", "--http", "1", "--no-ws",
            "tasks_api.asgi:app_factory",
        ]  # fmt: skip
    log = open(ROOT / "loadtests" / "reports" / f"bench_api_{kind}.log", "w")  # noqa: SIM115
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=log)


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}; see loadtests/reports/")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("server did not become ready")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--servers", default="uvicorn,granian")
    # The service's defaults. The task routes' asyncpg pool keeps the connections it opens (up to size +
    # overflow), so 16 clients get 16 connections and none waits; a smaller pool shows the wait in the p99.
    parser.add_argument("--db-pool-size", type=int, default=10)
    parser.add_argument("--db-max-overflow", type=int, default=10)
    args = parser.parse_args()
    (ROOT / "loadtests" / "reports").mkdir(parents=True, exist_ok=True)

    key = new_signing_key("bench-key")
    with ThrowawayPostgres() as pg, JwksServer([key]) as jwks:
        database_url = pg.create_database()
        asyncio.run(seed(database_url))
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
            "DB_POOL_SIZE": str(args.db_pool_size),
            "DB_MAX_OVERFLOW": str(args.db_max_overflow),
        }
        scenarios = [
            ("hello", http_request("GET", "/health/live"), 200),
            ("list20", http_request("GET", "/api/tasks?limit=20", token), 200),
            ("create", http_request("POST", "/api/tasks", token, BODY), 201),
        ]
        results: dict[str, dict[str, dict]] = {}
        ceiling = measure_db_ceiling(database_url, args.seconds, args.connections)
        for kind in [s.strip() for s in args.servers.split(",") if s.strip()]:
            port = free_port()
            proc = start_server(kind, port, env)
            try:
                wait_ready(port, proc)
                results[kind] = {}
                for name, request, expect in scenarios:
                    results[kind][name] = measure(port, request, expect, args.seconds, args.connections)
            finally:
                stop_server(proc)

    print(f"\nTasks API benchmark: {args.connections} connections, {args.seconds:.0f} s per scenario, "
          f"{os.cpu_count()} CPUs, {SEED_TASKS} tasks for the user, DB pool {args.db_pool_size}"
          f"+{args.db_max_overflow}\n")  # fmt: skip
    print(
        f"{'server':8} {'scenario':8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'vs hello':>8}"
    )
    for kind, by_name in results.items():
        hello = by_name["hello"]["rps"]
        for name, r in by_name.items():
            ratio = r["rps"] / hello * 100
            print(
                f"{kind:8} {name:8} {r['rps']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                f"{r['errors']:6d} {ratio:7.0f}%"
            )
    c = ceiling
    print(
        f"{'asyncpg':8} {'list-sql':8} {c['rps']:8.0f} {c['p50_ms']:8.2f} {c['p99_ms']:8.2f} {0:6d}"
        "   (the list query alone, no HTTP: the database ceiling on this host)"
    )
    report = ROOT / "loadtests" / "reports" / "bench_api.json"
    report.write_text(json.dumps({"servers": results, "db_ceiling": ceiling}, indent=2))
    print(f"\nraw figures: {report.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
