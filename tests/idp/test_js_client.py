"""amazon-cognito-identity-js 6.x from Node (the library Amplify and the original app signed in with):
its default SRP sign-in, the TOTP challenge, a refresh, and a wrong password refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import jwt
import pyotp
import pytest

from tests.frontend.support import ensure_node_modules
from tests.idp.support import CLIENT, PASSWORD, POOL, RunningIdp, setup_mfa, sign_up_and_confirm

HARNESS = Path(__file__).parent / "js"


def run_harness(payload: dict) -> list[dict]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (Node 20 is needed for the JS client test)")
    ensure_node_modules(HARNESS)
    done = subprocess.run(
        [node, "srp_sign_in.mjs"],
        cwd=HARNESS,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_amazon_cognito_identity_js_signs_in_with_srp_and_totp(idp: RunningIdp) -> None:
    email = f"js-{uuid.uuid4().hex[:10]}@example.com"
    sub = sign_up_and_confirm(idp, email)
    secret, _ = setup_mfa(idp, email)

    steps = run_harness(
        {
            "endpoint": idp.url,
            "poolId": POOL,
            "clientId": CLIENT,
            "username": email,
            "password": PASSWORD,
            "totpCode": pyotp.TOTP(secret).at(time.time() + 30),
            "wrongPassword": "Wrong-Passw0rd!",
        }
    )
    by_step = {s["step"]: s for s in steps}
    assert [s["step"] for s in steps] == ["totpRequired", "signedIn", "refreshed", "wrongPasswordRefused"], (
        steps
    )
    assert by_step["totpRequired"]["challengeName"] == "SOFTWARE_TOKEN_MFA"
    assert by_step["signedIn"]["flow"] == "USER_SRP_AUTH"

    signed_in = by_step["signedIn"]
    jwks = jwt.PyJWKClient(f"{idp.url}/{POOL}/.well-known/jwks.json")
    for token, use in ((signed_in["accessToken"], "access"), (signed_in["idToken"], "id")):
        claims = jwt.decode(
            token,
            jwks.get_signing_key_from_jwt(token).key,
            algorithms=["RS256"],
            issuer=idp.pool.issuer,
            options={"verify_aud": False},
        )
        assert claims["sub"] == sub
        assert claims["token_use"] == use
    refreshed = by_step["refreshed"]["accessToken"]
    assert refreshed != signed_in["accessToken"]
    assert idp.cognito().get_user(AccessToken=refreshed)["Username"] == sub

    refused = by_step["wrongPasswordRefused"]
    assert refused["code"] == "NotAuthorizedException"
    assert refused["message"] == "Incorrect username or password."
