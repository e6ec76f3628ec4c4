"""boto3 for the administrator's operations: admin sign-in, user state, groups, the pool and its clients,
and ListUsers with Cognito's filter semantics; each error type they answer."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pyotp
import pytest
from botocore.exceptions import ClientError

from tests.idp.support import CLIENT, PASSWORD, POOL, RunningIdp, sign_up_and_confirm

DEMO_SECRET = "DEMOLOCALONLYDEMOLOCALONLYDEMOAA"


def _email(prefix: str = "adm") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def _fails(kind: str, call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    assert caught.value.response["Error"]["Code"] == kind, caught.value.response["Error"]
    return str(caught.value.response["Error"]["Message"])


def _admin_client(idp: RunningIdp) -> str:
    return idp.cognito().create_user_pool_client(
        UserPoolId=POOL,
        ClientName="admin",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]


def _admin_login(idp: RunningIdp, client_id: str, email: str, password: str = PASSWORD) -> dict:
    return idp.cognito().admin_initiate_auth(
        UserPoolId=POOL,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )


def test_admin_sign_in_goes_through_the_same_challenges(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    client_id = _admin_client(idp)
    challenge = _admin_login(idp, client_id, "demo@example.com", "Demo-Passw0rd!")
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    done = cognito.admin_respond_to_auth_challenge(
        UserPoolId=POOL,
        ClientId=client_id,
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=challenge["Session"],
        ChallengeResponses={
            "USERNAME": "demo@example.com",
            "SOFTWARE_TOKEN_MFA_CODE": pyotp.TOTP(DEMO_SECRET).at(time.time() + 30),
        },
    )
    assert done["AuthenticationResult"]["TokenType"] == "Bearer"
    legacy = cognito.admin_initiate_auth(
        UserPoolId=POOL,
        ClientId=client_id,
        AuthFlow="ADMIN_NO_SRP_AUTH",
        AuthParameters={"USERNAME": "demo@example.com", "PASSWORD": "Demo-Passw0rd!"},
    )
    assert legacy["ChallengeName"] == "SOFTWARE_TOKEN_MFA"

    _fails(
        "NotAuthorizedException",
        _admin_login,
        idp=idp,
        client_id=client_id,
        email="demo@example.com",
        password="Wr0ng-Passw0rd!",
    )
    _fails("InvalidParameterException", _admin_login, idp=idp, client_id=CLIENT, email="demo@example.com")
    _fails(
        "InvalidParameterException",
        cognito.admin_initiate_auth,
        UserPoolId=POOL,
        ClientId=client_id,
        AuthFlow="USER_SRP_AUTH",
        AuthParameters={"USERNAME": "demo@example.com", "SRP_A": "ab"},
    )
    _fails(
        "ResourceNotFoundException",
        cognito.admin_initiate_auth,
        UserPoolId="us-east-1_Nope",
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "demo@example.com", "PASSWORD": "Demo-Passw0rd!"},
    )


def test_disabled_users_cannot_sign_in_or_refresh(optional_mfa_idp: RunningIdp) -> None:
    idp = optional_mfa_idp
    cognito = idp.cognito()
    client_id = _admin_client(idp)
    email = _email()
    sign_up_and_confirm(idp, email)
    tokens = _admin_login(idp, client_id, email)["AuthenticationResult"]
    refresh = dict(
        ClientId=client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
    )
    assert "AccessToken" in cognito.initiate_auth(**refresh)["AuthenticationResult"]

    cognito.admin_disable_user(UserPoolId=POOL, Username=email)
    assert cognito.admin_get_user(UserPoolId=POOL, Username=email)["Enabled"] is False
    _fails("NotAuthorizedException", cognito.initiate_auth, **refresh)
    _fails("NotAuthorizedException", cognito.get_user, AccessToken=tokens["AccessToken"])
    assert (
        _fails("NotAuthorizedException", _admin_login, idp=idp, client_id=client_id, email=email)
        == "User is disabled."
    )
    disabled = cognito.list_users(UserPoolId=POOL, Filter='status = "Disabled"')["Users"]
    assert [u["Username"] for u in disabled] == [
        cognito.admin_get_user(UserPoolId=POOL, Username=email)["Username"]
    ]

    cognito.admin_enable_user(UserPoolId=POOL, Username=email)
    _fails("NotAuthorizedException", cognito.initiate_auth, **refresh)  # revoked for good, as in Cognito
    fresh = _admin_login(idp, client_id, email)["AuthenticationResult"]
    cognito.admin_user_global_sign_out(UserPoolId=POOL, Username=email)
    _fails(
        "NotAuthorizedException",
        cognito.initiate_auth,
        ClientId=client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": fresh["RefreshToken"]},
    )
    _fails("UserNotFoundException", cognito.admin_disable_user, UserPoolId=POOL, Username=_email())


def test_reset_confirm_and_update_by_the_admin(optional_mfa_idp: RunningIdp) -> None:
    idp = optional_mfa_idp
    cognito = idp.cognito()
    client_id = _admin_client(idp)
    email = _email()
    sign_up_and_confirm(idp, email)

    cognito.admin_reset_user_password(UserPoolId=POOL, Username=email)
    assert cognito.admin_get_user(UserPoolId=POOL, Username=email)["UserStatus"] == "RESET_REQUIRED"
    _fails("PasswordResetRequiredException", _admin_login, idp=idp, client_id=client_id, email=email)
    code = idp.latest_code(email, "forgot_password")
    cognito.confirm_forgot_password(
        ClientId=CLIENT, Username=email, ConfirmationCode=code, Password="Br4nd-New-Pass!"
    )
    assert cognito.admin_get_user(UserPoolId=POOL, Username=email)["UserStatus"] == "CONFIRMED"
    assert "AuthenticationResult" in _admin_login(idp, client_id, email, "Br4nd-New-Pass!")

    pending = _email("pending")
    cognito.sign_up(
        ClientId=CLIENT,
        Username=pending,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": pending}, {"Name": "name", "Value": "Pen"}],
    )
    cognito.admin_confirm_sign_up(UserPoolId=POOL, Username=pending)
    assert cognito.admin_get_user(UserPoolId=POOL, Username=pending)["UserStatus"] == "CONFIRMED"
    groups = cognito.admin_list_groups_for_user(UserPoolId=POOL, Username=pending)["Groups"]
    assert [g["GroupName"] for g in groups] == ["Users"]  # the post-confirmation trigger ran
    _fails("NotAuthorizedException", cognito.admin_confirm_sign_up, UserPoolId=POOL, Username=pending)

    moved = _email("moved")
    cognito.admin_update_user_attributes(
        UserPoolId=POOL,
        Username=pending,
        UserAttributes=[
            {"Name": "email", "Value": moved},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "name", "Value": "Penny"},
        ],
    )
    attributes = {
        a["Name"]: a["Value"]
        for a in cognito.admin_get_user(UserPoolId=POOL, Username=moved)["UserAttributes"]
    }
    assert attributes == {**attributes, "email": moved, "email_verified": "true", "name": "Penny"}
    assert idp.outbox(moved) == []  # marked verified by the admin: no code sent
    _fails(
        "InvalidParameterException",
        cognito.admin_update_user_attributes,
        UserPoolId=POOL,
        Username=moved,
        UserAttributes=[{"Name": "custom:tier", "Value": "gold"}],
    )
    _fails(
        "InvalidParameterException",
        cognito.admin_set_user_mfa_preference,
        UserPoolId=POOL,
        Username=moved,
        SoftwareTokenMfaSettings={"Enabled": True},
    )


def test_created_users_get_their_temporary_password_in_the_outbox(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    email = _email("invited")
    cognito.admin_create_user(
        UserPoolId=POOL,
        Username=email,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "name", "Value": "Ivy"}],
    )
    (invitation,) = idp.outbox(email)
    assert invitation["kind"] == "temporary_password"
    challenge = cognito.initiate_auth(
        ClientId=CLIENT,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": invitation["code"]},
    )
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    cognito.admin_create_user(UserPoolId=POOL, Username=email, MessageAction="RESEND")
    assert [m["kind"] for m in idp.outbox(email)] == ["temporary_password", "temporary_password"]
    _fails(
        "InvalidParameterException",
        cognito.admin_create_user,
        UserPoolId=POOL,
        Username=email,
        MessageAction="SHOUT",
    )


def test_groups(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    name = f"Editors-{uuid.uuid4().hex[:6]}"
    created = cognito.create_group(UserPoolId=POOL, GroupName=name, Description="They edit", Precedence=5)[
        "Group"
    ]
    assert created == {
        **created,
        "GroupName": name,
        "UserPoolId": POOL,
        "Description": "They edit",
        "Precedence": 5,
    }
    _fails("GroupExistsException", cognito.create_group, UserPoolId=POOL, GroupName=name)
    assert cognito.get_group(UserPoolId=POOL, GroupName=name)["Group"]["Description"] == "They edit"
    _fails("ResourceNotFoundException", cognito.get_group, UserPoolId=POOL, GroupName="Nobody")

    first = cognito.list_groups(UserPoolId=POOL, Limit=1)
    assert len(first["Groups"]) == 1
    second = cognito.list_groups(UserPoolId=POOL, Limit=1, NextToken=first["NextToken"])
    assert {g["GroupName"] for g in first["Groups"] + second["Groups"]} == {name, "Users"}

    email = _email("member")
    sign_up_and_confirm(idp, email)
    cognito.admin_add_user_to_group(UserPoolId=POOL, Username=email, GroupName=name)
    members = cognito.list_users_in_group(UserPoolId=POOL, GroupName=name)["Users"]
    (member,) = members
    assert {"Name": "email", "Value": email} in member["Attributes"]
    groups = cognito.admin_list_groups_for_user(UserPoolId=POOL, Username=email)["Groups"]
    assert sorted(g["GroupName"] for g in groups) == sorted([name, "Users"])
    cognito.admin_remove_user_from_group(UserPoolId=POOL, Username=email, GroupName=name)
    assert cognito.list_users_in_group(UserPoolId=POOL, GroupName=name)["Users"] == []
    _fails(
        "ResourceNotFoundException",
        cognito.admin_remove_user_from_group,
        UserPoolId=POOL,
        Username=email,
        GroupName="Nobody",
    )
    cognito.delete_group(UserPoolId=POOL, GroupName=name)
    _fails("ResourceNotFoundException", cognito.delete_group, UserPoolId=POOL, GroupName=name)


def test_list_users_filters_as_cognito_does(optional_mfa_idp: RunningIdp) -> None:
    idp = optional_mfa_idp
    cognito = idp.cognito()
    tag = uuid.uuid4().hex[:6]
    confirmed = [_email(f"lf{tag}") for _ in range(3)]
    for email in confirmed:
        sign_up_and_confirm(idp, email)
    waiting = _email(f"lf{tag}")
    cognito.sign_up(
        ClientId=CLIENT,
        Username=waiting,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": waiting}, {"Name": "name", "Value": "Wai"}],
    )

    def emails(filter_expression: str, **more: Any) -> list[str]:
        users = cognito.list_users(UserPoolId=POOL, Filter=filter_expression, **more)["Users"]
        return sorted(next(a["Value"] for a in u["Attributes"] if a["Name"] == "email") for u in users)

    assert emails(f'email ^= "lf{tag}"') == sorted([*confirmed, waiting])
    assert emails(f'email = "{waiting}"') == [waiting]
    # `status` is the Enabled/Disabled flag; the confirmation state is `cognito:user_status`.
    everyone = cognito.list_users(UserPoolId=POOL, Filter='status = "Enabled"')["Users"]
    assert {waiting, *confirmed} <= {
        next(a["Value"] for a in u["Attributes"] if a["Name"] == "email") for u in everyone
    }
    unconfirmed = emails('cognito:user_status = "UNCONFIRMED"')
    assert waiting in unconfirmed
    assert not set(confirmed) & set(unconfirmed)

    page = cognito.list_users(UserPoolId=POOL, Filter=f'email ^= "lf{tag}"', Limit=3)
    assert len(page["Users"]) == 3
    rest = cognito.list_users(
        UserPoolId=POOL, Filter=f'email ^= "lf{tag}"', Limit=3, PaginationToken=page["PaginationToken"]
    )
    assert len(rest["Users"]) == 1
    assert "PaginationToken" not in rest

    for bad in ('status = "UNCONFIRMED"', 'shoe_size = "9"', "email = unquoted"):
        _fails("InvalidParameterException", cognito.list_users, UserPoolId=POOL, Filter=bad)
    _fails("InvalidParameterException", cognito.list_users, UserPoolId=POOL, PaginationToken="%%%")


def test_the_pool_and_its_clients(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    pool = cognito.describe_user_pool(UserPoolId=POOL)["UserPool"]
    assert pool["Id"] == POOL
    assert pool["MfaConfiguration"] == "ON"
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 12
    _fails("ResourceNotFoundException", cognito.describe_user_pool, UserPoolId="us-east-1_Nope")
    assert cognito.list_user_pools(MaxResults=10)["UserPools"][0]["Id"] == POOL

    web = cognito.describe_user_pool_client(UserPoolId=POOL, ClientId=CLIENT)["UserPoolClient"]
    assert "ALLOW_USER_SRP_AUTH" in web["ExplicitAuthFlows"]
    assert "ClientSecret" not in web
    loadtest = cognito.describe_user_pool_client(UserPoolId=POOL, ClientId="city-tasks-loadtest")[
        "UserPoolClient"
    ]
    assert loadtest["AllowedOAuthFlows"] == ["client_credentials"]
    _fails("ResourceNotFoundException", cognito.describe_user_pool_client, UserPoolId=POOL, ClientId="nope")

    made = cognito.create_user_pool_client(UserPoolId=POOL, ClientName="backend", GenerateSecret=True)[
        "UserPoolClient"
    ]
    assert made["ClientSecret"]
    listed = {
        c["ClientId"]
        for c in cognito.list_user_pool_clients(UserPoolId=POOL, MaxResults=60)["UserPoolClients"]
    }
    assert {CLIENT, "city-tasks-loadtest", made["ClientId"]} <= listed
    _fails(
        "InvalidParameterException",
        cognito.create_user_pool_client,
        UserPoolId=POOL,
        ClientName="bad",
        AllowedOAuthFlows=["password"],
    )
