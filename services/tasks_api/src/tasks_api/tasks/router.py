"""HTTP routes of the Task resource: thin, everything else lives in the service and repository.

The endpoints take the Request and read it through ``tasks_api.inputs``; ``@documented`` says what the OpenAPI
document shows for each (see ``tasks_api.fastpath``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from tasks_api import inputs
from tasks_api.auth import authenticate
from tasks_api.fastpath import RequestRoute, documented
from tasks_api.inputs import IfMatchHeader, TaskIdPath, body_of, query_of
from tasks_api.paging import InvalidCursorError, next_page_link
from tasks_api.problems import ProblemError
from tasks_api.state import api_state
from tasks_api.tasks.repository import Cursor, StoredTask, TaskFilter
from tasks_api.tasks.schemas import ListQuery, TaskFields, TaskOut, TaskPatch
from tasks_api.tasks.serialize import list_document
from tasks_api.tasks.service import TaskService, etag

JSON = "application/json"
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {401: PROBLEM, 404: PROBLEM, 422: PROBLEM, 503: PROBLEM}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: PROBLEM,
    412: PROBLEM,
    413: PROBLEM,
    415: PROBLEM,
    429: PROBLEM,
}


def _service_for(request: Request, owner_sub: str) -> TaskService:
    state = api_state(request.app)
    return TaskService(
        state.running.task_repository(owner_sub),
        default_time_zone=state.settings.time_zone,
        listeners=state.schedule_listeners,
    )


async def _service(request: Request) -> TaskService:
    user = await authenticate(request)
    return _service_for(request, user.sub)


async def _write_service(request: Request) -> TaskService:
    user = await authenticate(request)
    wait = api_state(request.app).write_limiter.acquire(user.sub)
    if wait is not None:
        raise ProblemError(
            429, "Too many changes in a short time; slow down.", headers={"Retry-After": str(wait)}
        )
    return _service_for(request, user.sub)


def _one(task: StoredTask, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        task.json, status_code=status_code, media_type=JSON, headers={"ETag": etag(task), **(headers or {})}
    )


@documented(returns=list[TaskOut], query=query_of(ListQuery))
async def list_tasks(request: Request) -> Response:
    svc = await _service(request)
    query = inputs.query(request, ListQuery)
    size = inputs.page_size(query.limit, api_state(request.app).settings)
    try:
        after = Cursor.decode(query.cursor) if query.cursor else None
    except InvalidCursorError:
        raise inputs.invalid_query("cursor", "is not a cursor from this API") from None
    filters = TaskFilter(status=query.status, day=query.day, q=query.q)
    page = await svc.list(limit=size, after=after, filters=filters)
    headers = {}
    if page.next is not None:
        headers["Link"] = next_page_link(request.scope["path"], query, page.next.encode(), size)
    return Response(list_document(page.items), media_type=JSON, headers=headers)


@documented(status_code=201, returns=TaskOut, body=body_of(TaskFields))
async def create_task(request: Request) -> Response:
    svc = await _write_service(request)
    task = await svc.create(await inputs.json_body(request, TaskFields))
    return _one(task, 201, {"Location": f"/api/tasks/{task.id}"})


@documented(returns=TaskOut, task_id=TaskIdPath)
async def get_task(request: Request) -> Response:
    svc = await _service(request)
    return _one(await svc.get(inputs.task_id(request)))


@documented(returns=TaskOut, task_id=TaskIdPath, if_match=IfMatchHeader, body=body_of(TaskFields))
async def replace_task(request: Request) -> Response:
    svc = await _write_service(request)
    task_id = inputs.task_id(request)
    body = await inputs.json_body(request, TaskFields)
    return _one(await svc.replace(task_id, body, inputs.if_match(request)))


@documented(returns=TaskOut, task_id=TaskIdPath, if_match=IfMatchHeader, body=body_of(TaskPatch))
async def patch_task(request: Request) -> Response:
    svc = await _write_service(request)
    task_id = inputs.task_id(request)
    body = await inputs.json_body(request, TaskPatch)
    return _one(await svc.patch(task_id, body, inputs.if_match(request)))


@documented(status_code=204, task_id=TaskIdPath, if_match=IfMatchHeader)
async def delete_task(request: Request) -> Response:
    svc = await _write_service(request)
    await svc.delete(inputs.task_id(request), inputs.if_match(request))
    return Response(status_code=204)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["tasks"], route_class=RequestRoute)
    router.add_api_route(
        "/tasks",
        list_tasks,
        methods=["GET"],
        responses=ERRORS,
        summary="List the caller's tasks (ordered by hour, minute, id; paged with Link rel=next)",
    )
    # (path after /tasks, method, endpoint, summary, on the original's path)
    routes: list[tuple[str, str, Any, str, bool]] = [
        ("", "POST", create_task, "Create a task", True),
        ("/{task_id}", "GET", get_task, "Read a task", True),
        ("/{task_id}", "PUT", replace_task, "Replace a task", True),
        ("/{task_id}", "PATCH", patch_task, "Change some fields of a task", False),
        ("/{task_id}", "DELETE", delete_task, "Delete a task", True),
    ]
    for rest, method, endpoint, summary, original in routes:
        options: dict[str, Any] = {"methods": [method], "responses": WRITE_ERRORS}
        if method == "DELETE":
            options["response_class"] = Response
        router.add_api_route(f"/tasks{rest}", endpoint, summary=summary, **options)
        if original:  # the original service's paths, kept for its clients
            router.add_api_route(
                f"/task{rest}",
                endpoint,
                operation_id=f"{endpoint.__name__}_legacy",
                deprecated=True,
                tags=["tasks (original paths)"],
                **options,
            )
    return router
