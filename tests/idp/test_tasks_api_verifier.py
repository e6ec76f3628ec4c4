"""The Tasks API's token verifier, unpatched, accepts this IdP's access tokens and moto's (each when the API
is configured with that issuer): it depends on an issuer URL, a JWKS URL and client ids, not on our IdP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pyotp
from asgi_lifespan import LifespanManager
from tasks_api.app import create_app
from tasks_api.settings import Settings as ApiSettings

from tests.idp.support import RunningIdp
from tests.support.moto import client as moto_client
from tests.support.moto import moto_server

TASK = {
    "name": "Water plants",
    "description": "Morning watering of the garden",
    "hour": 7,
    "minute": 30,
    "executionDays": "MON,WED",
    "executionCommand": "python3 /home/pi/faker/faker.py",
}


def api_settings(tmp: Path, issuer: str, jwks_url: str, client_id: str) -> ApiSettings:
    return ApiSettings(
        auth_issuer=issuer,
        auth_jwks_url=jwks_url,
        auth_client_ids=[client_id],
        database_url=None,
        db_secret=None,
        sqlite_path=tmp / "tasks.db",
        scheduler_enabled=False,
        migrate_on_start=True,
        write_rate_per_minute=0,
    )


async def api_client(settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        LifespanManager(app, startup_timeout=30, shutdown_timeout=30),
        httpx.AsyncClient(transport=transport, base_url="http://api") as client,
    ):
        yield client


async def get_json(url: str) -> dict:
    async with httpx.AsyncClient() as client:
        return (await client.get(url)).json()


def demo_tokens(idp: RunningIdp) -> dict:
    cognito = idp.cognito()
    challenge = cognito.initiate_auth(
        ClientId="city-tasks-web",
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "demo@example.com", "PASSWORD": "Demo-Passw0rd!"},
    )
    code = pyotp.TOTP("DEMOLOCALONLYDEMOLOCALONLYDEMOAA").at(time.time() + 30)
    return cognito.respond_to_auth_challenge(
        ClientId="city-tasks-web",
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "demo@example.com", "SOFTWARE_TOKEN_MFA_CODE": code},
    )["AuthenticationResult"]


async def test_tasks_api_accepts_tokens_from_this_idp(idp: RunningIdp, tmp_path: Path) -> None:
    discovery = await get_json(f"{idp.url}/us-east-1_LocalPool/.well-known/openid-configuration")
    tokens = demo_tokens(idp)
    settings = api_settings(tmp_path, discovery["issuer"], discovery["jwks_uri"], "city-tasks-web")
    async for api in api_client(settings):
        bearer = {"Authorization": f"Bearer {tokens['AccessToken']}"}
        created = await api.post("/api/tasks", json=TASK, headers=bearer)
        assert created.status_code == 201, created.text
        listed = await api.get("/api/tasks", headers=bearer)
        assert [t["name"] for t in listed.json()] == ["Water plants"]
        # An id token is not an access token; the API refuses it.
        id_bearer = {"Authorization": f"Bearer {tokens['IdToken']}"}
        assert (await api.get("/api/tasks", headers=id_bearer)).status_code == 401

    # The same token against an API that trusts another issuer is refused.
    other = api_settings(
        tmp_path,
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other",
        discovery["jwks_uri"],
        "city-tasks-web",
    )
    async for api in api_client(other):
        bearer = {"Authorization": f"Bearer {tokens['AccessToken']}"}
        assert (await api.get("/api/tasks", headers=bearer)).status_code == 401


async def test_tasks_api_accepts_tokens_from_moto_when_configured_for_it(tmp_path: Path) -> None:
    with moto_server() as moto_url:
        cognito = moto_client("cognito-idp", moto_url)
        pool = cognito.create_user_pool(PoolName="api", UsernameAttributes=["email"])["UserPool"]
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool["Id"], ClientName="web", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
        )["UserPoolClient"]["ClientId"]
        cognito.admin_create_user(UserPoolId=pool["Id"], Username="m@example.com", MessageAction="SUPPRESS")
        cognito.admin_set_user_password(
            UserPoolId=pool["Id"], Username="m@example.com", Password="Str0ng-Passw0rd!", Permanent=True
        )
        tokens = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "m@example.com", "PASSWORD": "Str0ng-Passw0rd!"},
        )["AuthenticationResult"]
        discovery = await get_json(f"{moto_url}/{pool['Id']}/.well-known/openid-configuration")
        assert discovery["issuer"].startswith("https://cognito-idp.us-east-1.amazonaws.com/")
        settings = api_settings(
            tmp_path, discovery["issuer"], f"{moto_url}/{pool['Id']}/.well-known/jwks.json", client_id
        )
        async for api in api_client(settings):
            bearer = {"Authorization": f"Bearer {tokens['AccessToken']}"}
            created = await api.post("/api/tasks", json=TASK, headers=bearer)
            assert created.status_code == 201, created.text
            assert len((await api.get("/api/tasks", headers=bearer)).json()) == 1
