"""Pure-ASGI middleware: the edge every request passes (request id, access line, security headers, CORS, the
draining switch) and the request body limit.

They run on every request, so they are written for the CPU they cost (docs/performance.md): one send wrapper
per request, headers prepared once, nothing looked up twice.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Mapping
from itertools import count
from typing import Any, Protocol

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tasks_api.headers import SECURITY_HEADERS
from tasks_api.jsonlog import log_access
from tasks_api.problems import problem_response
from tasks_api.slowclients import BODY_RECEIVED

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SECURITY_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)
# /docs loads its own assets, so it gets no CSP from us.
_DOCS_PATHS = ("/docs", "/redoc")
_WITHOUT_CSP = tuple(h for h in SECURITY_HEADERS if h[0] != b"content-security-policy")
_CLOSE = (b"connection", b"close")
_VARY_ORIGIN = (b"vary", b"Origin")


class Draining(Protocol):
    draining: bool


class RequestIds:
    """Request ids for requests that bring none: 32 hex digits, a random half per process and a counter
    (unique without a call to the system's random source per request)."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._next = count(1)

    def new(self) -> str:
        return f"{self._prefix}{next(self._next):016x}"


class EdgeMiddleware:
    """Assigns the request id (X-Request-Id, echoed back), adds the security headers the response lacks,
    answers with ``Connection: close`` while draining (keep-alive clients then reconnect to a healthy target
    instead of reusing a connection closed under them at shutdown), and writes one access line per request.

    With ``cors`` (CORSMiddleware's options), a request that has an Origin goes through Starlette's
    CORSMiddleware; one without (most: same-origin and server-to-server) gets only the ``Vary: Origin`` that
    CORSMiddleware would add, without its cost (about 8 µs a request)."""

    def __init__(self, app: ASGIApp, readiness: Draining, cors: Mapping[str, Any] | None = None) -> None:
        self.app = app
        self.cors_app: ASGIApp | None = CORSMiddleware(app, **cors) if cors else None
        self.readiness = readiness
        self.request_ids = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id, origin = _request_id_and_origin(scope)
        request_id = request_id or self.request_ids.new()
        scope.setdefault("state", {})["request_id"] = request_id
        edge: tuple[tuple[bytes, bytes], ...] = ((b"x-request-id", request_id.encode()),)
        app = self.app
        if self.cors_app is not None:
            if origin:
                app = self.cors_app
            else:
                edge = (*edge, _VARY_ORIGIN)
        readiness = self.readiness
        status = 500

        async def send_at_edge(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = _response_headers(
                    message.get("headers", ()), scope["path"], edge, readiness.draining
                )
            await send(message)

        try:
            await app(scope, receive, send_at_edge)
        finally:
            route = scope.get("route")
            log_access(
                scope["method"],
                getattr(route, "path", None) or "unmatched",
                status,
                round((time.perf_counter() - started) * 1000, 2),
                request_id,
            )


def _response_headers(
    headers: list[tuple[bytes, bytes]], path: str, edge: tuple[tuple[bytes, bytes], ...], draining: bool
) -> list[tuple[bytes, bytes]]:
    security = _WITHOUT_CSP if path.startswith(_DOCS_PATHS) else SECURITY_HEADERS
    for name, _ in headers:
        if name.lower() in _SECURITY_NAMES:  # the app set some itself: keep its own
            present = {name.lower() for name, _ in headers}
            security = tuple(h for h in security if h[0] not in present)
            break
    if draining:
        headers = [h for h in headers if h[0].lower() != b"connection"]
        return [*headers, *security, *edge, _CLOSE]
    return [*headers, *security, *edge]


def _request_id_and_origin(scope: Scope) -> tuple[str | None, bytes | None]:
    """The request's valid X-Request-Id (or None) and its Origin header, in one pass over the headers."""
    request_id = origin = None
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            request_id = text if _REQUEST_ID.match(text) else None
        elif name == b"origin":
            origin = value
    return request_id, origin


class BodyLimitMiddleware:
    """413 for bodies above ``max_bytes``: by Content-Length up front, or while a chunked body streams in;
    408 for a body that takes longer than ``timeout_seconds`` to arrive (a slow client pinning a worker)."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float = 15.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in {"GET", "HEAD", "OPTIONS", "DELETE"}:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        # Buffer the body (at most max_bytes, small by design) under one deadline, then replay it. No deadline
        # when the server already holds all of it (slowclients.BODY_RECEIVED): receiving cannot wait then.
        messages: list[Message] = []
        size = 0
        deadline = None
        if not scope.get(BODY_RECEIVED):
            deadline = asyncio.get_running_loop().time() + self.timeout_seconds
        while True:
            try:
                if deadline is None:
                    message = await receive()
                else:
                    async with asyncio.timeout_at(deadline):
                        message = await receive()
            except TimeoutError:
                await self._too_slow(scope, receive, send)
                return
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replay_receive() -> Message:
            try:
                return next(replay)
            except StopIteration:
                return await receive()

        await self.app(scope, replay_receive, send)

    async def _too_slow(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            408,
            f"The request body did not arrive within {self.timeout_seconds:g} s.",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413, f"The request body is larger than {self.max_bytes} bytes.", headers={"Connection": "close"}
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
