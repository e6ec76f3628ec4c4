"""The hosted UI in a real browser (Debian's Chromium through Playwright): cookies, CSP and the final
redirect to the client's callback work as a user would see them."""

from __future__ import annotations

import base64
import hashlib
import secrets
import shutil
import time
from urllib.parse import parse_qs, urlencode, urlparse

import pyotp
import pytest

from tests.idp.support import RunningIdp

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium is not installed")


def test_demo_login_in_chromium(idp: RunningIdp) -> None:
    from playwright.sync_api import sync_playwright

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": "city-tasks-web",
            "redirect_uri": "http://localhost:8100/auth/callback",
            "state": "browser-state",
            "scope": "openid email",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    landed: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            violations: list[str] = []
            page.on(
                "console",
                lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
            )

            def callback(route):  # the app is not running; answer for it and remember the URL
                landed.append(route.request.url)
                route.fulfill(status=200, body="signed in", content_type="text/plain")

            page.route("http://localhost:8100/**", callback)
            page.goto(f"{idp.url}/oauth2/authorize?{query}")
            page.fill("#email", "demo@example.com")
            page.fill("#password", "Demo-Passw0rd!")
            page.click("button[type=submit]")
            page.wait_for_url("**/mfa")
            page.fill("#code", pyotp.TOTP("DEMOLOCALONLYDEMOLOCALONLYDEMOAA").at(time.time() + 30))
            page.click("button[type=submit]")
            page.wait_for_url("http://localhost:8100/auth/callback**")
            assert page.text_content("body") == "signed in"
            assert violations == []
        finally:
            browser.close()
    params = parse_qs(urlparse(landed[-1]).query)
    assert params["state"] == ["browser-state"]
    assert len(params["code"][0]) > 20
