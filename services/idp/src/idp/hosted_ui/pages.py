"""Rendering, cookies and the server-side flow record the hosted-UI forms share, and the flow's end: the
redirect with the authorization code (used by /oauth2/authorize too, for a browser already signed in)."""

from __future__ import annotations

import hmac
import io
import secrets
from pathlib import Path
from typing import Any

import segno
from authlib.common.urls import add_params_to_uri
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from idp.pool import UserPool
from idp.store import SessionRecord

FLOW_COOKIE = "idp_flow"  # the sign-in in progress (server-side record, 15 minutes)
SESSION_COOKIE = "idp_session"  # the signed-in browser (server-side record, 1 hour), ended by /logout

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

# The pages hold no scripts and load nothing from elsewhere; forbid framing against clickjacking. No
# `form-action`: Chromium applies it to the redirect that follows a POST, which goes to the client's callback.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


def render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _templates.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)


def error_page(title: str, detail: str, status: int = 400) -> HTMLResponse:
    return render("error.html", status=status, title=title, detail=detail)


def set_cookie(response: Response, name: str, value: str, max_age: int, secure: bool = False) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure, path="/")


def new_flow(pool: UserPool, db: Session, flow: dict[str, Any]) -> str:
    data = {**flow, "csrf": secrets.token_urlsafe(32), "stage": "login", "attempts": 0}
    return pool.new_session(db, "flow", None, flow["client_id"], data, pool.settings.hosted_flow_seconds)


def redirect_with_code(
    pool: UserPool, flow: dict[str, Any], sub: str, auth_time: int, db: Any = None
) -> RedirectResponse:
    """The sign-in is done: issue the authorization code and send it (with the state) to the client."""
    code = pool.grants.authorization_code.issue_code(
        flow["client_id"],
        sub,
        flow["redirect_uri"],
        flow["scope"],
        flow.get("nonce"),
        flow.get("code_challenge"),
        flow.get("code_challenge_method"),
        auth_time,
        db=db,
    )
    params = [("code", code)]
    if flow.get("state"):
        params.append(("state", flow["state"]))
    response = RedirectResponse(add_params_to_uri(flow["redirect_uri"], params), status_code=302)
    response.delete_cookie(FLOW_COOKIE, path="/")
    return response


def load_flow(pool: UserPool, db: Session, token: str | None) -> SessionRecord | None:
    return pool.load_session(db, "flow", token)


def csrf_ok(flow: SessionRecord, given: Any) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given, str(flow.data.get("csrf", "")))


def qr_svg(uri: str) -> str:
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, xmldecl=False, svgns=True, border=2)
    return buffer.getvalue().decode()
