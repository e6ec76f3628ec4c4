"""The Lambda triggers: as deployed (plain boto3 client) and as the local IdP calls them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pyotp
import pytest
from idp.triggers import post_confirmation, pre_token_generation

from devstack.net import free_port
from tests.idp.support import RunningIdp, idp_settings, running_idp
from tests.idp.test_cognito_api import PASSWORD, setup_mfa, sign_up_and_confirm
from tests.support.moto import client as moto_client
from tests.support.moto import moto_server


def _event(pool_id: str, username: str, source: str = "PostConfirmation_ConfirmSignUp") -> dict:
    return {
        "version": "1",
        "region": "us-east-1",
        "userPoolId": pool_id,
        "userName": username,
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "c"},
        "triggerSource": source,
        "request": {"userAttributes": {"sub": username}},
        "response": {},
    }


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[RunningIdp]:
    with running_idp(idp_settings(tmp_path, free_port())) as running:
        yield running


def test_post_confirmation_as_deployed_talks_to_the_configured_endpoint(
    idp: RunningIdp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No injected client: the handler builds boto3.client("cognito-idp"), pointed here by the standard
    AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER variable, exactly as it would reach Cognito in Lambda."""
    cognito = idp.cognito()
    email = f"t-{uuid.uuid4().hex[:8]}@example.com"
    sub = cognito.admin_create_user(
        UserPoolId="us-east-1_LocalPool",
        Username=email,
        MessageAction="SUPPRESS",
        TemporaryPassword="Temp-Passw0rd!",
        UserAttributes=[{"Name": "name", "Value": "T"}],
    )["User"]["Username"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", idp.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    event = _event("us-east-1_LocalPool", sub)
    assert post_confirmation.handler(event, None) is event
    cognito.admin_set_user_password(
        UserPoolId="us-east-1_LocalPool", Username=email, Password=PASSWORD, Permanent=True
    )
    _, tokens = setup_mfa(idp, email)
    assert jwt.decode(tokens["AccessToken"], options={"verify_signature": False})["cognito:groups"] == [
        "Users"
    ]


def test_post_confirmation_against_moto() -> None:
    with moto_server() as url:
        client = moto_client("cognito-idp", url)
        pool = client.create_user_pool(PoolName="p")["UserPool"]["Id"]
        client.create_group(UserPoolId=pool, GroupName="Users")
        client.admin_create_user(UserPoolId=pool, Username="ann", MessageAction="SUPPRESS")
        post_confirmation.handler(
            _event(pool, "ann", "PostConfirmation_ConfirmForgotPassword"), None, cognito=client
        )
        assert client.admin_list_groups_for_user(UserPoolId=pool, Username="ann")["Groups"] == []
        post_confirmation.handler(_event(pool, "ann"), None, cognito=client)
        groups = client.admin_list_groups_for_user(UserPoolId=pool, Username="ann")["Groups"]
        assert [g["GroupName"] for g in groups] == ["Users"]


def test_pre_token_generation_adds_claims_but_not_protected_ones(
    idp: RunningIdp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "EXTRA_ID_TOKEN_CLAIMS", '{"tenant": "city-1", "iss": "https://evil.example", "sub": "x"}'
    )
    cognito = idp.cognito()
    challenge = cognito.initiate_auth(
        ClientId="city-tasks-web",
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "demo@example.com", "PASSWORD": "Demo-Passw0rd!"},
    )
    result = cognito.respond_to_auth_challenge(
        ClientId="city-tasks-web",
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=challenge["Session"],
        ChallengeResponses={
            "USERNAME": "demo@example.com",
            "SOFTWARE_TOKEN_MFA_CODE": pyotp.TOTP("DEMOLOCALONLYDEMOLOCALONLYDEMOAA").at(time.time() + 30),
        },
    )["AuthenticationResult"]
    ident = jwt.decode(result["IdToken"], options={"verify_signature": False})
    assert ident["tenant"] == "city-1"
    assert ident["iss"] == idp.pool.issuer
    assert ident["sub"] != "x"
    assert "tenant" not in jwt.decode(result["AccessToken"], options={"verify_signature": False})


def test_pre_token_generation_handler_event_contract() -> None:
    event = {"triggerSource": "TokenGeneration_Authentication", "request": {}, "response": {}}
    assert pre_token_generation.handler(event, None)["response"] == {}


def test_a_failing_trigger_is_a_cognito_error_not_a_500(
    idp: RunningIdp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXTRA_ID_TOKEN_CLAIMS", "[1, 2]")
    email = f"t-{uuid.uuid4().hex[:8]}@example.com"
    sign_up_and_confirm(idp, email)
    cognito = idp.cognito()
    with pytest.raises(cognito.exceptions.UnexpectedLambdaException):
        setup_mfa(idp, email)
