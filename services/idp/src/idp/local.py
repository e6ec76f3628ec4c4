"""`/_local/*`: endpoints that exist only in the local IdP (Cognito has none of them), for people and tests.

Every response says so in `X-Local-Only`, so nobody mistakes them for part of Cognito's API.
"""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from idp.pool import UserPool

LOCAL_ONLY_HEADER = "X-Local-Only"
LOCAL_ONLY_NOTE = "this endpoint exists only in the local IdP, not in Amazon Cognito"


def router(pool: UserPool) -> APIRouter:
    api = APIRouter(prefix="/_local", include_in_schema=False)

    @api.get("/outbox")
    async def outbox(to: str | None = Query(default=None, max_length=320)) -> JSONResponse:
        """What the IdP "sent" (codes, temporary passwords), newest first; `to` narrows it to one address."""
        messages = await run_in_threadpool(pool.outbox.messages, to)
        return JSONResponse(
            messages, headers={LOCAL_ONLY_HEADER: LOCAL_ONLY_NOTE, "Cache-Control": "no-store"}
        )

    @api.get("/{rest:path}")
    def unknown(rest: str) -> JSONResponse:
        return JSONResponse(
            {
                "type": "about:blank",
                "title": "Not found",
                "status": 404,
                "detail": f"no /_local/{rest}: try /_local/outbox",
            },
            status_code=404,
            media_type="application/problem+json",
            headers={LOCAL_ONLY_HEADER: LOCAL_ONLY_NOTE},
        )

    return api
