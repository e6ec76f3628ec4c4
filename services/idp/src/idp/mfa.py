"""RFC 6238 TOTP as Cognito does it: SHA-1, 6 digits, 30 s steps, one step of drift, no code used twice."""

from __future__ import annotations

from enum import Enum

import pyotp
from pyotp.utils import strings_equal

STEP_SECONDS = 30
DRIFT_STEPS = 1


class TotpResult(Enum):
    OK = "ok"
    INVALID = "invalid"
    REPLAYED = "replayed"


def new_secret() -> str:
    # 32 random bytes as base32 (52 characters), the length of the secrets Cognito hands out.
    return pyotp.random_base32(length=52)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(name=account, issuer_name=issuer)


def current_code(secret: str, now: float) -> str:
    return pyotp.TOTP(secret, interval=STEP_SECONDS).at(int(now))


def check(secret: str, code: str, now: float, last_step: int | None) -> tuple[TotpResult, int]:
    """Whether `code` is valid at `now`, and the time step it belongs to.

    A code is accepted only for a step strictly after the last accepted one: this refuses a replay of the
    same code and of any older code, as RFC 6238 section 5.2 recommends.
    """
    code = (code or "").strip()
    if len(code) != 6 or not code.isdigit():
        return TotpResult.INVALID, 0
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if strings_equal(totp.generate_otp(step), code):
            if last_step is not None and step <= last_step:
                return TotpResult.REPLAYED, step
            return TotpResult.OK, step
    return TotpResult.INVALID, 0
