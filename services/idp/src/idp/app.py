"""create_app(settings): the store, the pool, the seed, and the routers."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy import select

from idp import cognito_api, discovery, hosted_ui, local, oauth
from idp.local_client import LocalCognitoClient
from idp.pool import UserPool
from idp.pools import Pools
from idp.seed import apply_seed, read_seed
from idp.settings import Settings
from idp.store import Client, Store

log = logging.getLogger("idp")


def build_pool(settings: Settings) -> UserPool:
    seed = read_seed(settings.seed_file)
    store = Store(settings.database_url)
    pool = UserPool(
        settings, store, seed.pool_id, mfa_configuration=seed.mfa_configuration, name=seed.pool_name
    )
    apply_seed(store, seed, pool, pool.clock())
    for user in seed.data.get("users") or []:
        if (user or {}).get("totp_secret"):
            # The seed file is public on purpose: `docker compose up` users read the demo login here.
            log.warning(
                "LOCAL DEVELOPMENT ONLY demo login from %s (public, fixed values): %s / %s; "
                "current TOTP code: idp totp %s",
                settings.seed_file,
                user["email"],
                user.get("password", "?"),
                user["email"],
            )
    pool.keys.ensure_key()
    # Set before the registry opens the other pools: they share the main pool's trigger client.
    pool.local_client = LocalCognitoClient(lambda op, params: cognito_api.dispatch(registry, op, params))
    registry = Pools(settings, pool)
    pool.registry = registry
    return pool


def client_origins(pool: UserPool) -> list[str]:
    """The origins of every client's callback and sign-out URLs: the browser apps that may call us."""
    with pool.store.read() as db:
        clients = db.scalars(select(Client)).all()
        urls = [u for c in clients for u in [*c.callback_urls, *c.logout_urls]]
    origins = set()
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.add(f"{parts.scheme}://{parts.netloc}")
    return sorted(origins)


def _problem(status: int, title: str, detail: Any) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def create_app(settings: Settings | None = None, pool: UserPool | None = None) -> FastAPI:
    settings = settings or Settings()
    pool = pool or build_pool(settings)
    pools = pool.registry or Pools(settings, pool)
    app = FastAPI(title="city-tasks local IdP", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.pool = pool
    app.state.pools = pools

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

    # A browser app (oidc-client-ts) fetches discovery, JWKS, /oauth2/token and userInfo itself, as from
    # a Cognito domain: allow the registered clients' origins. No credentials: those calls carry no cookies.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=client_origins(pool),
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type", "Accept", "X-Amz-Target", "X-Amz-User-Agent"],
        max_age=600,
    )
    app.include_router(discovery.router(pools))
    app.include_router(cognito_api.router(pools))
    app.include_router(oauth.router(pool))
    app.include_router(hosted_ui.router(pool))
    app.include_router(local.router(pool))
    return app
