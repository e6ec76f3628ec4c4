"""pycognito (PyPI), unchanged, for a user's self-service and the admin sign-in, in a pool whose MFA is
optional (pycognito's `authenticate` and `admin_authenticate` expect tokens straight away there)."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError
from pycognito import Cognito

from tests.idp.support import CLIENT, PASSWORD, POOL, RunningIdp, sign_up_and_confirm

NEW_PASSWORD = "N3w-Passw0rd-Chosen!"
RESET_PASSWORD = "R3set-Passw0rd-Again!"


def _user(idp: RunningIdp, email: str, client_id: str = CLIENT) -> Cognito:
    return Cognito(
        POOL,
        client_id,
        username=email,
        boto3_client_kwargs={"endpoint_url": idp.url, "aws_access_key_id": "x", "aws_secret_access_key": "x"},
    )


def _refused(idp: RunningIdp, email: str, password: str) -> str:
    with pytest.raises(ClientError) as refused:
        _user(idp, email).authenticate(password=password)
    return refused.value.response["Error"]["Code"]


def test_change_forgot_and_reset_password(optional_mfa_idp: RunningIdp) -> None:
    idp = optional_mfa_idp
    email = f"py-{uuid.uuid4().hex[:10]}@example.com"
    sign_up_and_confirm(idp, email)

    user = _user(idp, email)
    user.authenticate(password=PASSWORD)  # SRP, no MFA set up in an OPTIONAL pool: tokens at once
    user.verify_token(user.access_token, "access_token", "access")
    user.change_password(PASSWORD, NEW_PASSWORD)
    assert _refused(idp, email, PASSWORD) == "NotAuthorizedException"
    _user(idp, email).authenticate(password=NEW_PASSWORD)

    forgetful = _user(idp, email)
    forgetful.initiate_forgot_password()
    message = idp.outbox(email)[0]
    assert message["kind"] == "forgot_password"
    forgetful.confirm_forgot_password(message["code"], RESET_PASSWORD)
    assert _refused(idp, email, NEW_PASSWORD) == "NotAuthorizedException"
    _user(idp, email).authenticate(password=RESET_PASSWORD)
    with pytest.raises(ClientError) as spent:  # a code works once
        forgetful.confirm_forgot_password(message["code"], PASSWORD)
    assert spent.value.response["Error"]["Code"] == "ExpiredCodeException"


def test_profile_groups_and_admin_sign_in(optional_mfa_idp: RunningIdp) -> None:
    idp = optional_mfa_idp
    email = f"py-{uuid.uuid4().hex[:10]}@example.com"
    sign_up_and_confirm(idp, email)
    user = _user(idp, email)
    user.authenticate(password=PASSWORD)

    user.update_profile({"name": "Renamed Person"})
    assert user.get_user().name == "Renamed Person"
    assert {g.group_name for g in user.get_groups()} == {"Users"}

    # pycognito's admin sign-in (ADMIN_NO_SRP_AUTH) needs a client that allows the admin flow.
    admin_client = idp.cognito().create_user_pool_client(
        UserPoolId=POOL, ClientName="admin-scripts", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    admin = _user(idp, email, admin_client)
    admin.admin_authenticate(password=PASSWORD)
    claims = admin.verify_token(admin.id_token, "id_token", "id")
    assert claims["aud"] == admin_client
    assert claims["name"] == "Renamed Person"
    with pytest.raises(ClientError) as wrong:
        _user(idp, email, admin_client).admin_authenticate(password="Wrong-Passw0rd!")
    assert wrong.value.response["Error"]["Code"] == "NotAuthorizedException"
    with pytest.raises(ClientError) as not_allowed:  # the web client does not allow the admin flow
        _user(idp, email).admin_authenticate(password=PASSWORD)
    assert not_allowed.value.response["Error"]["Code"] == "InvalidParameterException"
