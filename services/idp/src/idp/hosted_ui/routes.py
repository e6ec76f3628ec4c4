"""Form handlers of the hosted UI. Every step reads and advances a server-side flow record; the browser
only holds its random id in an HttpOnly cookie, and every POST must carry the flow's CSRF token. The steps
themselves (password, new password, MFA setup, TOTP, their throttle and attempt limit) are the sign-in state
machine's (signin.py), shared with the cognito-idp API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from idp import mfa
from idp.errors import CognitoError
from idp.hosted_ui.pages import (
    FLOW_COOKIE,
    SESSION_COOKIE,
    csrf_ok,
    error_page,
    load_flow,
    qr_svg,
    redirect_with_code,
    render,
    set_cookie,
)
from idp.passwords import check_policy
from idp.pool import UserPool
from idp.store import User

NO_FLOW = "No sign-in is in progress, or it expired. Go back to the application and choose Sign in again."


def _form_page(stage: str) -> str:
    return {
        "login": "/login",
        "new_password": "/new-password",
        "mfa_setup": "/mfa/setup",
        "totp": "/mfa",
    }[stage]


class HostedUi:
    def __init__(self, pool: UserPool) -> None:
        self.pool = pool
        self.secure = pool.settings.public_base.startswith("https://")

    # ------------------------------------------------------------ helpers
    def _flow_or_error(self, db: Any, request: Request, form: dict[str, str] | None, stage: str | None):
        flow = load_flow(self.pool, db, request.cookies.get(FLOW_COOKIE))
        if flow is None:
            return None, error_page("Sign-in expired", NO_FLOW)
        if form is not None and not csrf_ok(flow, form.get("_csrf")):
            return None, error_page(
                "Form expired", "The form was not submitted from this page. Reload and retry.", 403
            )
        if stage is not None and flow.data.get("stage") != stage:
            return None, RedirectResponse(_form_page(flow.data.get("stage", "login")), status_code=303)
        return flow, None

    def _account_form(self, request: Request, form: dict[str, str]) -> tuple[str, str] | Response:
        """A sign-up or password form posted from this sign-in: its (csrf, client_id), or the error page."""
        with self.pool.store.begin() as db:
            flow, problem = self._flow_or_error(db, request, form, None)
            if problem:
                return problem
            return flow.data["csrf"], flow.data["client_id"]

    def _finish(self, db: Any, flow: Any, user: User) -> Response:
        """Signed in: start the browser session and send the code back to the client."""
        auth_time = int(self.pool.clock())
        session = self.pool.new_session(
            db,
            "browser",
            user.sub,
            None,
            {"auth_time": auth_time},
            self.pool.settings.browser_session_seconds,
        )
        data = dict(flow.data)
        db.delete(flow)
        db.flush()
        response = redirect_with_code(self.pool, data, user.sub, auth_time, db=db)
        set_cookie(response, SESSION_COOKIE, session, self.pool.settings.browser_session_seconds, self.secure)
        return response

    def _advance(self, db: Any, flow: Any, user: User) -> Response:
        """The sign-in state machine's next step (signin.py) as the page that asks for it."""
        challenge = self.pool.signin.next_challenge(user)
        if challenge is None:
            return self._finish(db, flow, user)
        stage = {
            "NEW_PASSWORD_REQUIRED": "new_password",
            "MFA_SETUP": "mfa_setup",
            "SOFTWARE_TOKEN_MFA": "totp",
        }[challenge]
        flow.sub = user.sub
        data = {**flow.data, "stage": stage, "attempts": 0}
        if stage == "mfa_setup":
            user.totp_pending_secret = mfa.new_secret()
        flow.data = data
        return RedirectResponse(_form_page(stage), status_code=303)

    # ------------------------------------------------------------ login
    def login_page(self, request: Request) -> Response:
        with self.pool.store.begin() as db:
            flow, problem = self._flow_or_error(db, request, None, "login")
            if problem:
                return problem
            return render("login.html", csrf=flow.data["csrf"], notice=request.query_params.get("notice"))

    def login(self, request: Request, form: dict[str, str]) -> Response:
        with self.pool.store.begin() as db:
            flow, problem = self._flow_or_error(db, request, form, "login")
            if problem:
                return problem
            csrf, client_id = flow.data["csrf"], flow.data["client_id"]
        email = form.get("email", "").strip()
        try:
            user = self.pool.signin.password_login(email, form.get("password", ""))
        except CognitoError as exc:
            if exc.kind == "UserNotConfirmedException":
                return RedirectResponse("/confirm?" + urlencode({"email": email}), status_code=303)
            if exc.kind == "PasswordResetRequiredException":  # reset by an admin: the code is in the outbox
                return RedirectResponse("/reset-password?" + urlencode({"email": email}), status_code=303)
            # One message for unknown users and wrong passwords: the page must not reveal who has an account.
            generic = "Incorrect username or password."
            message = exc.message if "attempts exceeded" in exc.message else generic
            return render("login.html", status=400, csrf=csrf, error=message, email=email)
        with self.pool.store.begin() as db:
            flow, problem = self._flow_or_error(db, request, form, "login")
            if problem:
                return problem
            if flow.client_id != client_id:
                return error_page("Sign-in changed", NO_FLOW)
            fresh = db.get(User, user.sub)
            if fresh is None:
                return error_page("Sign-in failed", "The account no longer exists.")
            return self._advance(db, flow, fresh)

    # ------------------------------------------------------------ new password (admin-created users)
    def new_password_page(self, request: Request) -> Response:
        with self.pool.store.begin() as db:
            flow, problem = self._flow_or_error(db, request, None, "new_password")
            return problem or render("new_password.html", csrf=flow.data["csrf"])

    def new_password(self, request: Request, form: dict[str, str]) -> Response:
        password = form.get("password", "")
        with self.pool.store.begin() as db:
            flow, problem = self._flow_or_error(db, request, form, "new_password")
            if problem:
                return problem
            csrf, sub = flow.data["csrf"], flow.sub
        try:
            check_policy(password)
        except CognitoError as exc:
            return render("new_password.html", status=400, csrf=csrf, error=exc.message)
        credentials = self.pool.credentials(sub, password)
        with self.pool.store.begin() as db:
            flow, problem = self._flow_or_error(db, request, form, "new_password")
            if problem:
                return problem
            user = db.get(User, flow.sub)
            if user is None or user.sub != sub:
                return error_page("Sign-in failed", "The account no longer exists.")
            self.pool.signin.set_new_password(db, user, credentials)
            return self._advance(db, flow, user)

    # ------------------------------------------------------------ MFA setup
    def mfa_setup_page(self, request: Request, error: str | None = None, status: int = 200) -> Response:
        with self.pool.store.begin() as db:
            flow, problem = self._flow_or_error(db, request, None, "mfa_setup")
            if problem:
                return problem
            user = db.get(User, flow.sub, with_for_update=True)
            if user is None or not user.totp_pending_secret:
                return error_page("Sign-in failed", NO_FLOW)
            uri = mfa.provisioning_uri(
                user.totp_pending_secret, user.email, f"city-tasks ({self.pool.pool_id})"
            )
            return render(
                "mfa_setup.html",
                status=status,
                csrf=flow.data["csrf"],
                secret=user.totp_pending_secret,
                otpauth=uri,
                qr=qr_svg(uri),
                error=error,
            )

    def mfa_setup(self, request: Request, form: dict[str, str]) -> Response:
        with self.pool.store.begin() as db:
            flow, problem = self._flow_or_error(db, request, form, "mfa_setup")
            if problem:
                return problem
            user = db.get(User, flow.sub)
            if user is None or not user.totp_pending_secret:
                return error_page("Sign-in failed", NO_FLOW)
            if self.pool.signin.activate_pending_token(user, form.get("code", "")):
                return self._finish(db, flow, user)
        return self.mfa_setup_page(request, "That code did not match. Check the time on your device.", 400)

    # ------------------------------------------------------------ TOTP challenge
    def totp_page(self, request: Request) -> Response:
        with self.pool.store.begin() as db:
            flow, problem = self._flow_or_error(db, request, None, "totp")
            return problem or render("totp.html", csrf=flow.data["csrf"])

    def totp(self, request: Request, form: dict[str, str]) -> Response:
        with self.pool.store.begin() as db:
            flow, problem = self._flow_or_error(db, request, form, "totp")
            if problem:
                return problem
            user = db.get(User, flow.sub, with_for_update=True)
            if user is None:
                return error_page("Sign-in failed", "The account no longer exists.")
            error = self.pool.signin.answer_totp(db, flow, user, form.get("code", ""))
            if error is None:
                return self._finish(db, flow, user)
            csrf = flow.data["csrf"]
            if flow in db.deleted:  # the sign-in's last allowed miss: start over with the password
                return error_page(
                    "Too many wrong codes", "Go back to the application and sign in again.", 401
                )
        message = (
            "That code was already used. Wait for the next one."
            if error.kind == "ExpiredCodeException"
            else "That code did not match."
        )
        return render("totp.html", status=400, csrf=csrf, error=message)

    # ------------------------------------------------------------ sign-up and confirmation
    def signup_page(self, request: Request) -> Response:
        with self.pool.store.begin() as db:
            flow, problem = self._flow_or_error(db, request, None, None)
            return problem or render("signup.html", csrf=flow.data["csrf"])

    def signup(self, request: Request, form: dict[str, str]) -> Response:
        checked = self._account_form(request, form)
        if isinstance(checked, Response):
            return checked
        csrf, client_id = checked
        email, name = form.get("email", "").strip(), form.get("name", "").strip()
        try:
            self.pool.accounts.sign_up(
                client_id,
                email,
                form.get("password", ""),
                [{"Name": "email", "Value": email}, {"Name": "name", "Value": name}],
            )
        except CognitoError as exc:
            return render("signup.html", status=400, csrf=csrf, error=exc.message, email=email, name=name)
        return RedirectResponse("/confirm?" + urlencode({"email": email}), status_code=303)

    def confirm_page(self, request: Request) -> Response:
        with self.pool.store.begin() as db:
            flow, problem = self._flow_or_error(db, request, None, None)
            return problem or render(
                "confirm.html",
                csrf=flow.data["csrf"],
                email=request.query_params.get("email", ""),
                notice=request.query_params.get("notice"),
            )

    def resend_confirmation(self, request: Request, form: dict[str, str]) -> Response:
        """ "Send the code again" on the confirmation page (a sign-up whose code expired is no dead end)."""
        checked = self._account_form(request, form)
        if isinstance(checked, Response):
            return checked
        csrf, client_id = checked
        email = form.get("email", "").strip()
        try:
            self.pool.accounts.resend_confirmation_code(client_id, email)
        except CognitoError as exc:
            if exc.kind != "UserNotFoundException":  # the page must not reveal who has an account
                return render("confirm.html", status=400, csrf=csrf, error=exc.message, email=email)
        return RedirectResponse("/confirm?" + urlencode({"email": email, "notice": "sent"}), status_code=303)

    # ------------------------------------------------------------ forgotten password
    def forgot_password_page(self, request: Request) -> Response:
        with self.pool.store.begin() as db:
            flow, problem = self._flow_or_error(db, request, None, None)
            return problem or render("forgot_password.html", csrf=flow.data["csrf"])

    def forgot_password(self, request: Request, form: dict[str, str]) -> Response:
        checked = self._account_form(request, form)
        if isinstance(checked, Response):
            return checked
        csrf, client_id = checked
        email = form.get("email", "").strip()
        try:
            self.pool.accounts.forgot_password(client_id, email)
        except CognitoError as exc:
            # Unknown, unverified or disabled: one answer, so the page does not reveal who has an account.
            if exc.kind not in (
                "UserNotFoundException",
                "InvalidParameterException",
                "NotAuthorizedException",
            ):
                return render("forgot_password.html", status=400, csrf=csrf, error=exc.message, email=email)
        return RedirectResponse(
            "/reset-password?" + urlencode({"email": email, "notice": "sent"}), status_code=303
        )

    def reset_password_page(self, request: Request) -> Response:
        with self.pool.store.begin() as db:
            flow, problem = self._flow_or_error(db, request, None, None)
            return problem or render(
                "reset_password.html",
                csrf=flow.data["csrf"],
                email=request.query_params.get("email", ""),
                notice=request.query_params.get("notice"),
            )

    def reset_password(self, request: Request, form: dict[str, str]) -> Response:
        checked = self._account_form(request, form)
        if isinstance(checked, Response):
            return checked
        csrf, client_id = checked
        email = form.get("email", "").strip()
        try:
            self.pool.accounts.confirm_forgot_password(
                client_id, email, form.get("code", ""), form.get("password", "")
            )
        except CognitoError as exc:
            message = (
                "That code did not match, or it expired. Ask for a new one."
                if exc.kind in ("UserNotFoundException", "CodeMismatchException", "ExpiredCodeException")
                else exc.message
            )
            return render("reset_password.html", status=400, csrf=csrf, error=message, email=email)
        return RedirectResponse("/login?notice=reset", status_code=303)

    def confirm(self, request: Request, form: dict[str, str]) -> Response:
        checked = self._account_form(request, form)
        if isinstance(checked, Response):
            return checked
        csrf, client_id = checked
        email = form.get("email", "").strip()
        try:
            self.pool.accounts.confirm_sign_up(client_id, email, form.get("code", ""))
        except CognitoError as exc:
            return render("confirm.html", status=400, csrf=csrf, error=exc.message, email=email)
        return RedirectResponse("/login?notice=confirmed", status_code=303)


async def _form(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


def router(pool: UserPool) -> APIRouter:
    ui = HostedUi(pool)
    api = APIRouter(include_in_schema=False)

    def page(path: str, getter: Any, poster: Any) -> None:
        @api.get(path, name=f"get {path}")
        def _get(request: Request) -> Response:
            return getter(request)

        @api.post(path, name=f"post {path}")
        async def _post(request: Request) -> Response:
            form = await _form(request)
            return await run_in_threadpool(poster, request, form)

    page("/login", ui.login_page, ui.login)
    page("/new-password", ui.new_password_page, ui.new_password)
    page("/mfa/setup", ui.mfa_setup_page, ui.mfa_setup)
    page("/mfa", ui.totp_page, ui.totp)
    page("/signup", ui.signup_page, ui.signup)
    page("/confirm", ui.confirm_page, ui.confirm)
    page("/forgot-password", ui.forgot_password_page, ui.forgot_password)
    page("/reset-password", ui.reset_password_page, ui.reset_password)

    @api.post("/confirm/resend", name="post /confirm/resend")
    async def _resend(request: Request) -> Response:
        form = await _form(request)
        return await run_in_threadpool(ui.resend_confirmation, request, form)

    return api
