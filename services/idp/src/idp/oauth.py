"""OAuth 2.0 endpoints of the hosted-UI domain: /oauth2/authorize, /oauth2/token, /oauth2/userInfo, /logout.

Request parsing and PKCE come from Authlib's pieces (`extract_basic_authorization`, `scope_to_list`,
`add_params_to_uri`, `create_s256_code_challenge`, the typed errors); the grants themselves live in
`grants.py`, one class per grant.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.util import extract_basic_authorization, scope_to_list
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import update

from idp.errors import CognitoError
from idp.hosted_ui.pages import (
    FLOW_COOKIE,
    SESSION_COOKIE,
    error_page,
    new_flow,
    redirect_with_code,
    set_cookie,
)
from idp.pool import UserPool
from idp.store import Client, RefreshToken

log = logging.getLogger("idp.oauth")

S256 = "S256"


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="oauth2"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


def _redirect_error(redirect_uri: str, state: str | None, error: str, description: str) -> RedirectResponse:
    params = [("error", error), ("error_description", description)]
    if state:
        params.append(("state", state))
    return RedirectResponse(add_params_to_uri(redirect_uri, params), status_code=302)


def validate_authorize(pool: UserPool, q: dict[str, str]) -> tuple[Client, dict[str, Any]] | Response:
    """Checks an authorization request; returns the client and the flow data, or the response to send.

    Until client_id and redirect_uri are known good, errors are shown as a page: redirecting to an
    unregistered URI would make the IdP an open redirector (RFC 6749 section 4.1.2.1).
    """
    client_id, redirect_uri, state = q.get("client_id"), q.get("redirect_uri"), q.get("state")
    with pool.store.begin() as db:
        client = db.get(Client, client_id) if client_id else None
    if client is None:
        return error_page("Unknown client", "The client_id is missing or not registered with this user pool.")
    if not redirect_uri or redirect_uri not in client.callback_urls:
        return error_page(
            "Unregistered redirect_uri", "The redirect_uri is not one of this client's callback URLs."
        )
    if q.get("response_type") != "code":
        return _redirect_error(redirect_uri, state, "unsupported_response_type", "only response_type=code")
    if "code" not in client.oauth_flows:
        return _redirect_error(redirect_uri, state, "unauthorized_client", "the code grant is not enabled")
    scopes = scope_to_list(q.get("scope")) or list(client.scopes)
    if any(s not in client.scopes for s in scopes):
        return _redirect_error(redirect_uri, state, "invalid_scope", "a requested scope is not allowed")
    challenge, method = q.get("code_challenge"), q.get("code_challenge_method")
    if challenge is None and client.secret is None:
        return _redirect_error(
            redirect_uri, state, "invalid_request", "code_challenge (PKCE S256) is required"
        )
    if challenge is not None and method != S256:
        return _redirect_error(redirect_uri, state, "invalid_request", "code_challenge_method must be S256")
    if challenge is not None and not (43 <= len(challenge) <= 128):
        return _redirect_error(redirect_uri, state, "invalid_request", "code_challenge is malformed")
    return client, {
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "scope": " ".join(scopes),
        "nonce": q.get("nonce"),
        "code_challenge": challenge,
        "code_challenge_method": method if challenge else None,
    }


def _authenticate_client(pool: UserPool, request: Request, form: dict[str, str]) -> Client | JSONResponse:
    basic_id, basic_secret = extract_basic_authorization(request.headers)
    client_id = basic_id or form.get("client_id")
    secret = basic_secret if basic_id else form.get("client_secret")
    try:
        client = pool.cached_client(client_id)
    except CognitoError:
        return _oauth_error("invalid_client", "unknown client", 401)
    if client.secret is not None:
        if not secret or not hmac.compare_digest(secret, client.secret):
            return _oauth_error("invalid_client", "client authentication failed", 401)
    elif secret:
        return _oauth_error("invalid_client", "this public client has no secret", 401)
    return client


def router(pool: UserPool) -> APIRouter:
    api = APIRouter()

    @api.get("/oauth2/authorize")
    def authorize(request: Request) -> Response:
        checked = validate_authorize(pool, dict(request.query_params))
        if isinstance(checked, Response):
            return checked
        _, flow = checked
        # An existing hosted-UI session (the user signed in recently) skips the forms, as Cognito does.
        with pool.store.begin() as db:
            browser = pool.load_session(db, "browser", request.cookies.get(SESSION_COOKIE))
            if browser is not None and browser.sub is not None:
                return redirect_with_code(pool, flow, browser.sub, int(browser.data["auth_time"]), db=db)
        with pool.store.begin() as db:
            token = new_flow(pool, db, flow)
        response = RedirectResponse("/login", status_code=302)
        secure = pool.settings.public_base.startswith("https://")
        set_cookie(response, FLOW_COOKIE, token, pool.settings.hosted_flow_seconds, secure)
        return response

    @api.post("/oauth2/token")
    async def token(request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        client = await run_in_threadpool(_authenticate_client, pool, request, form)
        if isinstance(client, JSONResponse):
            return client
        try:
            body = await run_in_threadpool(pool.grants.token_response, client, form)
        except OAuth2Error as exc:
            log.info("token request refused: %s", exc.error)
            return _oauth_error(str(exc.error), str(exc.description or exc.error))
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    @api.post("/oauth2/revoke")
    async def revoke(request: Request) -> Response:
        """RFC 7009, as Cognito's: revokes a refresh token and the access tokens issued from it."""
        form = {k: str(v) for k, v in (await request.form()).items()}
        client = await run_in_threadpool(_authenticate_client, pool, request, form)
        if isinstance(client, JSONResponse):
            return client
        token = form.get("token")
        if not token:
            return _oauth_error("invalid_request", "token is required")
        await run_in_threadpool(pool.grants.revoke_refresh_token, client.client_id, token)
        # Unknown tokens are not an error (RFC 7009 section 2.2): the answer must not reveal what exists.
        return Response(status_code=200, headers={"Cache-Control": "no-store"})

    @api.get("/oauth2/userInfo")
    def user_info(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return JSONResponse(
                {
                    "error": "invalid_request",
                    "error_description": "Authorization: Bearer <access token> required",
                },
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_request"'},
            )
        try:
            return JSONResponse(pool.grants.user_info(token.strip()))
        except CognitoError as exc:
            return JSONResponse(
                {"error": "invalid_token", "error_description": exc.message},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )

    @api.get("/logout")
    def logout(request: Request) -> Response:
        client_id, logout_uri = request.query_params.get("client_id"), request.query_params.get("logout_uri")
        with pool.store.begin() as db:
            client = db.get(Client, client_id) if client_id else None
            if client is None:
                return error_page("Unknown client", "The client_id is missing or not registered.")
            if not logout_uri or logout_uri not in client.logout_urls:
                return error_page(
                    "Unregistered logout_uri", "The logout_uri is not one of this client's sign-out URLs."
                )
            browser = pool.load_session(db, "browser", request.cookies.get(SESSION_COOKIE))
            if browser is not None:
                # The hosted-UI session ends, and so do the refresh tokens this client got for the user.
                db.execute(
                    update(RefreshToken)
                    .where(RefreshToken.sub == browser.sub, RefreshToken.client_id == client.client_id)
                    .values(revoked=True)
                )
                db.delete(browser)
        response = RedirectResponse(logout_uri, status_code=302)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(FLOW_COOKIE, path="/")
        return response

    return api
