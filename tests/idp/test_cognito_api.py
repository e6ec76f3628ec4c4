"""boto3's cognito-idp client, unchanged, against a running IdP."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import jwt
import pyotp
import pytest
from botocore.exceptions import ClientError
from idp.store import SessionRecord
from sqlalchemy import update

from tests.idp.support import (
    CLIENT,
    PASSWORD,
    POOL,
    RunningIdp,
    mfa_login,
    setup_mfa,
    sign_up_and_confirm,
)


def _email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def _error(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def test_full_flow_sign_up_to_global_sign_out(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    email = _email()
    sub = sign_up_and_confirm(idp, email)

    # The post-confirmation trigger put the user into Users.
    assert cognito.admin_get_user(UserPoolId=POOL, Username=email)["UserStatus"] == "CONFIRMED"

    secret, first_tokens = setup_mfa(idp, email)
    assert set(first_tokens) >= {"AccessToken", "IdToken", "RefreshToken", "ExpiresIn", "TokenType"}

    # Second login with TOTP: the next step's code (the setup used this step's, and codes are single-use).
    result = mfa_login(idp, email, pyotp.TOTP(secret).at(time.time() + 30))["AuthenticationResult"]
    access = jwt.decode(result["AccessToken"], options={"verify_signature": False})
    ident = jwt.decode(result["IdToken"], options={"verify_signature": False})
    assert access["sub"] == sub
    assert access["username"] == sub
    assert access["cognito:groups"] == ["Users"]
    assert access["token_use"] == "access"
    assert access["client_id"] == CLIENT
    assert ident["email"] == email
    assert ident["name"] == "Ann Example"
    assert ident["aud"] == CLIENT
    assert ident["origin_jti"] == access["origin_jti"]

    me = cognito.get_user(AccessToken=result["AccessToken"])
    assert me["Username"] == sub
    assert {"Name": "email", "Value": email} in me["UserAttributes"]
    assert me["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"

    refreshed = cognito.initiate_auth(
        ClientId=CLIENT,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]},
    )["AuthenticationResult"]
    assert "RefreshToken" not in refreshed
    new_access = jwt.decode(refreshed["AccessToken"], options={"verify_signature": False})
    assert new_access["origin_jti"] == access["origin_jti"]
    assert new_access["jti"] != access["jti"]

    cognito.global_sign_out(AccessToken=refreshed["AccessToken"])
    with pytest.raises(ClientError) as refused:
        cognito.initiate_auth(
            ClientId=CLIENT,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": result["RefreshToken"]},
        )
    assert _error(refused) == "NotAuthorizedException"
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.get_user(AccessToken=result["AccessToken"])
    # Tokens of another login of the same user are revoked as well.
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.get_user(AccessToken=first_tokens["AccessToken"])


def test_wrong_password_and_unknown_user(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    email = _email()
    sign_up_and_confirm(idp, email)
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.initiate_auth(
            ClientId=CLIENT,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": "Wr0ng-Password!"},
        )
    with pytest.raises(cognito.exceptions.UserNotFoundException):
        cognito.initiate_auth(
            ClientId=CLIENT,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": _email(), "PASSWORD": PASSWORD},
        )
    with pytest.raises(cognito.exceptions.UserNotFoundException):
        cognito.admin_get_user(UserPoolId=POOL, Username=_email())


def test_repeated_failures_lock_the_user_even_with_the_right_password(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    email = _email()
    sign_up_and_confirm(idp, email)
    for _ in range(idp.settings.max_failed_logins):
        with pytest.raises(cognito.exceptions.NotAuthorizedException):
            cognito.initiate_auth(
                ClientId=CLIENT,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": email, "PASSWORD": "Wr0ng-Password!"},
            )
    with pytest.raises(cognito.exceptions.NotAuthorizedException) as locked:
        cognito.initiate_auth(
            ClientId=CLIENT,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
        )
    assert "attempts exceeded" in locked.value.response["Error"]["Message"]


def test_wrong_and_replayed_totp_codes(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    email = _email()
    sign_up_and_confirm(idp, email)
    secret, _ = setup_mfa(idp, email)
    totp = pyotp.TOTP(secret)
    good = totp.at(time.time() + 30)
    wrong = f"{(int(good) + 1) % 10**6:06d}"
    with pytest.raises(cognito.exceptions.CodeMismatchException):
        mfa_login(idp, email, wrong)
    assert "AuthenticationResult" in mfa_login(idp, email, good)
    with pytest.raises(cognito.exceptions.ExpiredCodeException):
        mfa_login(idp, email, good)  # the same code again
    with pytest.raises(cognito.exceptions.ExpiredCodeException):
        mfa_login(idp, email, totp.at(time.time()))  # an older, still in-window code


def test_wrong_confirmation_code_and_existing_username(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    email = _email()
    cognito.sign_up(
        ClientId=CLIENT,
        Username=email,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "name", "Value": "Bo"}],
    )
    real = idp.confirmation_code(email)
    with pytest.raises(cognito.exceptions.CodeMismatchException):
        cognito.confirm_sign_up(
            ClientId=CLIENT, Username=email, ConfirmationCode=f"{(int(real) + 1) % 10**6:06d}"
        )
    with pytest.raises(cognito.exceptions.UserNotConfirmedException):
        cognito.initiate_auth(
            ClientId=CLIENT,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
        )
    with pytest.raises(cognito.exceptions.UsernameExistsException):
        cognito.sign_up(
            ClientId=CLIENT,
            Username=email,
            Password=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": email}, {"Name": "name", "Value": "Bo"}],
        )
    with pytest.raises(cognito.exceptions.InvalidPasswordException):
        cognito.sign_up(
            ClientId=CLIENT,
            Username=_email(),
            Password="short",
            UserAttributes=[{"Name": "name", "Value": "Bo"}],
        )
    with pytest.raises(cognito.exceptions.InvalidParameterException):
        cognito.sign_up(ClientId=CLIENT, Username=_email(), Password=PASSWORD, UserAttributes=[])
    with pytest.raises(cognito.exceptions.ResourceNotFoundException):
        cognito.sign_up(ClientId="no-such-client", Username=_email(), Password=PASSWORD)


def test_expired_session_is_refused(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    email = _email()
    sign_up_and_confirm(idp, email)
    challenge = cognito.initiate_auth(
        ClientId=CLIENT,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    # Age every challenge session past its lifetime, as three minutes of waiting would.
    with idp.pool.store.begin() as db:
        db.execute(
            update(SessionRecord).where(SessionRecord.kind == "auth").values(expires_at=time.time() - 1)
        )
    with pytest.raises(cognito.exceptions.NotAuthorizedException) as refused:
        cognito.associate_software_token(Session=challenge["Session"])
    assert "expired" in refused.value.response["Error"]["Message"]
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.respond_to_auth_challenge(
            ClientId=CLIENT,
            ChallengeName="MFA_SETUP",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": email},
        )


def test_three_wrong_mfa_codes_end_the_session(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    email = _email()
    sign_up_and_confirm(idp, email)
    secret, _ = setup_mfa(idp, email)
    challenge = cognito.initiate_auth(
        ClientId=CLIENT,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    good = pyotp.TOTP(secret).at(time.time() + 30)
    for _ in range(3):
        with pytest.raises(cognito.exceptions.CodeMismatchException):
            cognito.respond_to_auth_challenge(
                ClientId=CLIENT,
                ChallengeName="SOFTWARE_TOKEN_MFA",
                Session=challenge["Session"],
                ChallengeResponses={
                    "USERNAME": email,
                    "SOFTWARE_TOKEN_MFA_CODE": "000000" if good != "000000" else "111111",
                },
            )
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.respond_to_auth_challenge(
            ClientId=CLIENT,
            ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": email, "SOFTWARE_TOKEN_MFA_CODE": good},
        )


def test_admin_created_user_changes_password_then_sets_up_mfa(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    email = _email()
    created = cognito.admin_create_user(
        UserPoolId=POOL,
        Username=email,
        TemporaryPassword="Temp-Passw0rd!",
        MessageAction="SUPPRESS",
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "name", "Value": "Cy"},
            {"Name": "email_verified", "Value": "true"},
        ],
    )["User"]
    assert created["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    with pytest.raises(cognito.exceptions.UsernameExistsException):
        cognito.admin_create_user(
            UserPoolId=POOL,
            Username=email,
            TemporaryPassword="Temp-Passw0rd!",
            MessageAction="SUPPRESS",
            UserAttributes=[{"Name": "name", "Value": "Cy"}],
        )
    challenge = cognito.initiate_auth(
        ClientId=CLIENT,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": "Temp-Passw0rd!"},
    )
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    nxt = cognito.respond_to_auth_challenge(
        ClientId=CLIENT,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": email, "NEW_PASSWORD": PASSWORD},
    )
    assert nxt["ChallengeName"] == "MFA_SETUP"
    cognito.admin_add_user_to_group(UserPoolId=POOL, Username=email, GroupName="Users")
    with pytest.raises(cognito.exceptions.ResourceNotFoundException):
        cognito.admin_add_user_to_group(UserPoolId=POOL, Username=email, GroupName="Admins")
    _, tokens = setup_mfa(idp, email)
    assert jwt.decode(tokens["AccessToken"], options={"verify_signature": False})["cognito:groups"] == [
        "Users"
    ]

    cognito.admin_set_user_password(
        UserPoolId=POOL, Username=email, Password="An0ther-Passw0rd!", Permanent=True
    )
    listed = cognito.list_users(UserPoolId=POOL, Filter=f'email = "{email}"')["Users"]
    assert [u["Username"] for u in listed] == [created["Username"]]
    cognito.admin_delete_user(UserPoolId=POOL, Username=email)
    with pytest.raises(cognito.exceptions.UserNotFoundException):
        cognito.admin_get_user(UserPoolId=POOL, Username=email)
    with pytest.raises(cognito.exceptions.ResourceNotFoundException):
        cognito.admin_get_user(UserPoolId="us-east-1_Other", Username=email)


def test_list_users_pages(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    for _ in range(3):
        sign_up_and_confirm(idp, _email())
    seen: list[str] = []
    kwargs: dict = {"UserPoolId": POOL, "Limit": 2}
    for _ in range(50):
        page = cognito.list_users(**kwargs)
        seen += [u["Username"] for u in page["Users"]]
        if "PaginationToken" not in page:
            break
        kwargs["PaginationToken"] = page["PaginationToken"]
    assert len(seen) == len(set(seen)) >= 4  # the demo user plus three
    with pytest.raises(cognito.exceptions.InvalidParameterException):
        cognito.list_users(UserPoolId=POOL, Filter="email contains x")


def test_demo_user_logs_in_with_the_seeded_totp_secret(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    challenge = cognito.initiate_auth(
        ClientId=CLIENT,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "demo@example.com", "PASSWORD": "Demo-Passw0rd!"},
    )
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    code = pyotp.TOTP("DEMOLOCALONLYDEMOLOCALONLYDEMOAA").at(time.time() + 30)
    out = cognito.respond_to_auth_challenge(
        ClientId=CLIENT,
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "demo@example.com", "SOFTWARE_TOKEN_MFA_CODE": code},
    )
    ident = jwt.decode(out["AuthenticationResult"]["IdToken"], options={"verify_signature": False})
    assert ident["name"] == "Demo User"
    assert ident["cognito:groups"] == ["Users"]


def test_malformed_requests_get_cognito_errors(idp: RunningIdp) -> None:
    import httpx

    headers = {
        "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
        "Content-Type": "application/x-amz-json-1.1",
    }
    bad_json = httpx.post(idp.url + "/", content=b"{not json", headers=headers)
    assert bad_json.status_code == 400
    assert bad_json.json()["__type"] == "SerializationException"
    not_object = httpx.post(idp.url + "/", content=b"[1]", headers=headers)
    assert not_object.status_code == 400
    assert not_object.json()["__type"] == "InvalidParameterException"
    unknown = httpx.post(
        idp.url + "/", json={}, headers={**headers, "X-Amz-Target": "AWSCognitoIdentityProviderService.Nope"}
    )
    assert unknown.status_code == 400
    assert unknown.json()["__type"] == "UnknownOperationException"
    flow = httpx.post(idp.url + "/", json={"ClientId": CLIENT, "AuthFlow": "USER_SRP_AUTH"}, headers=headers)
    assert flow.status_code == 400
    assert flow.json()["__type"] == "InvalidParameterException"


def concurrent_same_code(idp: RunningIdp, email: str, code: str, attempts: int = 4) -> list[str]:
    """Starts `attempts` challenges, answers them all at once with one code; returns each outcome."""
    cognito = idp.cognito()
    sessions = [
        cognito.initiate_auth(
            ClientId=CLIENT,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
        )["Session"]
        for _ in range(attempts)
    ]
    barrier = threading.Barrier(attempts)

    def answer(session: str) -> str:
        client = idp.cognito()
        barrier.wait(timeout=30)
        try:
            client.respond_to_auth_challenge(
                ClientId=CLIENT,
                ChallengeName="SOFTWARE_TOKEN_MFA",
                Session=session,
                ChallengeResponses={"USERNAME": email, "SOFTWARE_TOKEN_MFA_CODE": code},
            )
        except ClientError as exc:
            return exc.response["Error"]["Code"]
        return "ok"

    with ThreadPoolExecutor(attempts) as pool:
        return sorted(pool.map(answer, sessions))


def test_one_code_answered_concurrently_is_accepted_once(idp: RunningIdp) -> None:
    email = _email()
    sign_up_and_confirm(idp, email)
    secret, _ = setup_mfa(idp, email)
    outcomes = concurrent_same_code(idp, email, pyotp.TOTP(secret).at(time.time() + 30))
    assert outcomes == ["ExpiredCodeException"] * 3 + ["ok"]
