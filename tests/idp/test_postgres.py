"""The same store on PostgreSQL (DATABASE_URL): the boto3 flow end to end on a real server."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import jwt
import pyotp
import pytest

from tests.idp.support import free_port, idp_settings, running_idp
from tests.idp.test_cognito_api import CLIENT, mfa_login, setup_mfa, sign_up_and_confirm


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
