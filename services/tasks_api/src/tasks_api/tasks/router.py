"""HTTP routes of the Task resource: thin, everything else lives in the service and repository.

The endpoints take the Request and read it through ``inputs`` (see there why); ``openapi`` documents each
from the models that check it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from tasks_api import openapi
from tasks_api.auth import authenticate
from tasks_api.problems import INVALID_FIELDS, ProblemError, field_error
from tasks_api.state import api_state
from tasks_api.tasks import inputs
from tasks_api.tasks.repository import Cursor, InvalidCursorError, StoredTask, TaskFilter
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
TASK_ID = openapi.parameter("task_id", "path", inputs.TASK_ID_SCHEMA, required=True)
IF_MATCH = openapi.parameter(
    "If-Match",
    "header",
    {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "An ETag from a previous read"},
    required=False,
)
BODY_MODELS = (TaskFields, TaskPatch)


class RequestRoute(APIRoute):
    """A route whose endpoint takes the Request and returns a Response: it is called as it is, without
    FastAPI's per-request dependency solving and response handling, which have nothing to do here."""

    def get_route_handler(self) -> Any:
        return self.endpoint


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


def _invalid_query(field: str, message: str) -> ProblemError:
    return ProblemError(422, INVALID_FIELDS, errors=[field_error(field, message, "query")])


async def list_tasks(request: Request) -> Response:
    svc = await _service(request)
    query: ListQuery = inputs.list_query(request)
    settings = api_state(request.app).settings
    # The default never exceeds the configured maximum (a request without ?limit= must not be refused).
    size = query.limit or min(settings.page_limit_default, settings.page_limit_max)
    if size > settings.page_limit_max:
        raise _invalid_query("limit", f"must be at most {settings.page_limit_max}")
    try:
        after = Cursor.decode(query.cursor) if query.cursor else None
    except InvalidCursorError:
        raise _invalid_query("cursor", "is not a cursor from this API") from None
    filters = TaskFilter(status=query.status, day=query.day, q=query.q)
    page = await svc.list(limit=size, after=after, filters=filters)
    headers = {}
    if page.next is not None:
        headers["Link"] = f'<{_next_page(request, page.next, size)}>; rel="next"'
    return Response(list_document(page.items), media_type=JSON, headers=headers)


def _next_page(request: Request, following: Cursor, size: int) -> str:
    """This request's path and query with the next page's cursor and limit."""
    others = [(k, v) for k, v in request.query_params.multi_items() if k not in {"cursor", "limit"}]
    query = f"cursor={following.encode()}&limit={size}"  # both URL-safe as they are
    if others:
        query = f"{urlencode(others)}&{query}"
    return f"{request.scope['path']}?{query}"


async def create_task(request: Request) -> Response:
    svc = await _write_service(request)
    task = await svc.create(await inputs.json_body(request, TaskFields))
    return _one(task, 201, {"Location": f"/api/tasks/{task.id}"})


async def get_task(request: Request) -> Response:
    svc = await _service(request)
    return _one(await svc.get(inputs.task_id(request)))


async def replace_task(request: Request) -> Response:
    svc = await _write_service(request)
    task_id = inputs.task_id(request)
    body = await inputs.json_body(request, TaskFields)
    return _one(await svc.replace(task_id, body, inputs.if_match(request)))


async def patch_task(request: Request) -> Response:
    svc = await _write_service(request)
    task_id = inputs.task_id(request)
    body = await inputs.json_body(request, TaskPatch)
    return _one(await svc.patch(task_id, body, inputs.if_match(request)))


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
        response_model=list[TaskOut],
        responses=ERRORS,
        summary="List the caller's tasks (ordered by hour, minute, id; paged with Link rel=next)",
        openapi_extra=openapi.operation(parameters=openapi.query_parameters(ListQuery)),
    )
    one: dict[str, Any] = {"response_model": TaskOut, "responses": WRITE_ERRORS}
    gone: dict[str, Any] = {"status_code": 204, "responses": WRITE_ERRORS, "response_class": Response}
    by_id, write_by_id = [TASK_ID], [TASK_ID, IF_MATCH]
    # (path after /tasks, method, endpoint, route options, documented inputs, summary, on the original's path)
    routes: list[tuple[str, str, Any, dict[str, Any], dict[str, Any], str, bool]] = [
        ("", "POST", create_task, {**one, "status_code": 201}, {"body": TaskFields}, "Create a task", True),
        ("/{task_id}", "GET", get_task, one, {"parameters": by_id}, "Read a task", True),
        (
            "/{task_id}",
            "PUT",
            replace_task,
            one,
            {"parameters": write_by_id, "body": TaskFields},
            "Replace a task",
            True,
        ),
        (
            "/{task_id}",
            "PATCH",
            patch_task,
            one,
            {"parameters": write_by_id, "body": TaskPatch},
            "Change some fields of a task",
            False,
        ),
        ("/{task_id}", "DELETE", delete_task, gone, {"parameters": write_by_id}, "Delete a task", True),
    ]
    for rest, method, endpoint, options, inputs_doc, summary, original in routes:
        # openapi.operation() builds a fresh document per call: FastAPI merges it into the operation in place.
        router.add_api_route(
            f"/tasks{rest}",
            endpoint,
            methods=[method],
            summary=summary,
            openapi_extra=openapi.operation(**inputs_doc),
            **options,
        )
        if original:  # the original service's paths, kept for its clients
            router.add_api_route(
                f"/task{rest}",
                endpoint,
                methods=[method],
                operation_id=f"{endpoint.__name__}_legacy",
                deprecated=True,
                tags=["tasks (original paths)"],
                openapi_extra=openapi.operation(**inputs_doc),
                **options,
            )
    return router
