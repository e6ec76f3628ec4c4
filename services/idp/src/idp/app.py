"""create_app(settings): the store, the pool, the seed, and the routers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from idp import cognito_api, discovery, hosted_ui, oauth
from idp.local_client import LocalCognitoClient
from idp.pool import UserPool
from idp.seed import apply_seed, read_seed
from idp.settings import Settings
from idp.store import Store

log = logging.getLogger("idp")


def build_pool(settings: Settings) -> UserPool:
    seed = read_seed(settings.seed_file)
    store = Store(settings.database_url)
    pool = UserPool(settings, store, seed.pool_id)
    apply_seed(store, seed, pool.passwords.hash, pool.clock())
    if any((u or {}).get("totp_secret") for u in seed.data.get("users") or []):
        log.warning(
            "seed %s has demo users with FIXED, PUBLIC passwords and TOTP secrets: LOCAL DEVELOPMENT ONLY",
            settings.seed_file,
        )
    pool.keys.ensure_key()
    pool.local_client = LocalCognitoClient(lambda op, params: cognito_api.dispatch(pool, op, params))
    return pool


def _problem(status: int, title: str, detail: Any) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def create_app(settings: Settings | None = None, pool: UserPool | None = None) -> FastAPI:
    settings = settings or Settings()
    pool = pool or build_pool(settings)
    app = FastAPI(title="city-tasks local IdP", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.pool = pool

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return _problem(exc.status_code, "Request refused", exc.detail)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", [])), "msg": e.get("msg")} for e in exc.errors()]
        return _problem(400, "Invalid request", errors)

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(discovery.router(pool))
    app.include_router(cognito_api.router(pool))
    app.include_router(oauth.router(pool))
    app.include_router(hosted_ui.router(pool))
    return app
