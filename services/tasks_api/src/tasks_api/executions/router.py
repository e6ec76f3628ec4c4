"""``GET /api/tasks/{id}/executions``: a task's run history, newest slot first, paged like the task list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from tasks_api.auth import Principal, authenticate
from tasks_api.executions import repository as repo
from tasks_api.executions.schemas import (
    ExecutionList,
    ExecutionOut,
    InvalidCursorError,
    decode_cursor,
    encode_cursor,
)
from tasks_api.problems import ProblemError, field_error
from tasks_api.state import api_state

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}

router = APIRouter(prefix="/api", tags=["executions"])


def _invalid(field: str, message: str) -> ProblemError:
    return ProblemError(
        422, "The request has invalid fields; see errors.", errors=[field_error(field, message, "query")]
    )


@router.get(
    "/tasks/{task_id}/executions",
    response_model=list[ExecutionOut],
    responses={401: PROBLEM, 404: PROBLEM, 422: PROBLEM, 503: PROBLEM},
    summary="The task's executions, newest slot first (paged with Link rel=next)",
)
async def list_task_executions(
    request: Request,
    user: Annotated[Principal, Depends(authenticate)],
    task_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="The task's id")],
    limit: Annotated[int | None, Query(ge=1, description="Page size (default 100, at most 500)")] = None,
    cursor: Annotated[str | None, Query(max_length=200, description="From the previous page's Link")] = None,
) -> Response:
    state = api_state(request.app)
    settings = state.settings
    size = limit or settings.page_limit_default
    if size > settings.page_limit_max:
        raise _invalid("limit", f"must be at most {settings.page_limit_max}")
    try:
        before = decode_cursor(cursor) if cursor else None
    except InvalidCursorError:
        raise _invalid("cursor", "is not a cursor from this API") from None
    async with state.running.sessionmaker() as db:
        # Someone else's task is indistinguishable from a missing one.
        if not await repo.task_belongs_to(db, task_id, user.sub):
            raise ProblemError(404, "No such task.")
        rows = await repo.list_executions(db, task_id, size + 1, before)
    headers = {}
    if len(rows) > size:
        rows = rows[:size]
        url = request.url.include_query_params(
            cursor=encode_cursor(rows[-1].scheduled_for, rows[-1].id), limit=size
        )
        headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    body = ExecutionList.dump_json([ExecutionOut.model_validate(row) for row in rows], by_alias=True)
    return Response(body, media_type="application/json", headers=headers)
