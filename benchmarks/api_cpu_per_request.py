"""The Tasks API's CPU time per request, in process: the ASGI app called directly, no HTTP server.

    uv run python -m benchmarks.api_cpu_per_request [--seconds 3] [--rounds 5] [--concurrency 16]
        [--only list20]

Starts a throwaway PostgreSQL (tests.support.postgres) and a JWKS server, seeds the same tasks as
benchmarks.api, then drives hello, list (limit 20) and create with ``concurrency`` requests in flight through
two builds of the same app: with its middleware stack (request id, access line, security headers, body limit,
CORS, drain) and without it; prints this process's CPU time per request for each and the difference, the
middleware's cost (issue 18's target: at most 15 us). The database runs in its own processes, so its work
is not counted. Quicker and steadier than benchmarks.api for comparing changes; it leaves out only what
uvicorn adds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from typing import Any, TextIO

from benchmarks.api import BODY, OWNER, seed
from tests.support.postgres import ThrowawayPostgres
from tests.support.tokens import DEFAULT_CLIENT_ID, JwksServer, TokenFactory, new_signing_key

Headers = list[tuple[bytes, bytes]]


def _scope(method: str, path: str, query: bytes = b"", headers: Headers | None = None) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"accept", b"application/json"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }


async def _call(app: Any, scope: dict[str, Any], body: bytes) -> int:
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect while the app runs
        raise AssertionError("unreachable")

    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


MIDDLEWARE_TARGET_US = 15.0


async def _drive(app: Any, scope: dict[str, Any], body: bytes, expect: int, seconds: float, n: int) -> dict:
    done = errors = 0

    async def loop(stop_at: float) -> None:
        nonlocal done, errors
        while time.perf_counter() < stop_at:
            if await _call(app, scope, body) != expect:
                errors += 1
            done += 1

    await asyncio.gather(*(loop(time.perf_counter() + min(0.5, seconds)) for _ in range(n)))  # warm-up
    done = errors = 0
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(loop(time.perf_counter() + seconds) for _ in range(n)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"requests": done, "errors": errors, "cpu_us": cpu / done * 1e6, "rps": done / wall}


async def main(args: argparse.Namespace, sink: TextIO) -> None:
    key = new_signing_key("cpu-key")
    with ThrowawayPostgres() as pg, JwksServer([key]) as jwks:
        database_url = pg.create_database()
        await seed(database_url)
        token = TokenFactory(issuer=jwks.issuer, key=key, lifetime_seconds=6 * 3600).access(OWNER)
        os.environ.update(
            DATABASE_URL=database_url,
            AUTH_ISSUER=jwks.issuer,
            AUTH_CLIENT_IDS=DEFAULT_CLIENT_ID,
            SCHEDULER_ENABLED="false",
            WRITE_RATE_PER_MINUTE="0",
            CORS_ORIGINS="https://tasks.example",  # CORS is part of the stack measured (and costs little)
        )
        from tasks_api import jsonlog
        from tasks_api.app import create_app
        from tasks_api.settings import Settings

        settings = Settings()
        jsonlog.configure(settings.log_level)
        # The access lines are written and flushed as in production, to a sink instead of the terminal.
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(sink)
        app = create_app(settings)
        bare = create_app(settings)
        bare.user_middleware.clear()  # the same app without its middleware stack (built on first call)
        auth: Headers = [(b"authorization", f"Bearer {token}".encode())]
        json_headers: Headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
        ]
        cases = {
            "hello": (_scope("GET", "/health/live"), b"", 200),
            "list20": (_scope("GET", "/api/tasks", b"limit=20", auth), b"", 200),
            "create": (_scope("POST", "/api/tasks", b"", [*auth, *json_headers]), BODY, 201),
        }
        results: dict[str, dict[str, Any]] = {}
        async with app.router.lifespan_context(app), bare.router.lifespan_context(bare):
            for name, (scope, body, expect) in cases.items():
                if args.only and name != args.only:
                    continue
                results[name] = await _compare(app, bare, (scope, body, expect), args)
    print(render(results, args.concurrency, args.seconds))


async def _compare(
    app: Any, bare: Any, case: tuple[dict[str, Any], bytes, int], args: argparse.Namespace
) -> dict:
    """The app with and without its middleware in alternating rounds; each one's CPU per request is its best
    round (other processes on the machine only ever add to a round's figure)."""
    scope, body, expect = case
    window = args.seconds / args.rounds
    rounds: dict[str, list[dict[str, Any]]] = {"full": [], "bare": []}
    for _ in range(args.rounds):
        for name, target in (("full", app), ("bare", bare)):
            rounds[name].append(await _drive(target, scope, body, expect, window, args.concurrency))
    return {
        "requests": sum(r["requests"] for r in rounds["full"]),
        "errors": sum(r["errors"] for kind in rounds.values() for r in kind),
        "cpu_us": min(r["cpu_us"] for r in rounds["full"]),
        "bare_cpu_us": min(r["cpu_us"] for r in rounds["bare"]),
    }


def render(results: dict[str, dict[str, Any]], concurrency: int, seconds: float) -> str:
    """The table (its last lines are one row per scenario, which tests read) under a heading."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"\nTasks API CPU per request, in process: {concurrency} in flight, {seconds:g} s each; load {load}",
        "mw us = CPU with the middleware stack - CPU without it (bare); "
        f"target: at most {MIDDLEWARE_TARGET_US:g} us",
        f"{'scenario':8} {'requests':>8} {'errors':>6} {'CPU us':>8} {'bare us':>8} {'mw us':>6} "
        f"{'vs hello':>8}",
    ]
    hello = results.get("hello", {}).get("cpu_us")
    for name, r in results.items():
        share = f"{hello / r['cpu_us'] * 100:7.0f}%" if hello else ""
        middleware = r["cpu_us"] - r["bare_cpu_us"]
        lines.append(
            f"{name:8} {r['requests']:8d} {r['errors']:6d} {r['cpu_us']:8.1f} {r['bare_cpu_us']:8.1f} "
            f"{middleware:6.1f} {share:>8}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--only", choices=["hello", "list20", "create"])
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating rounds with and without middleware"
    )
    import uvloop

    with open(os.devnull, "w") as devnull:
        uvloop.run(main(parser.parse_args(), devnull))
