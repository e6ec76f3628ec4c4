"""HTTP routes of the Task resource: thin, everything else lives in the service and repository."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from tasks_api.auth import Principal, current_user
from tasks_api.db.models import Task
from tasks_api.db.retry import ReadRetry
from tasks_api.problems import ProblemError, field_error
from tasks_api.tasks.repository import Cursor, InvalidCursorError, TaskFilter
from tasks_api.tasks.schemas import TaskFields, TaskOut, TaskPatch
from tasks_api.tasks.serialize import task_list_json
from tasks_api.tasks.service import TaskService, etag

JSON = "application/json"
TaskId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The task's id")]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="An ETag from a previous read")]
Day = Literal["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
ERRORS: dict[int | str, dict[str, Any]] = {401: PROBLEM, 404: PROBLEM, 422: PROBLEM, 503: PROBLEM}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: PROBLEM,
    412: PROBLEM,
    413: PROBLEM,
    429: PROBLEM,
}


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.api_sessionmaker() as db:
        yield db


async def service(
    request: Request,
    user: Annotated[Principal, Depends(current_user)],
    db: Annotated[AsyncSession, Depends(session)],
) -> TaskService:
    state = request.app.state
    return TaskService(
        db,
        user.sub,
        default_time_zone=state.settings.time_zone,
        listeners=state.schedule_listeners,
        read_retry=ReadRetry(state.settings.db_read_retry_seconds),
    )


Service = Annotated[TaskService, Depends(service)]


async def write_service(
    request: Request,
    user: Annotated[Principal, Depends(current_user)],
    svc: Service,
) -> TaskService:
    wait = request.app.state.write_limiter.acquire(user.sub)
    if wait is not None:
        raise ProblemError(
            429, "Too many changes in a short time; slow down.", headers={"Retry-After": str(wait)}
        )
    return svc


WriteService = Annotated[TaskService, Depends(write_service)]


def _one(task: Task, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = TaskOut.model_validate(task).model_dump_json(by_alias=True)
    return Response(
        body, status_code=status_code, media_type=JSON, headers={"ETag": etag(task), **(headers or {})}
    )


async def list_tasks(
    request: Request,
    svc: Service,
    limit: Annotated[int | None, Query(ge=1, description="Page size (default 100, at most 500)")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="From the previous page's Link")] = None,
    status: Annotated[Literal["ACT", "INA"] | None, Query()] = None,
    day: Annotated[Day | None, Query(description="Tasks that run on this day")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=60, pattern=r"^[^\x00]*$", description="Name contains")
    ] = None,
) -> Response:
    settings = request.app.state.settings
    # The default never exceeds the configured maximum (a request without ?limit= must not be refused).
    size = limit or min(settings.page_limit_default, settings.page_limit_max)
    if size > settings.page_limit_max:
        raise ProblemError(
            422,
            "The request has invalid fields; see errors.",
            errors=[field_error("limit", f"must be at most {settings.page_limit_max}", "query")],
        )
    try:
        after = Cursor.decode(cursor) if cursor else None
    except InvalidCursorError:
        raise ProblemError(
            422,
            "The request has invalid fields; see errors.",
            errors=[field_error("cursor", "is not a cursor from this API", "query")],
        ) from None
    rows = await svc.repo.list(limit=size + 1, after=after, filters=TaskFilter(status=status, day=day, q=q))
    headers = {}
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = Cursor(last.hour, last.minute, last.id).encode()
        url = request.url.include_query_params(cursor=next_cursor, limit=size)
        headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    return Response(task_list_json(rows), media_type=JSON, headers=headers)


async def create_task(svc: WriteService, body: Annotated[TaskFields, Body()]) -> Response:
    task = await svc.create(body)
    return _one(task, 201, {"Location": f"/api/tasks/{task.id}"})


async def get_task(svc: Service, task_id: TaskId) -> Response:
    return _one(await svc.get(task_id))


async def replace_task(
    svc: WriteService, task_id: TaskId, body: Annotated[TaskFields, Body()], if_match: IfMatch = None
):
    return _one(await svc.replace(task_id, body, if_match))


async def patch_task(
    svc: WriteService, task_id: TaskId, body: Annotated[TaskPatch, Body()], if_match: IfMatch = None
):
    return _one(await svc.patch(task_id, body, if_match))


async def delete_task(svc: WriteService, task_id: TaskId, if_match: IfMatch = None) -> Response:
    await svc.delete(task_id, if_match)
    return Response(status_code=204)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api", tags=["tasks"])
    one: dict[str, Any] = {"response_model": TaskOut, "responses": WRITE_ERRORS}
    router.add_api_route(
        "/tasks",
        list_tasks,
        methods=["GET"],
        response_model=list[TaskOut],
        responses=ERRORS,
        summary="List the caller's tasks (ordered by hour, minute, id; paged with Link rel=next)",
    )
    router.add_api_route(
        "/tasks", create_task, methods=["POST"], status_code=201, summary="Create a task", **one
    )
    router.add_api_route("/tasks/{task_id}", get_task, methods=["GET"], summary="Read a task", **one)
    router.add_api_route("/tasks/{task_id}", replace_task, methods=["PUT"], summary="Replace a task", **one)
    router.add_api_route(
        "/tasks/{task_id}", patch_task, methods=["PATCH"], summary="Change some fields of a task", **one
    )
    router.add_api_route(
        "/tasks/{task_id}",
        delete_task,
        methods=["DELETE"],
        status_code=204,
        responses=WRITE_ERRORS,
        summary="Delete a task",
        response_class=Response,
    )
    # The original service's paths, kept for its clients.
    legacy: dict[str, Any] = {"deprecated": True, "tags": ["tasks (original paths)"]}
    router.add_api_route(
        "/task",
        create_task,
        methods=["POST"],
        status_code=201,
        operation_id="create_task_legacy",
        **one,
        **legacy,
    )
    router.add_api_route(
        "/task/{task_id}", get_task, methods=["GET"], operation_id="get_task_legacy", **one, **legacy
    )
    router.add_api_route(
        "/task/{task_id}", replace_task, methods=["PUT"], operation_id="replace_task_legacy", **one, **legacy
    )
    router.add_api_route(
        "/task/{task_id}",
        delete_task,
        methods=["DELETE"],
        status_code=204,
        responses=WRITE_ERRORS,
        operation_id="delete_task_legacy",
        response_class=Response,
        **legacy,
    )
    return router
