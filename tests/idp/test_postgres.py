"""The same store on PostgreSQL (DATABASE_URL): the boto3 flow end to end on a real server."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import jwt
import pyotp
import pytest
from botocore.exceptions import ClientError
from idp.store import User
from sqlalchemy import select

from devstack.net import free_port
from tests.idp.support import (
    CLIENT,
    PASSWORD,
    RunningIdp,
    idp_settings,
    mfa_login,
    running_idp,
    setup_mfa,
    sign_up_and_confirm,
)


def test_flow_on_postgres(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The fixture hands out an asyncpg URL; the IdP maps any postgresql URL to its sync psycopg driver.
    monkeypatch.delenv("IDP_DATABASE_URL", raising=False)
    port = free_port()
    settings = idp_settings(tmp_path, port, IDP_DATABASE_URL=postgres_url)
    assert settings.database_url.startswith("postgresql")
    with running_idp(settings) as idp:
        assert idp.pool.store.engine.dialect.name == "postgresql"
        cognito = idp.cognito()
        email = f"pg-{uuid.uuid4().hex[:8]}@example.com"
        sub = sign_up_and_confirm(idp, email)
        secret, _ = setup_mfa(idp, email)
        tokens = mfa_login(idp, email, pyotp.TOTP(secret).at(time.time() + 30))["AuthenticationResult"]
        assert jwt.decode(tokens["AccessToken"], options={"verify_signature": False})["cognito:groups"] == [
            "Users"
        ]
        with pytest.raises(cognito.exceptions.ExpiredCodeException):
            mfa_login(idp, email, pyotp.TOTP(secret).at(time.time() + 30))
        check_code_waits_for_a_concurrent_acceptance(idp)
        refreshed = cognito.initiate_auth(
            ClientId=CLIENT,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
        )["AuthenticationResult"]
        cognito.global_sign_out(AccessToken=refreshed["AccessToken"])
        with pytest.raises(cognito.exceptions.NotAuthorizedException):
            cognito.get_user(AccessToken=refreshed["AccessToken"])
        users = cognito.list_users(UserPoolId="us-east-1_LocalPool")["Users"]
        assert sub in {u["Username"] for u in users}
        cognito.admin_delete_user(UserPoolId="us-east-1_LocalPool", Username=email)
        with pytest.raises(cognito.exceptions.UserNotFoundException):
            cognito.admin_get_user(UserPoolId="us-east-1_LocalPool", Username=sub)


def check_code_waits_for_a_concurrent_acceptance(idp: RunningIdp) -> None:
    """A transaction that is accepting a code holds the user's row; a second request with the same code waits
    for it and then sees the code as used. Without the row lock, READ COMMITTED would let both accept it."""
    email = f"race-{uuid.uuid4().hex[:8]}@example.com"
    sub = sign_up_and_confirm(idp, email)
    secret, _ = setup_mfa(idp, email)
    code_time = time.time() + 30
    code = pyotp.TOTP(secret).at(code_time)
    challenge = idp.cognito().initiate_auth(
        ClientId=CLIENT,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    outcome: list[str] = []

    def respond() -> None:
        try:
            idp.cognito().respond_to_auth_challenge(
                ClientId=CLIENT,
                ChallengeName="SOFTWARE_TOKEN_MFA",
                Session=challenge["Session"],
                ChallengeResponses={"USERNAME": email, "SOFTWARE_TOKEN_MFA_CODE": code},
            )
            outcome.append("ok")
        except ClientError as exc:
            outcome.append(exc.response["Error"]["Code"])

    with idp.pool.store.begin() as db:
        # The "other request": it has accepted this code's step and not committed yet.
        user = db.get(User, sub, with_for_update=True)
        assert user is not None
        user.totp_last_step = int(code_time // 30)
        db.flush()
        racer = threading.Thread(target=respond)
        racer.start()
        racer.join(timeout=3)  # with the lock it is still waiting here; without it, it would have finished
    racer.join(timeout=30)
    assert outcome == ["ExpiredCodeException"]


def test_a_created_pool_gets_its_own_schema_on_postgres(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IDP_DATABASE_URL", raising=False)
    settings = idp_settings(tmp_path, free_port(), IDP_DATABASE_URL=postgres_url)
    with running_idp(settings) as idp:
        cognito = idp.cognito()
        pool_id = cognito.create_user_pool(PoolName=f"pg-{uuid.uuid4().hex[:6]}")["UserPool"]["Id"]
        email = "demo@example.com"  # also the main pool's demo user: the pools do not share tables
        cognito.admin_create_user(
            UserPoolId=pool_id,
            Username=email,
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "name", "Value": "Pg"}],
            MessageAction="SUPPRESS",
        )
        created = idp.pool.registry.get(pool_id)  # type: ignore[union-attr]
        assert created.store.engine.dialect.name == "postgresql"
        with created.store.read() as db:
            assert db.scalar(select(User.name).where(User.email == email)) == "Pg"
        with idp.pool.store.read() as db:
            assert db.scalar(select(User.name).where(User.email == email)) == "Demo User"
