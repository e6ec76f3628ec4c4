"""The hosted UI in a real browser (Debian's Chromium through Playwright): cookies, CSP and the final
redirect to the client's callback work as a user would see them; so does the forgot-password flow."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import pyotp

from tests.e2e.browser import CHROMIUM_FLAGS, chromium_path, screenshot
from tests.idp.support import RunningIdp, setup_mfa, sign_up_and_confirm

CALLBACK = "http://localhost:8100/auth/callback"


def _authorize_url(idp: RunningIdp, state: str) -> str:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": "city-tasks-web",
            "redirect_uri": CALLBACK,
            "state": state,
            "scope": "openid email",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{idp.url}/oauth2/authorize?{query}"


@contextmanager
def hosted_ui_page(landed: list[str], violations: list[str]) -> Iterator[Any]:
    """A Chromium page whose requests to the (absent) app are answered here and remembered in `landed`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            page.on(
                "console",
                lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
            )

            def callback(route: Any) -> None:
                landed.append(route.request.url)
                route.fulfill(status=200, body="signed in", content_type="text/plain")

            page.route("http://localhost:8100/**", callback)
            yield page
        finally:
            browser.close()


def test_demo_login_in_chromium(idp: RunningIdp) -> None:
    landed: list[str] = []
    violations: list[str] = []
    with hosted_ui_page(landed, violations) as page:
        page.goto(_authorize_url(idp, "browser-state"))
        page.fill("#email", "demo@example.com")
        page.fill("#password", "Demo-Passw0rd!")
        page.click("button[type=submit]")
        page.wait_for_url("**/mfa")
        page.fill("#code", pyotp.TOTP("DEMOLOCALONLYDEMOLOCALONLYDEMOAA").at(time.time() + 30))
        page.click("button[type=submit]")
        page.wait_for_url(f"{CALLBACK}**")
        assert page.text_content("body") == "signed in"
        assert violations == []
    params = parse_qs(urlparse(landed[-1]).query)
    assert params["state"] == ["browser-state"]
    assert len(params["code"][0]) > 20


def test_forgot_password_in_chromium(idp: RunningIdp) -> None:
    email = f"chromium-{uuid.uuid4().hex[:8]}@example.com"
    sign_up_and_confirm(idp, email)
    secret, _ = setup_mfa(idp, email)
    new_password = "Chr0mium-Chosen-Pass!"
    landed: list[str] = []
    violations: list[str] = []
    with hosted_ui_page(landed, violations) as page:
        page.goto(_authorize_url(idp, "forgot-state"))
        page.click("text=Forgot your password?")
        page.wait_for_url("**/forgot-password")
        page.fill("#email", email)
        page.click("button[type=submit]")
        page.wait_for_url("**/reset-password?**")
        assert "we sent it a code" in page.text_content("body")
        page.click("#resend")  # "Send the code again": the newest code is the one that counts
        page.wait_for_url("**/reset-password?**")
        page.fill("#code", idp.latest_code(email, "forgot_password"))
        page.fill("#password", new_password)
        screenshot(page, "idp-reset-password")
        page.click("form[action='/reset-password'] button[type=submit]")
        page.wait_for_url("**/login?notice=reset")
        assert "Your password is changed" in page.text_content("body")
        page.fill("#email", email)
        page.fill("#password", new_password)
        page.click("button[type=submit]")
        page.wait_for_url("**/mfa")
        page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))
        page.click("button[type=submit]")
        page.wait_for_url(f"{CALLBACK}**")
        assert violations == []
    assert parse_qs(urlparse(landed[-1]).query)["state"] == ["forgot-state"]
    assert len(idp.outbox(email, "forgot_password")) == 2
