"""Driving the IdP's hosted UI pages (login, MFA setup, TOTP challenge) as a person would, by their forms."""

from __future__ import annotations

import html
import re
import time
from urllib.parse import parse_qs, urlsplit

import pyotp

USERNAME_INPUT = "input[type=email], input[name=username], input[name=email], input[autocomplete=username]"
PASSWORD_INPUT = "input[type=password]"
CODE_INPUT = (
    "input[autocomplete=one-time-code], input[name*=code i], input[name*=totp i], input[inputmode=numeric]"
)
SUBMIT = "button[type=submit], input[type=submit]"
STEP = 30


def submit_login(page, username: str, password: str) -> None:
    page.locator(USERNAME_INPUT).first.fill(username)
    page.locator(PASSWORD_INPUT).first.fill(password)
    page.locator(SUBMIT).first.click()


def read_totp_secret(page) -> str:
    """The secret the MFA setup page shows: from its otpauth:// URI, else the base32 text on the page."""
    source = html.unescape(page.content())
    uri = re.search(r"otpauth://totp/[^\"'<>\s]+", source)
    if uri:
        secret = parse_qs(urlsplit(uri.group(0)).query).get("secret", [""])[0]
        if secret:
            return secret.replace(" ", "").upper()
    text = page.locator("body").inner_text()
    grouped = re.search(r"\b((?:[A-Z2-7]{4}[ ]?){4,}[A-Z2-7]*)\b", text)
    if not grouped:
        raise AssertionError("the MFA setup page shows no TOTP secret")
    return grouped.group(1).replace(" ", "")


class Authenticator:
    """An authenticator app that never offers the same time step twice (the IdP refuses a replayed code)."""

    def __init__(self, secret: str) -> None:
        self.totp = pyotp.TOTP(secret)
        self.last_step = -1

    def code(self) -> str:
        now_step = int(time.time()) // STEP
        step = max(now_step, self.last_step + 1)
        # The IdP accepts one step of drift; wait (at most one step) if we are further ahead than that.
        while step > int(time.time()) // STEP + 1:
            time.sleep(0.5)
        self.last_step = step
        return self.totp.at(step * STEP)


def submit_code(page, code: str) -> None:
    page.locator(CODE_INPUT).first.fill(code)
    page.locator(SUBMIT).first.click()
