"""The one request style: a RequestRoute refuses at build time what it would silently ignore, and every paged
list reads its page size the same way."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute, iter_route_contexts
from tasks_api.app import create_app
from tasks_api.auth import Principal, authenticate
from tasks_api.fastpath import FastPathError, RequestRoute, documented
from tasks_api.settings import Settings
from tasks_api.tasks.schemas import TaskOut

from tests.tasks_api.conftest import _client, task_body
from tests.tasks_api.executions.test_router import add_executions, create_task


@documented(returns=TaskOut)
async def fast(request: Request) -> Response:
    return Response(b"{}", media_type="application/json")


async def undocumented(request: Request) -> Response:
    return Response(b"{}")


def check_nothing() -> None:
    """A dependency a reader would expect to run."""


def _router() -> APIRouter:
    return APIRouter(route_class=RequestRoute)


def test_every_route_of_the_app_is_a_request_route(api_settings: Settings) -> None:
    routes = [c.original_route for c in iter_route_contexts(create_app(api_settings).routes)]
    api_routes = [r for r in routes if isinstance(r, APIRoute)]
    assert len(api_routes) == 15  # health 4 (2 on the original's paths), tasks 6 + 4 original, executions 1
    assert all(isinstance(route, RequestRoute) for route in api_routes)


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        ({"dependencies": [Depends(check_nothing)]}, "never runs dependencies="),
        ({"status_code": 201}, "status_code= would only document"),
        ({"response_model": TaskOut}, "response_model= would neither check nor filter"),
    ],
    ids=["dependencies", "status_code", "response_model"],
)
def test_a_route_refuses_what_it_would_ignore(options: dict[str, object], refusal: str) -> None:
    with pytest.raises(FastPathError, match=refusal):
        _router().add_api_route("/x", fast, **options)  # type: ignore[arg-type]


def test_an_endpoint_must_declare_what_it_documents() -> None:
    with pytest.raises(FastPathError, match=r"undocumented: declare .* @fastpath.documented"):
        _router().add_api_route("/x", undocumented)


async def test_dependencies_from_the_including_router_are_refused_at_start(api_settings: Settings) -> None:
    app = create_app(api_settings)
    router = _router()
    router.add_api_route("/fast", fast)
    app.include_router(router, dependencies=[Depends(check_nothing)])
    with pytest.raises(FastPathError, match="/fast: included with dependencies="):
        async with LifespanManager(app, startup_timeout=30):
            pass


def test_a_dependency_override_is_refused_where_it_is_set(api_settings: Settings) -> None:
    app = create_app(api_settings)

    async def anyone(request: Request) -> Principal:
        raise AssertionError("never called")

    for set_override in (
        lambda: app.dependency_overrides.__setitem__(authenticate, anyone),
        lambda: app.dependency_overrides.update({authenticate: anyone}),
        lambda: app.dependency_overrides.setdefault(authenticate, anyone),
    ):
        with pytest.raises(FastPathError, match=r"dependency_overrides\[authenticate\] would be ignored"):
            set_override()
    assert not app.dependency_overrides


async def test_overrides_set_by_replacing_the_mapping_are_refused_at_start(api_settings: Settings) -> None:
    app = create_app(api_settings)
    app.dependency_overrides = {authenticate: lambda: None}
    with pytest.raises(FastPathError, match="would be ignored"):
        async with LifespanManager(app, startup_timeout=30):
            pass


async def test_both_lists_page_the_same_way_when_the_default_exceeds_the_maximum(
    make_settings: Callable[..., Settings], area_database_url: str, tokens, alice_sub: str
) -> None:
    # The executions list used to take the default as it was: 3 > 2 refused every request without ?limit=.
    settings = make_settings(area_database_url, page_limit_default=3, page_limit_max=2)
    app = create_app(settings)
    headers = tokens.bearer(alice_sub)
    client: httpx.AsyncClient
    async for client in _client(app):
        for _ in range(3):
            assert (await client.post("/api/tasks", json=task_body(), headers=headers)).status_code == 201
        task_id = await create_task(client, headers)
        await add_executions(app, task_id, 3)
        for path in ("/api/tasks", f"/api/tasks/{task_id}/executions"):
            page = await client.get(path, headers=headers)
            assert page.status_code == 200, (path, page.text)
            assert len(page.json()) == 2, path
            assert "limit=2" in page.headers["link"], path
            too_many = await client.get(f"{path}?limit=3", headers=headers)
            assert too_many.status_code == 422, path
            assert too_many.json()["errors"] == [
                {"field": "limit", "in": "query", "message": "must be at most 2"}
            ]
