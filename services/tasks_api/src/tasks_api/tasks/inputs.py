"""Reading a task request: the caller, query string, JSON body, path id and If-Match.

The task routes read their requests here instead of through FastAPI's dependency injection, which cost more
CPU per request than the database work behind these routes (docs/performance.md has the measurements). The
checks are the same pydantic models, and errors are the same 422 problems as FastAPI's validation gives.
"""

from __future__ import annotations

from email.message import Message
from typing import Annotated, Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from tasks_api.problems import ProblemError, validation_problem
from tasks_api.tasks.schemas import ListQuery

M = TypeVar("M", bound=BaseModel)

_TASK_ID = TypeAdapter(Annotated[int, Field(ge=1, le=2**63 - 1, description="The task's id")])
TASK_ID_SCHEMA: dict[str, Any] = _TASK_ID.json_schema()


def list_query(request: Request) -> ListQuery:
    try:
        return ListQuery.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise validation_problem(exc.errors(), "query") from None


def task_id(request: Request) -> int:
    try:
        return _TASK_ID.validate_python(request.path_params["task_id"])
    except ValidationError as exc:
        errors = [{**error, "loc": ("task_id", *error["loc"])} for error in exc.errors()]
        raise validation_problem(errors, "path") from None


def if_match(request: Request) -> str | None:
    return request.headers.get("if-match")


async def json_body(request: Request, model: type[M]) -> M:
    if not _is_json(request.headers.get("content-type")):
        raise ProblemError(415, "Send the body as application/json.")
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        raise validation_problem(exc.errors(), "body") from None


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    if content_type == "application/json":  # what every client sends; parse only the rest
        return True
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    json_subtype = subtype == "json" or subtype.endswith("+json")
    return message.get_content_maintype() == "application" and json_subtype
