"""``GET /api/tasks/{id}/executions``: a task's run history, newest slot first, paged like the task list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from tasks_api import inputs
from tasks_api.auth import authenticate
from tasks_api.executions import repository as repo
from tasks_api.executions.schemas import ExecutionList, ExecutionOut, decode_cursor, encode_cursor
from tasks_api.fastpath import RequestRoute, documented
from tasks_api.inputs import TaskIdPath, query_of
from tasks_api.paging import InvalidCursorError, PageQuery, next_page_link
from tasks_api.problems import ProblemError
from tasks_api.state import api_state

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}

router = APIRouter(prefix="/api", tags=["executions"], route_class=RequestRoute)


@router.get(
    "/tasks/{task_id}/executions",
    responses={401: PROBLEM, 404: PROBLEM, 422: PROBLEM, 503: PROBLEM},
    summary="The task's executions, newest slot first (paged with Link rel=next)",
)
@documented(returns=list[ExecutionOut], task_id=TaskIdPath, query=query_of(PageQuery))
async def list_task_executions(request: Request) -> Response:
    user = await authenticate(request)
    task_id = inputs.task_id(request)
    query = inputs.query(request, PageQuery)
    state = api_state(request.app)
    size = inputs.page_size(query.limit, state.settings)
    try:
        before = decode_cursor(query.cursor) if query.cursor else None
    except InvalidCursorError:
        raise inputs.invalid_query("cursor", "is not a cursor from this API") from None
    async with state.running.sessionmaker() as db:
        # Someone else's task is indistinguishable from a missing one.
        if not await repo.task_belongs_to(db, task_id, user.sub):
            raise ProblemError(404, "No such task.")
        rows = await repo.list_executions(db, task_id, size + 1, before)
    headers = {}
    if len(rows) > size:
        rows = rows[:size]
        cursor = encode_cursor(rows[-1].scheduled_for, rows[-1].id)
        headers["Link"] = next_page_link(request.scope["path"], query, cursor, size)
    body = ExecutionList.dump_json([ExecutionOut.model_validate(row) for row in rows], by_alias=True)
    return Response(body, media_type="application/json", headers=headers)
