"""Reading a request on the fast path (``tasks_api.fastpath``): query string, JSON body, path id, If-Match and
the page size, checked by pydantic models with the same 422 problems as FastAPI's validation gives.

Each reader has the annotation ``@documented`` shows for it beside it, built from the same constraints.
"""

from __future__ import annotations

from email.message import Message
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Body, Header, Path, Query, Request
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from tasks_api.problems import INVALID_FIELDS, ProblemError, field_error, validation_problem
from tasks_api.settings import Settings

M = TypeVar("M", bound=BaseModel)

_ID_LIMITS: dict[str, Any] = {"ge": 1, "le": 2**63 - 1, "description": "The task's id"}
_TASK_ID = TypeAdapter(Annotated[int, Field(**_ID_LIMITS)])
TaskIdPath = Annotated[int, Path(**_ID_LIMITS)]
IfMatchHeader = Annotated[str | None, Header(alias="If-Match", description="An ETag from a previous read")]


def query_of(model: type[M]) -> Any:
    """The documented annotation of a query string read with ``query(request, model)``."""
    return Annotated[model, Query()]


def body_of(model: type[M]) -> Any:
    """The documented annotation of a body read with ``json_body(request, model)``."""
    return Annotated[model, Body()]


def query(request: Request, model: type[M]) -> M:
    """The query string as ``model``: a repeated name counts once, its last value (as Starlette's
    ``query_params`` reads it, without building the multi-dict)."""
    text = request.scope["query_string"].decode("latin-1")
    try:
        return model.model_validate(dict(parse_qsl(text, keep_blank_values=True)))
    except ValidationError as exc:
        raise validation_problem(exc.errors(), "query") from None


def page_size(requested: int | None, settings: Settings) -> int:
    """The page size of every paged list: the request's limit, else the default, never above the maximum
    (a request without ?limit= is never refused, whatever the default is configured to)."""
    if requested is None:
        return min(settings.page_limit_default, settings.page_limit_max)
    if requested > settings.page_limit_max:
        raise invalid_query("limit", f"must be at most {settings.page_limit_max}")
    return requested


def invalid_query(field: str, message: str) -> ProblemError:
    return ProblemError(422, INVALID_FIELDS, errors=[field_error(field, message, "query")])


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
