"""Liveness, readiness and the draining switch flipped on SIGTERM."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from tasks_api.db.migrate import SchemaState, database_schema_state
from tasks_api.fastpath import RequestRoute, documented
from tasks_api.state import api_state

log = logging.getLogger("tasks_api.health")
READY_CHECK_TIMEOUT_SECONDS = 3.0


@dataclass
class Readiness:
    draining: bool = False
    # The unknown revisions already warned about: the ALB asks every 15 s, the log says it once.
    warned_ahead: frozenset[str] | None = None

    def warn_once_ahead(self, revisions: frozenset[str]) -> None:
        if self.warned_ahead == revisions:
            return
        self.warned_ahead = revisions
        log.warning(
            "readiness: the database is at revision(s) %s, newer than this code knows; serving anyway "
            "(migrations are expand/contract, so the previous release runs on the newer schema)",
            ", ".join(sorted(revisions)),
        )


router = APIRouter(tags=["health"], route_class=RequestRoute)
_UP = b'{"status":"UP"}'


@router.get("/health/live", summary="The process is up")
@documented(returns=dict[str, str])
async def live(request: Request) -> Response:
    return Response(_UP, media_type="application/json")


@router.get(
    "/health/ready",
    summary="Database reachable and its schema at or ahead of this code's head; 503 otherwise and while "
    "draining",
    responses={503: {"description": "Not ready"}},
)
@documented()
async def ready(request: Request) -> JSONResponse:
    app = api_state(request.app)
    state = app.readiness
    if state.draining:
        return _down("draining")
    try:
        async with asyncio.timeout(READY_CHECK_TIMEOUT_SECONDS):
            async with app.running.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                schema, revisions = await database_schema_state(conn)
    except Exception as exc:  # any failure here means "not ready", never a 500
        log.warning("readiness: database check failed: %s", type(exc).__name__)
        return _down("database unreachable")
    if not schema.serves:
        return _down("database schema is behind this code's latest migration")
    if schema is SchemaState.AHEAD:
        state.warn_once_ahead(revisions)
    return JSONResponse({"status": "UP", "checks": {"database": "UP", "migrations": "UP"}})


def _down(reason: str) -> JSONResponse:
    return JSONResponse({"status": "DOWN", "reason": reason}, status_code=503, headers={"Retry-After": "5"})


# The original service's health paths (its ALB checked /q/health/live).
router.add_api_route("/q/health/live", live, methods=["GET"], include_in_schema=False)
router.add_api_route("/q/health/ready", ready, methods=["GET"], include_in_schema=False)
