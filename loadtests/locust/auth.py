"""Signing simulated users in, the way the app and machine clients do, and keeping their tokens fresh.

- People: cognito-idp ``InitiateAuth`` USER_PASSWORD_AUTH answered with a TOTP code (SOFTWARE_TOKEN_MFA),
  then ``REFRESH_TOKEN_AUTH`` before the access token expires. Works unchanged against the local IdP and
  a real Cognito user pool (boto3 with ``endpoint_url`` or without).
- Machines: the OAuth2 ``client_credentials`` grant of a confidential client, fetched again before expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyotp

TOTP_STEP_S = 30


@dataclass(frozen=True)
class Token:
    access_token: str
    expires_in: float
    obtained_at: float
    refresh_token: str | None = None

    @property
    def renew_at(self) -> float:
        return renew_at(self.obtained_at, self.expires_in)

    def needs_renewal(self, now: float, max_age_s: float | None = None) -> bool:
        """Due before expiry; ``max_age_s`` renews sooner (an app that refreshes on a timer, or a test)."""
        if max_age_s is not None and now - self.obtained_at >= max_age_s:
            return True
        return now >= self.renew_at


def renew_at(
    obtained_at: float, expires_in: float, fraction: float = 0.1, min_margin_s: float = 60.0
) -> float:
    """When to renew a token: a margin before expiry (10 % of its life, at least a minute), never later
    than expiry and never before half its life, so a short-lived token is not renewed on every request."""
    margin = max(expires_in * fraction, min_margin_s)
    return obtained_at + max(expires_in - margin, expires_in / 2.0)


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    """Cognito's SECRET_HASH for app clients that have a secret."""
    digest = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def totp_step(last_step: int | None, now: float, drift: int = 1) -> tuple[int | None, float]:
    """Which TOTP step to answer with at ``now``, or how long to wait for one.

    The IdP refuses a code whose step is not after the last one it accepted from that user (a replay),
    and accepts ``drift`` steps of clock skew either way (RFC 6238; one step for the local IdP). A user
    who just spent the current step (say in the MFA setup) can answer at once with the next step's code
    instead of waiting up to 30 s; with ``drift=0`` the caller waits for the next step.
    """
    current = int(now // TOTP_STEP_S)
    step = current if last_step is None else max(current, last_step + 1)
    if step <= current + drift:
        return step, 0.0
    assert last_step is not None
    return None, (last_step + 1 - drift) * TOTP_STEP_S - now


class LoginError(RuntimeError):
    """A simulated user could not sign in; the message says which step failed."""


class TotpLedger:
    """The last TOTP step each user has spent, in this process (thread- and greenlet-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, int] = {}

    def next_code(
        self,
        username: str,
        secret: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        drift: int = 1,
    ) -> str:
        # One wait always reaches a fresh step; the bound only guards against a clock that stands still.
        for _ in range(3):
            with self._lock:
                step, wait = totp_step(self._last.get(username), clock(), drift)
                if step is not None:
                    self._last[username] = step
                    return pyotp.TOTP(secret).at(step * TOTP_STEP_S)
            sleep(min(wait + 0.05, TOTP_STEP_S))
        raise LoginError(f"no fresh TOTP step for {username}: is the clock moving?")

    def mark_used(self, username: str, step: int) -> None:
        with self._lock:
            self._last[username] = max(self._last.get(username, step), step)

    def last_step(self, username: str) -> int | None:
        with self._lock:
            return self._last.get(username)


LEDGER = TotpLedger()


@dataclass
class CognitoLogin:
    """USER_PASSWORD_AUTH + SOFTWARE_TOKEN_MFA and REFRESH_TOKEN_AUTH with a boto3 cognito-idp client."""

    client: Any  # boto3 cognito-idp client
    client_id: str
    client_secret: str | None = None
    ledger: TotpLedger = LEDGER
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    attempts: int = 3
    drift: int = 1  # answer with the next step's code rather than wait; dropped to 0 if the IdP refuses it

    def _auth_params(self, username: str, **extra: str) -> dict[str, str]:
        params = dict(extra)
        if self.client_secret:
            params["SECRET_HASH"] = secret_hash(username, self.client_id, self.client_secret)
        return params

    def login(self, username: str, password: str, totp_secret: str) -> Token:
        last_error: Exception | None = None
        for _ in range(self.attempts):
            try:
                return self._login_once(username, password, totp_secret)
            except self.client.exceptions.CodeMismatchException as exc:
                # Spent already (by another process) or outside the IdP's skew window: from now on wait
                # for a fresh current step.
                self.ledger.mark_used(username, int(self.clock() // TOTP_STEP_S))
                self.drift = 0
                last_error = exc
        raise LoginError(f"TOTP challenge for {username} failed {self.attempts} times: {last_error}")

    def _login_once(self, username: str, password: str, totp_secret: str) -> Token:
        started = self.clock()
        response = self.client.initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH",
            ClientId=self.client_id,
            AuthParameters=self._auth_params(username, USERNAME=username, PASSWORD=password),
        )
        challenge = response.get("ChallengeName")
        if challenge == "SOFTWARE_TOKEN_MFA":
            code = self.ledger.next_code(
                username, totp_secret, clock=self.clock, sleep=self.sleep, drift=self.drift
            )
            response = self.client.respond_to_auth_challenge(
                ClientId=self.client_id,
                ChallengeName="SOFTWARE_TOKEN_MFA",
                Session=response["Session"],
                ChallengeResponses=self._auth_params(
                    username, USERNAME=username, SOFTWARE_TOKEN_MFA_CODE=code
                ),
            )
        elif challenge is not None:
            raise LoginError(
                f"{username} got the {challenge} challenge: create load users with "
                "`python -m loadtests.locust.users create` so their MFA is already set up"
            )
        return token_from_result(response["AuthenticationResult"], started)

    def refresh(self, token: Token, username: str) -> Token:
        if not token.refresh_token:
            raise LoginError("no refresh token to renew with")
        started = self.clock()
        response = self.client.initiate_auth(
            AuthFlow="REFRESH_TOKEN_AUTH",
            ClientId=self.client_id,
            AuthParameters=self._auth_params(username, REFRESH_TOKEN=token.refresh_token),
        )
        renewed = token_from_result(response["AuthenticationResult"], started)
        # Cognito does not return a new refresh token unless rotation is on: keep the old one.
        if renewed.refresh_token is None:
            renewed = Token(
                renewed.access_token, renewed.expires_in, renewed.obtained_at, token.refresh_token
            )
        return renewed


def token_from_result(result: dict[str, Any], obtained_at: float) -> Token:
    return Token(
        access_token=result["AccessToken"],
        expires_in=float(result.get("ExpiresIn", 3600)),
        obtained_at=obtained_at,
        refresh_token=result.get("RefreshToken"),
    )


def client_credentials_token(
    session: Any,
    token_url: str,
    client_id: str,
    client_secret: str,
    scope: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Token:
    """The client_credentials grant, with HTTP basic client authentication as Cognito expects."""
    started = clock()
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    response = session.post(token_url, data=data, auth=(client_id, client_secret), timeout=10)
    if response.status_code != 200:
        raise LoginError(f"client_credentials at {token_url} answered HTTP {response.status_code}")
    body = response.json()
    return Token(body["access_token"], float(body.get("expires_in", 3600)), started)
