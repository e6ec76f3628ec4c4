"""boto3 for a user's own account: confirmation codes, forgotten and changed passwords, attributes, MFA
preference, token revocation and deletion; every error type each one can answer. Codes come from the
local outbox (GET /_local/outbox)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import pyotp
import pytest
from botocore.exceptions import ClientError
from idp import cli
from idp.store import User
from sqlalchemy import update

from tests.idp.support import CLIENT, PASSWORD, POOL, RunningIdp, setup_mfa, sign_up_and_confirm

NEW_PASSWORD = "An0ther-Passw0rd!"


def _email() -> str:
    return f"self-{uuid.uuid4().hex[:10]}@example.com"


def _fails(kind: str, call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    assert caught.value.response["Error"]["Code"] == kind, caught.value.response["Error"]
    return str(caught.value.response["Error"]["Message"])


def _sign_up(idp: RunningIdp, email: str) -> None:
    idp.cognito().sign_up(
        ClientId=CLIENT,
        Username=email,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "name", "Value": "Sam"}],
    )


def _login(idp: RunningIdp, email: str, password: str = PASSWORD) -> dict:
    """USER_PASSWORD_AUTH in the OPTIONAL-MFA pool: tokens straight away for a user without MFA."""
    return idp.cognito().initiate_auth(
        ClientId=CLIENT,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )


def test_the_outbox_over_http_and_the_cli(
    optional_mfa_idp: RunningIdp, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    idp = optional_mfa_idp
    email = _email()
    _sign_up(idp, email)
    response = httpx.get(f"{idp.url}/_local/outbox", params={"to": email.upper()})
    assert response.status_code == 200
    assert "local IdP" in response.headers["x-local-only"]
    (message,) = response.json()
    assert set(message) == {"to", "kind", "code", "createdAt"}
    assert message["to"] == email
    assert message["kind"] == "signup"
    assert len(message["code"]) == 6
    idp.cognito().resend_confirmation_code(ClientId=CLIENT, Username=email)
    newest = idp.outbox(email)
    assert [m["kind"] for m in newest] == ["signup", "signup"]
    assert newest[0]["createdAt"] >= newest[1]["createdAt"]

    missing = httpx.get(f"{idp.url}/_local/inbox")
    assert missing.status_code == 404
    assert "local IdP" in missing.headers["x-local-only"]
    everyone = httpx.get(f"{idp.url}/_local/outbox").json()
    assert {m["to"] for m in everyone} >= {email}

    monkeypatch.setenv("IDP_DATABASE_URL", idp.settings.database_url)
    assert cli.main(["outbox", "--to", email]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [json.loads(line) for line in lines] == newest


def test_an_expired_sign_up_code_is_not_a_dead_end(optional_mfa_idp: RunningIdp) -> None:
    idp = optional_mfa_idp
    cognito = idp.cognito()
    email = _email()
    _sign_up(idp, email)
    first = idp.confirmation_code(email)
    with idp.pool.store.begin() as db:
        db.execute(update(User).where(User.email == email).values(confirmation_expires_at=time.time() - 1))
    _fails(
        "ExpiredCodeException",
        cognito.confirm_sign_up,
        ClientId=CLIENT,
        Username=email,
        ConfirmationCode=first,
    )
    out = cognito.resend_confirmation_code(ClientId=CLIENT, Username=email)
    assert out["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    fresh = idp.confirmation_code(email)
    if fresh != first:
        _fails(
            "CodeMismatchException",
            cognito.confirm_sign_up,
            ClientId=CLIENT,
            Username=email,
            ConfirmationCode=first,
        )
    cognito.confirm_sign_up(ClientId=CLIENT, Username=email, ConfirmationCode=fresh)
    _fails("InvalidParameterException", cognito.resend_confirmation_code, ClientId=CLIENT, Username=email)
    _fails("UserNotFoundException", cognito.resend_confirmation_code, ClientId=CLIENT, Username=_email())
    _fails("ResourceNotFoundException", cognito.resend_confirmation_code, ClientId="nope", Username=email)


def test_forgot_password(optional_mfa_idp: RunningIdp) -> None:
    idp = optional_mfa_idp
    cognito = idp.cognito(retries=False)
    email = _email()
    sign_up_and_confirm(idp, email)
    forgot = dict(ClientId=CLIENT, Username=email)
    confirm = dict(ClientId=CLIENT, Username=email, Password=NEW_PASSWORD)

    _fails("ExpiredCodeException", cognito.confirm_forgot_password, **confirm, ConfirmationCode="123456")
    assert cognito.forgot_password(**forgot)["CodeDeliveryDetails"]["AttributeName"] == "email"
    code = idp.latest_code(email, "forgot_password")
    wrong = "000000" if code != "000000" else "111111"
    _fails("CodeMismatchException", cognito.confirm_forgot_password, **confirm, ConfirmationCode=wrong)
    _fails(
        "InvalidPasswordException",
        cognito.confirm_forgot_password,
        **{**confirm, "Password": "short"},
        ConfirmationCode=code,
    )
    cognito.confirm_forgot_password(**confirm, ConfirmationCode=code)
    assert "AuthenticationResult" in _login(idp, email, NEW_PASSWORD)
    _fails("NotAuthorizedException", _login, idp=idp, email=email, password=PASSWORD)

    # Five wrong codes spend the code.
    cognito.forgot_password(**forgot)
    code = idp.latest_code(email, "forgot_password")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        _fails("CodeMismatchException", cognito.confirm_forgot_password, **confirm, ConfirmationCode=wrong)
    _fails("LimitExceededException", cognito.confirm_forgot_password, **confirm, ConfirmationCode=wrong)
    _fails("ExpiredCodeException", cognito.confirm_forgot_password, **confirm, ConfirmationCode=code)

    _fails("UserNotFoundException", cognito.forgot_password, ClientId=CLIENT, Username=_email())
    unverified = _email()
    _sign_up(idp, unverified)  # unconfirmed, so its address is not verified
    _fails("InvalidParameterException", cognito.forgot_password, ClientId=CLIENT, Username=unverified)


def test_change_password(optional_mfa_idp: RunningIdp) -> None:
    idp = optional_mfa_idp
    cognito = idp.cognito()
    email = _email()
    sign_up_and_confirm(idp, email)
    access = _login(idp, email)["AuthenticationResult"]["AccessToken"]
    change = cognito.change_password
    _fails(
        "NotAuthorizedException",
        change,
        AccessToken=access,
        PreviousPassword="Wr0ng-Passw0rd!",
        ProposedPassword=NEW_PASSWORD,
    )
    _fails(
        "InvalidPasswordException",
        change,
        AccessToken=access,
        PreviousPassword=PASSWORD,
        ProposedPassword="weak",
    )
    _fails(
        "NotAuthorizedException",
        change,
        AccessToken="not.a.token",
        PreviousPassword=PASSWORD,
        ProposedPassword=NEW_PASSWORD,
    )
    change(AccessToken=access, PreviousPassword=PASSWORD, ProposedPassword=NEW_PASSWORD)
    assert "AuthenticationResult" in _login(idp, email, NEW_PASSWORD)


def test_attributes_and_their_verification(optional_mfa_idp: RunningIdp) -> None:
    idp = optional_mfa_idp
    cognito = idp.cognito()
    email, other, taken = _email(), _email(), _email()
    sign_up_and_confirm(idp, email)
    sign_up_and_confirm(idp, taken)
    access = _login(idp, email)["AuthenticationResult"]["AccessToken"]

    renamed = cognito.update_user_attributes(
        AccessToken=access, UserAttributes=[{"Name": "name", "Value": "Pat"}]
    )
    assert "CodeDeliveryDetailsList" not in renamed  # nothing to verify for a name
    attributes = {a["Name"]: a["Value"] for a in cognito.get_user(AccessToken=access)["UserAttributes"]}
    assert attributes["name"] == "Pat"

    moved = cognito.update_user_attributes(
        AccessToken=access, UserAttributes=[{"Name": "email", "Value": other}]
    )
    assert moved["CodeDeliveryDetailsList"][0]["AttributeName"] == "email"
    attributes = {a["Name"]: a["Value"] for a in cognito.get_user(AccessToken=access)["UserAttributes"]}
    assert attributes["email"] == other
    assert attributes["email_verified"] == "false"
    code = idp.latest_code(other, "verify_attribute")
    wrong = "000000" if code != "000000" else "111111"
    verify = cognito.verify_user_attribute
    _fails("CodeMismatchException", verify, AccessToken=access, AttributeName="email", Code=wrong)
    verify(AccessToken=access, AttributeName="email", Code=code)
    attributes = {a["Name"]: a["Value"] for a in cognito.get_user(AccessToken=access)["UserAttributes"]}
    assert attributes["email_verified"] == "true"
    _fails("ExpiredCodeException", verify, AccessToken=access, AttributeName="email", Code=code)

    sent = cognito.get_user_attribute_verification_code(AccessToken=access, AttributeName="email")
    assert sent["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    assert idp.outbox(other)[0]["kind"] == "verify_attribute"
    _fails(
        "InvalidParameterException",
        cognito.get_user_attribute_verification_code,
        AccessToken=access,
        AttributeName="phone_number",
    )
    update_attrs = cognito.update_user_attributes
    _fails(
        "AliasExistsException",
        update_attrs,
        AccessToken=access,
        UserAttributes=[{"Name": "email", "Value": taken}],
    )
    _fails(
        "InvalidParameterException",
        update_attrs,
        AccessToken=access,
        UserAttributes=[{"Name": "shoe", "Value": "9"}],
    )
    _fails(
        "InvalidParameterException",
        update_attrs,
        AccessToken=access,
        UserAttributes=[{"Name": "email_verified", "Value": "true"}],
    )


def test_mfa_preference_in_an_optional_pool(optional_mfa_idp: RunningIdp) -> None:
    idp = optional_mfa_idp
    cognito = idp.cognito()
    email = _email()
    sign_up_and_confirm(idp, email)
    access = _login(idp, email)["AuthenticationResult"]["AccessToken"]
    prefer = cognito.set_user_mfa_preference
    _fails(
        "InvalidParameterException", prefer, AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True}
    )
    _fails("InvalidParameterException", prefer, AccessToken=access, SMSMfaSettings={"Enabled": True})

    secret = cognito.associate_software_token(AccessToken=access)["SecretCode"]
    cognito.verify_software_token(AccessToken=access, UserCode=pyotp.TOTP(secret).now())
    prefer(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    assert _login(idp, email)["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert cognito.get_user(AccessToken=access)["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    prefer(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": False})
    assert "AuthenticationResult" in _login(idp, email)
    assert "PreferredMfaSetting" not in cognito.get_user(AccessToken=access)


def test_mfa_cannot_be_turned_off_where_it_is_required(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    email = _email()
    sign_up_and_confirm(idp, email)
    _, tokens = setup_mfa(idp, email)
    message = _fails(
        "InvalidParameterException",
        cognito.set_user_mfa_preference,
        AccessToken=tokens["AccessToken"],
        SoftwareTokenMfaSettings={"Enabled": False},
    )
    assert "required" in message


def test_revoke_token_and_delete_user(optional_mfa_idp: RunningIdp) -> None:
    idp = optional_mfa_idp
    cognito = idp.cognito()
    email = _email()
    sign_up_and_confirm(idp, email)
    tokens = _login(idp, email)["AuthenticationResult"]

    revoke = cognito.revoke_token
    _fails("UnsupportedTokenTypeException", revoke, ClientId=CLIENT, Token=tokens["AccessToken"])
    _fails("NotAuthorizedException", revoke, ClientId="city-tasks-loadtest", Token=tokens["RefreshToken"])
    _fails("ResourceNotFoundException", revoke, ClientId="nope", Token=tokens["RefreshToken"])
    revoke(ClientId=CLIENT, Token=tokens["RefreshToken"])
    refresh = dict(
        ClientId=CLIENT,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )
    _fails("NotAuthorizedException", cognito.initiate_auth, **refresh)
    _fails("NotAuthorizedException", cognito.get_user, AccessToken=tokens["AccessToken"])

    access = _login(idp, email)["AuthenticationResult"]["AccessToken"]
    cognito.delete_user(AccessToken=access)
    _fails("NotAuthorizedException", cognito.get_user, AccessToken=access)
    _fails("UserNotFoundException", cognito.admin_get_user, UserPoolId=POOL, Username=email)
