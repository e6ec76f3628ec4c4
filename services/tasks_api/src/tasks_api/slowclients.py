"""Slow-client limits at the HTTP layer (OWASP API4): a request's head must arrive within a time limit.

uvicorn bounds the idle time between requests (the keep-alive timeout) but not a client that opens a request
and then dribbles its headers a byte at a time (slowloris), which would pin a connection for ever. This
protocol closes such a connection once the head has taken longer than ``header_timeout`` seconds. The body has
its own limit, in ``BodyLimitMiddleware``; the protocol tells it (``BODY_RECEIVED`` in the request's scope)
when the whole body is already here, which is nearly always (a small body comes in the head's packets), so
that the middleware reads it without arming a deadline.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Scope key: True once the server holds the request's whole body (nothing left to wait for).
BODY_RECEIVED = "tasks_api.body_received"


def protocol_with_header_timeout(header_timeout: float) -> type[asyncio.Protocol]:
    class HeaderTimeoutProtocol(HttpToolsProtocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            # A connection that never sends anything is held only for the keep-alive timeout.
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._cancel_head_timer()
            self._head_timer = self.loop.call_later(header_timeout, self._head_too_slow)

        def on_headers_complete(self) -> None:
            self._cancel_head_timer()
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            cycle = getattr(self, "cycle", None)
            if cycle is not None and not cycle.more_body and cycle.scope is self.scope:
                cast(dict[str, Any], self.scope)[BODY_RECEIVED] = True

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_head_timer()
            super().connection_lost(exc)

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_too_slow(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol
