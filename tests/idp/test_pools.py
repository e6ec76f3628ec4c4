"""Several user pools in one process: CreateUserPool, ListUserPools, and pools kept apart (their users,
groups, clients, keys and issuers), across a restart."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError
from pycognito import Cognito

from devstack.net import free_port
from tests.idp.support import POOL, RunningIdp, idp_settings, running_idp

PASSWORD = "Sec0nd-Pool-Passw0rd!"


def _second_pool(idp: RunningIdp) -> tuple[str, str]:
    cognito = idp.cognito()
    pool = cognito.create_user_pool(PoolName="partners", MfaConfiguration="OFF")["UserPool"]
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="partners-web",
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    return pool["Id"], client["ClientId"]


def test_pools_are_kept_apart(tmp_path: Path) -> None:
    port = free_port()
    settings = idp_settings(tmp_path, port)
    with running_idp(settings) as idp:
        cognito = idp.cognito()
        pool_id, client_id = _second_pool(idp)
        assert pool_id.startswith("us-east-1_")
        assert pool_id != POOL
        listed = cognito.list_user_pools(MaxResults=10)["UserPools"]
        assert {(p["Id"], p["Name"]) for p in listed} == {(POOL, "city-tasks-local"), (pool_id, "partners")}
        assert cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]["MfaConfiguration"] == "OFF"

        # The same address in both pools: two different users.
        cognito.sign_up(
            ClientId=client_id,
            Username="demo@example.com",
            Password=PASSWORD,
            UserAttributes=[
                {"Name": "email", "Value": "demo@example.com"},
                {"Name": "name", "Value": "Other Demo"},
            ],
        )
        cognito.admin_confirm_sign_up(UserPoolId=pool_id, Username="demo@example.com")
        # No post-confirmation trigger in a pool made through the API, and no groups until someone makes them.
        assert (
            cognito.admin_list_groups_for_user(UserPoolId=pool_id, Username="demo@example.com")["Groups"]
            == []
        )
        cognito.create_group(UserPoolId=pool_id, GroupName="Users")
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username="demo@example.com", GroupName="Users")
        main_demo = cognito.admin_get_user(UserPoolId=POOL, Username="demo@example.com")
        other_demo = cognito.admin_get_user(UserPoolId=pool_id, Username="demo@example.com")
        assert main_demo["Username"] != other_demo["Username"]

        # SRP with pycognito against the second pool: its own issuer and keys (MFA OFF: tokens at once).
        user = Cognito(
            pool_id,
            client_id,
            username="demo@example.com",
            boto3_client_kwargs={
                "endpoint_url": idp.url,
                "aws_access_key_id": "x",
                "aws_secret_access_key": "x",
            },
        )
        user.authenticate(password=PASSWORD)
        assert user.id_claims["iss"] == f"{idp.settings.public_base}/{pool_id}"
        assert user.id_claims["name"] == "Other Demo"
        assert user.access_claims["cognito:groups"] == ["Users"]
        assert cognito.get_user(AccessToken=user.access_token)["Username"] == other_demo["Username"]
        main_kids = {k["kid"] for k in httpx.get(f"{idp.url}/{POOL}/.well-known/jwks.json").json()["keys"]}
        other_kids = {
            k["kid"] for k in httpx.get(f"{idp.url}/{pool_id}/.well-known/jwks.json").json()["keys"]
        }
        assert len(other_kids) == 2
        assert not main_kids & other_kids
        with pytest.raises(ClientError) as wrong:  # the main pool's demo password is not this user's
            Cognito(
                pool_id,
                client_id,
                username="demo@example.com",
                boto3_client_kwargs={
                    "endpoint_url": idp.url,
                    "aws_access_key_id": "x",
                    "aws_secret_access_key": "x",
                },
            ).authenticate(password="Demo-Passw0rd!")
        assert wrong.value.response["Error"]["Code"] == "NotAuthorizedException"

        with pytest.raises(ClientError) as unknown:
            cognito.list_users(UserPoolId="us-east-1_Missing1")
        assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"
        with pytest.raises(ClientError) as bad_mfa:
            cognito.create_user_pool(PoolName="x", MfaConfiguration="SOMETIMES")
        assert bad_mfa.value.response["Error"]["Code"] == "InvalidParameterException"

    # The pool, its users and its keys outlive a restart.
    with running_idp(settings) as again:
        cognito = again.cognito()
        assert {p["Id"] for p in cognito.list_user_pools(MaxResults=10)["UserPools"]} == {POOL, pool_id}
        assert (
            cognito.admin_get_user(UserPoolId=pool_id, Username="demo@example.com")["Username"]
            == other_demo["Username"]
        )
        assert cognito.get_user(AccessToken=user.access_token)["Username"] == other_demo["Username"]
