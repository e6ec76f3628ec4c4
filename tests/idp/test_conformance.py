"""Conformance: the same boto3 calls against moto's cognito-idp server and against this IdP.

Where both support a call, every key moto returns must be in our response with the same type (ours may carry
more keys, as real Cognito's do), and errors must be the same exception classes. Where moto and real
Cognito disagree (moto issues tokens before MFA is set up), each backend gets there its own way and the
comparison resumes once both are in the same state.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pyotp
import pytest
from botocore.exceptions import ClientError

from tests.idp.support import RunningIdp
from tests.idp.test_cognito_api import setup_mfa
from tests.support.moto import client as moto_client
from tests.support.moto import moto_server

PASSWORD = "Str0ng-Passw0rd!"
FREE_MAPS = {"ChallengeParameters"}  # string-to-string maps whose keys are not part of the shape
# moto fills optional members with empty values ("" or []) where real Cognito leaves them out.
EMPTY = "empty"
# Where moto departs from Cognito's documented behaviour, we follow Cognito; each such path is listed here.
MOTO_ONLY = {
    # Cognito returns a Session only when the call was made with one, not with an AccessToken.
    "VerifySoftwareToken.Session",
}


class _LenientTotp(pyotp.TOTP):
    # moto hands out a fixed 12-character (60-bit) secret, below pyotp's 112-bit floor; ours are 260 bits.
    min_secret_length_bits = 0


def _totp(secret: str) -> pyotp.TOTP:
    return _LenientTotp(secret)


@dataclass
class Backend:
    name: str
    client: Any
    pool_id: str
    client_id: str
    confirmation_code: Callable[[str], str]
    # The one step where the backends differ: how a confirmed user gets a first set of tokens.
    first_tokens: Callable[[Any, str, str], dict]


@pytest.fixture(scope="module")
def moto_backend() -> Iterator[Backend]:
    previous = os.environ.get("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP")
    os.environ["MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"] = "true"
    try:
        with moto_server() as url:
            client = moto_client("cognito-idp", url)
            pool = client.create_user_pool(
                PoolName="conformance",
                UsernameAttributes=["email"],
                AutoVerifiedAttributes=["email"],
                MfaConfiguration="ON",
                Schema=[
                    {"Name": "email", "Required": True, "AttributeDataType": "String"},
                    {"Name": "name", "Required": True, "AttributeDataType": "String"},
                ],
            )["UserPool"]
            client.set_user_pool_mfa_config(
                UserPoolId=pool["Id"], SoftwareTokenMfaConfiguration={"Enabled": True}, MfaConfiguration="ON"
            )
            app = client.create_user_pool_client(
                UserPoolId=pool["Id"],
                ClientName="web",
                ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            )["UserPoolClient"]
            client.create_group(UserPoolId=pool["Id"], GroupName="Users")
            yield Backend(
                "moto", client, pool["Id"], app["ClientId"], lambda _email: "123456", _moto_first_tokens
            )
    finally:
        if previous is None:
            os.environ.pop("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", None)
        else:
            os.environ["MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"] = previous


@pytest.fixture(scope="module")
def our_backend(idp: RunningIdp) -> Backend:
    return Backend(
        "idp",
        idp.cognito(),
        "us-east-1_LocalPool",
        "city-tasks-web",
        idp.confirmation_code,
        lambda _client, _client_id, email: setup_mfa(idp, email)[1],
    )


def _moto_first_tokens(client: Any, client_id: str, email: str) -> dict:
    # moto issues tokens straight away although the pool requires MFA.
    return client.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]


def shape(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        if key in FREE_MAPS:
            return "map"
        return {k: shape(v, k) for k, v in value.items() if k != "ResponseMetadata"}
    if value == "" or value == []:
        return EMPTY
    if isinstance(value, list):
        return [shape(value[0])]
    return type(value).__name__


def assert_conforms(ours: Any, theirs: Any, path: str = "$") -> None:
    """Every key in moto's shape is in ours with the same type (recursively)."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), f"{path}: expected an object, got {ours!r}"
        for key, sub in theirs.items():
            if (sub == EMPTY or f"{path}.{key}" in MOTO_ONLY) and key not in ours:
                continue
            assert key in ours, f"{path}.{key} is missing (ours has {sorted(ours)})"
            assert_conforms(ours[key], sub, f"{path}.{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list) or ours == EMPTY, f"{path}: expected a list"
        if isinstance(ours, list):
            assert_conforms(ours[0], theirs[0], f"{path}[0]")
    elif theirs != EMPTY and ours != EMPTY:
        assert ours == theirs, f"{path}: type {ours} here, {theirs} in moto"


def error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    return exc.value.response["Error"]["Code"]


def run_sequence(b: Backend) -> dict[str, Any]:
    """The shared calls; returns each response (or error class) by step name."""
    c, out = b.client, {}
    email = f"conf-{uuid.uuid4().hex[:8]}@example.com"
    attrs = [{"Name": "email", "Value": email}, {"Name": "name", "Value": "Conformance"}]
    out["SignUp"] = c.sign_up(ClientId=b.client_id, Username=email, Password=PASSWORD, UserAttributes=attrs)
    out["SignUp.exists"] = error_code(
        lambda: c.sign_up(ClientId=b.client_id, Username=email, Password=PASSWORD, UserAttributes=attrs)
    )
    out["InitiateAuth.unconfirmed"] = error_code(
        lambda: c.initiate_auth(
            ClientId=b.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
        )
    )
    out["ConfirmSignUp"] = c.confirm_sign_up(
        ClientId=b.client_id, Username=email, ConfirmationCode=b.confirmation_code(email)
    )
    out["AdminAddUserToGroup"] = c.admin_add_user_to_group(
        UserPoolId=b.pool_id, Username=email, GroupName="Users"
    )
    out["AdminGetUser"] = c.admin_get_user(UserPoolId=b.pool_id, Username=email)
    out["ListUsers"] = c.list_users(UserPoolId=b.pool_id, Filter=f'email = "{email}"')
    out["InitiateAuth.wrong_password"] = error_code(
        lambda: c.initiate_auth(
            ClientId=b.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": "Wr0ng-Passw0rd!"},
        )
    )
    out["InitiateAuth.unknown_user"] = error_code(
        lambda: c.initiate_auth(
            ClientId=b.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": f"x{email}", "PASSWORD": PASSWORD},
        )
    )

    # Diverging step: a first access token (moto skips MFA setup; Cognito and this IdP require it).
    first = b.first_tokens(c, b.client_id, email)
    # Shared again: (re-)associate a software token with the access token and verify it.
    out["AssociateSoftwareToken"] = c.associate_software_token(AccessToken=first["AccessToken"])
    secret = out["AssociateSoftwareToken"]["SecretCode"]
    out["VerifySoftwareToken"] = c.verify_software_token(
        AccessToken=first["AccessToken"], UserCode=_totp(secret).now(), FriendlyDeviceName="phone"
    )

    challenge = c.initiate_auth(
        ClientId=b.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    out["InitiateAuth.mfa"] = challenge
    now_code = _totp(secret).now()
    wrong = f"{(int(now_code) + 5) % 10**6:06d}"
    out["RespondToAuthChallenge.wrong_code"] = error_code(
        lambda: c.respond_to_auth_challenge(
            ClientId=b.client_id,
            ChallengeName="SOFTWARE_TOKEN_MFA",
            Session=challenge["Session"],
            ChallengeResponses={"USERNAME": email, "SOFTWARE_TOKEN_MFA_CODE": wrong},
        )
    )
    challenge = c.initiate_auth(
        ClientId=b.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    # moto checks the current step only; we refuse the step the verification used, so take the next one.
    code = _totp(secret).now() if b.name == "moto" else _totp(secret).at(time.time() + 30)
    out["RespondToAuthChallenge"] = c.respond_to_auth_challenge(
        ClientId=b.client_id,
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": email, "SOFTWARE_TOKEN_MFA_CODE": code},
    )
    tokens = out["RespondToAuthChallenge"]["AuthenticationResult"]
    out["access_claims"] = jwt.decode(tokens["AccessToken"], options={"verify_signature": False})
    out["id_claims"] = jwt.decode(tokens["IdToken"], options={"verify_signature": False})
    out["GetUser"] = c.get_user(AccessToken=tokens["AccessToken"])
    out["InitiateAuth.refresh"] = c.initiate_auth(
        ClientId=b.client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )
    out["GlobalSignOut"] = c.global_sign_out(AccessToken=tokens["AccessToken"])
    out["InitiateAuth.revoked"] = error_code(
        lambda: c.initiate_auth(
            ClientId=b.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
        )
    )

    admin_email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    out["AdminCreateUser"] = c.admin_create_user(
        UserPoolId=b.pool_id,
        Username=admin_email,
        TemporaryPassword="Temp-Passw0rd!",
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": admin_email}, {"Name": "name", "Value": "Admin Made"}],
    )
    out["AdminSetUserPassword"] = c.admin_set_user_password(
        UserPoolId=b.pool_id, Username=admin_email, Password=PASSWORD, Permanent=True
    )
    out["AdminDeleteUser"] = c.admin_delete_user(UserPoolId=b.pool_id, Username=admin_email)
    out["AdminGetUser.deleted"] = error_code(
        lambda: c.admin_get_user(UserPoolId=b.pool_id, Username=admin_email)
    )
    return out


def test_same_calls_same_shapes(moto_backend: Backend, our_backend: Backend) -> None:
    theirs = run_sequence(moto_backend)
    ours = run_sequence(our_backend)
    assert ours.keys() == theirs.keys()
    for step in theirs:
        if isinstance(theirs[step], str):  # an error class
            assert ours[step] == theirs[step], f"{step}: {ours[step]} here, {theirs[step]} in moto"
        elif step.endswith("_claims"):
            missing = set(theirs[step]) - set(ours[step])
            assert not missing, f"{step}: moto's tokens carry {sorted(missing)}, ours do not"
        else:
            assert_conforms(shape(ours[step]), shape(theirs[step]), step)
