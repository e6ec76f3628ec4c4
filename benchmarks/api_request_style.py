"""The two request styles FastAPI allows, on the same work, in process: CPU µs per request.

    uv run python -m benchmarks.api_request_style [--rounds 10]

"depends": the endpoint declares a token dependency, a path id and two query parameters, and FastAPI solves
them per request; "fastpath": a ``tasks_api.fastpath.RequestRoute`` endpoint reads the same through
``tasks_api.inputs``. Interleaved rounds, the best of each printed. This is the measurement behind the API's
one request style (docs/performance.md).
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from tasks_api import inputs
from tasks_api.fastpath import RequestRoute, documented
from tasks_api.inputs import TaskIdPath, query_of
from tasks_api.paging import PageQuery

from benchmarks.api_cpu_per_request import _call, _scope

PATH = "/api/tasks/{task_id}/things"


async def caller(request: Request) -> str:
    return request.headers.get("authorization", "")


async def with_depends(
    request: Request,
    user: Annotated[str, Depends(caller)],
    task_id: TaskIdPath,
    limit: Annotated[int | None, Query(ge=1)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    return Response(b"[]", media_type="application/json")


@documented(task_id=TaskIdPath, query=query_of(PageQuery))
async def on_the_fast_path(request: Request) -> Response:
    await caller(request)
    inputs.task_id(request)
    inputs.query(request, PageQuery)
    return Response(b"[]", media_type="application/json")


def apps() -> dict[str, FastAPI]:
    depends, fast = APIRouter(), APIRouter(route_class=RequestRoute)
    depends.add_api_route(PATH, with_depends)
    fast.add_api_route(PATH, on_the_fast_path)
    built = {}
    for name, router in (("depends", depends), ("fastpath", fast)):
        built[name] = FastAPI()
        built[name].include_router(router)
    return built


async def _round(app: FastAPI, requests: int) -> float:
    scope = _scope("GET", "/api/tasks/42/things", b"limit=20&cursor=abc", [(b"authorization", b"Bearer x")])
    started = time.process_time()
    for _ in range(requests):
        if await _call(app, scope, b"") != 200:
            raise SystemExit("a request failed")
    return (time.process_time() - started) / requests * 1e6


async def main(rounds: int, requests: int) -> dict[str, float]:
    gc.collect()
    gc.freeze()
    built = apps()
    for app in built.values():
        await _round(app, requests // 2)  # warm-up
    best = dict.fromkeys(built, float("inf"))
    for _ in range(rounds):
        for name, app in built.items():
            best[name] = min(best[name], await _round(app, requests))
    return best


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    import uvloop

    best = uvloop.run(main(args.rounds, args.requests))
    for name, micros in best.items():
        print(f"{name:9} {micros:6.1f} us per request")
    print(f"fastpath saves {best['depends'] - best['fastpath']:.1f} us per request")
