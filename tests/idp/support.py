"""Running a real IdP over HTTP for tests: uvicorn in a thread on a free 127.0.0.1 port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
import pyotp
import uvicorn
from botocore.config import Config
from idp.app import build_pool, create_app
from idp.pool import UserPool
from idp.settings import Settings

CLIENT = "city-tasks-web"
POOL = "us-east-1_LocalPool"
PASSWORD = "Str0ng-Passw0rd!"


@dataclass
class RunningIdp:
    url: str
    pool: UserPool
    settings: Settings
    server: uvicorn.Server
    thread: threading.Thread = field(repr=False)

    def cognito(self, retries: bool = True):  # type: ignore[no-untyped-def]
        """boto3's client; `retries=False` for checks of LimitExceededException, which botocore retries."""
        return boto3.client(
            "cognito-idp",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=None if retries else Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )

    def outbox(self, email: str, kind: str | None = None) -> list[dict[str, str]]:
        """The local outbox over HTTP (GET /_local/outbox), newest first; optionally one kind only."""
        response = httpx.get(f"{self.url}/_local/outbox", params={"to": email}, timeout=10)
        response.raise_for_status()
        return [m for m in response.json() if kind is None or m["kind"] == kind]

    def latest_code(self, email: str, kind: str) -> str:
        messages = self.outbox(email, kind)
        assert messages, f"no {kind} message to {email} in the outbox"
        return messages[0]["code"]

    def confirmation_code(self, email: str) -> str:
        return self.latest_code(email, "signup")


def idp_settings(tmp: Path, port: int, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "IDP_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "IDP_DATABASE_URL": f"sqlite:///{tmp}/idp.sqlite3",
        "IDP_PORT": port,
        # Cheap Argon2 so the suite stays fast; the production defaults are exercised by the benchmark.
        "IDP_ARGON2_TIME_COST": 1,
        "IDP_ARGON2_MEMORY_KIB": 8 * 1024,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@contextmanager
def running_idp(settings: Settings) -> Iterator[RunningIdp]:
    pool = build_pool(settings)
    app = create_app(settings, pool)
    config = uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{settings.port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the IdP did not start within 20 s")
        time.sleep(0.05)
    try:
        yield RunningIdp(url, pool, settings, server, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if pool.registry is not None:
            pool.registry.dispose()
        else:
            pool.store.dispose()


def sign_up_and_confirm(idp: RunningIdp, email: str, name: str = "Ann Example") -> str:
    cognito = idp.cognito()
    out = cognito.sign_up(
        ClientId=CLIENT,
        Username=email,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "name", "Value": name}],
    )
    assert out["UserConfirmed"] is False
    assert out["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    cognito.confirm_sign_up(ClientId=CLIENT, Username=email, ConfirmationCode=idp.confirmation_code(email))
    return out["UserSub"]


def setup_mfa(idp: RunningIdp, email: str) -> tuple[str, dict]:
    """First login: MFA_SETUP, associate, verify, respond; returns (secret, AuthenticationResult)."""
    cognito = idp.cognito()
    first = cognito.initiate_auth(
        ClientId=CLIENT,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    assert first["ChallengeName"] == "MFA_SETUP"
    assoc = cognito.associate_software_token(Session=first["Session"])
    secret = assoc["SecretCode"]
    verified = cognito.verify_software_token(
        Session=assoc["Session"], UserCode=pyotp.TOTP(secret).at(time.time()), FriendlyDeviceName="phone"
    )
    assert verified["Status"] == "SUCCESS"
    done = cognito.respond_to_auth_challenge(
        ClientId=CLIENT,
        ChallengeName="MFA_SETUP",
        Session=verified["Session"],
        ChallengeResponses={"USERNAME": email},
    )
    return secret, done["AuthenticationResult"]


def mfa_login(idp: RunningIdp, email: str, code: str) -> dict:
    cognito = idp.cognito()
    challenge = cognito.initiate_auth(
        ClientId=CLIENT,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    return cognito.respond_to_auth_challenge(
        ClientId=CLIENT,
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": email, "SOFTWARE_TOKEN_MFA_CODE": code},
    )
