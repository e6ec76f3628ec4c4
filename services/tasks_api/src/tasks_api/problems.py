"""RFC 9457 problem details: every error response of the API is built here, and only here.

Bodies say what went wrong for the caller; they never carry a stack trace, SQL or a token.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic.alias_generators import to_camel
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tasks_api.db.errors import is_connection_failure
from tasks_api.headers import SECURITY_HEADERS

log = logging.getLogger("tasks_api.problems")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://city-tasks.dev/problems/"
DB_RETRY_AFTER_SECONDS = 5
# The bearer challenge: deliberately no hint about *why* a token was refused.
BEARER_INVALID = 'Bearer error="invalid_token"'
BEARER_MISSING = 'Bearer realm="city-tasks"'

_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    408: "request-timeout",
    409: "conflict",
    412: "precondition-failed",
    413: "content-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    428: "precondition-required",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}


class ProblemError(Exception):
    """Raise anywhere below the routers to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title or str(status))
        self.status = status
        self.detail = detail
        self.title = title
        self.errors = list(errors) if errors else None
        self.headers = dict(headers or {})


def field_error(field: str, message: str, location: str = "body") -> dict[str, str]:
    return {"field": field, "in": location, "message": message}


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    instance: str | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + _SLUGS.get(status, str(status)),
        "title": title or _phrase(status),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    return JSONResponse(body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


INVALID_FIELDS = "The request has invalid fields; see errors."
_LOCATIONS = {"body", "query", "path", "header"}


def validation_problem(errors: Sequence[Mapping[str, Any]], location: str) -> ProblemError:
    """422 for pydantic errors found in one part of the request (``location``: body, query, path, header)."""
    return ProblemError(422, INVALID_FIELDS, errors=field_errors(errors, location))


def field_errors(errors: Sequence[Mapping[str, Any]], location: str = "body") -> list[dict[str, str]]:
    """pydantic's errors as ``{field, in, message}``; a ``loc`` may start with the location itself."""
    result = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        where = loc[0] if loc and loc[0] in _LOCATIONS else location
        path = loc[1:] if loc and loc[0] in _LOCATIONS else loc
        field = ".".join(to_camel(part) for part in path) or where
        message = str(err.get("msg", "is invalid"))
        if err.get("type") == "extra_forbidden":
            message = "is not a writable field"
        elif err.get("type") == "json_invalid":
            field, message = "body", "is not valid JSON"
        result.append(field_error(field, message, where))
    return result


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.status,
        exc.detail,
        title=exc.title,
        errors=exc.errors,
        headers=exc.headers,
        instance=request.url.path,
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(
        422,
        INVALID_FIELDS,
        errors=field_errors(exc.errors()),
        instance=request.url.path,
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != _phrase(exc.status_code) else None
    return problem_response(exc.status_code, detail, headers=exc.headers, instance=request.url.path)


async def _on_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # A lost or unreachable database is a temporary condition for the caller, never a 500.
    log.warning("database unavailable: %s", type(exc).__name__)
    return problem_response(
        503,
        "The database is unavailable; retry later.",
        headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)},
        instance=request.url.path,
    )


async def _on_dbapi(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if (
        exc.connection_invalidated
        or isinstance(exc, OperationalError | InterfaceError)
        or is_connection_failure(exc)
    ):
        return await _on_database_unavailable(request, exc)
    return await _on_unexpected(request, exc)


async def _on_driver(request: Request, exc: Exception) -> JSONResponse:
    # asyncpg's errors, raised by the task routes' statements: a lost connection, a server that cannot
    # take connections yet, or a statement cut off by statement_timeout are all "try again later".
    if is_connection_failure(exc) or getattr(exc, "sqlstate", None) == "57014":
        return await _on_database_unavailable(request, exc)
    return await _on_unexpected(request, exc)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    # Starlette re-raises after this response and the server then drops the connection: say so, or a
    # keep-alive client (the ALB) would send its next request down a socket that is about to close.
    # This response is sent from outside every middleware (Starlette's ServerErrorMiddleware), so the
    # security headers are added here.
    headers = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}
    headers["Connection"] = "close"
    return problem_response(500, "An unexpected error occurred.", instance=request.url.path, headers=headers)


def install(app: FastAPI) -> None:
    """Register every handler; routers just raise."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(DBAPIError, _on_dbapi)
    app.add_exception_handler(asyncpg.PostgresError, _on_driver)
    app.add_exception_handler(asyncpg.InterfaceError, _on_driver)
    app.add_exception_handler(asyncpg.InternalClientError, _on_driver)
    for cls in (PoolTimeoutError, DisconnectionError, ConnectionError, TimeoutError, OSError):
        app.add_exception_handler(cls, _on_database_unavailable)
    app.add_exception_handler(Exception, _on_unexpected)
