"""An access token for the demo user from the running local IdP, for curl and scripts:

    export TOKEN=$(uv run python -m devstack.token)
    curl -H "Authorization: Bearer $TOKEN" http://localhost:8100/api/tasks

It logs in as the browser's client would without the hosted UI: InitiateAuth (USER_PASSWORD_AUTH), then the
SOFTWARE_TOKEN_MFA challenge answered with the code from `idp totp`.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
from botocore.config import Config

from devstack.config import REPO
from devstack.seed import SEED_FILE, read_seed


class LoginError(RuntimeError):
    pass


def current_totp(username: str, idp_database_url: str | None = None) -> str:
    env = dict(os.environ)
    if idp_database_url:
        env["IDP_DATABASE_URL"] = idp_database_url
    result = subprocess.run(  # noqa: S603 - fixed argv
        [str(Path(sys.executable).parent / "idp"), "totp", username],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    codes = re.findall(r"\b\d{6}\b", result.stdout)
    if result.returncode != 0 or not codes:
        raise LoginError(
            f"`idp totp {username}` gave no code: {result.stderr.strip() or result.stdout.strip()}"
        )
    return codes[-1]


def demo_access_token(idp_url: str, idp_database_url: str | None = None) -> str:
    seed = read_seed(SEED_FILE)
    cognito = boto3.client(
        "cognito-idp",
        endpoint_url=idp_url,
        region_name=seed.region,
        aws_access_key_id="local",  # the local IdP does not check request signatures
        aws_secret_access_key="local",  # noqa: S106
        config=Config(retries={"max_attempts": 1}),
    )
    started = cognito.initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=seed.web_client_id,
        AuthParameters={"USERNAME": seed.demo_username, "PASSWORD": seed.demo_password},
    )
    if started.get("ChallengeName") != "SOFTWARE_TOKEN_MFA":
        raise LoginError(f"expected the SOFTWARE_TOKEN_MFA challenge, got {started.get('ChallengeName')}")
    answered = cognito.respond_to_auth_challenge(
        ClientId=seed.web_client_id,
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=started["Session"],
        ChallengeResponses={
            "USERNAME": seed.demo_username,
            "SOFTWARE_TOKEN_MFA_CODE": current_totp(seed.demo_username, idp_database_url),
        },
    )
    return answered["AuthenticationResult"]["AccessToken"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.token", description=__doc__.split("\n\n")[0])
    parser.add_argument("--idp-url", default=f"http://127.0.0.1:{os.environ.get('IDP_PORT', '9229')}")
    args = parser.parse_args(argv)
    try:
        print(demo_access_token(args.idp_url))
    except Exception as exc:  # LoginError and botocore's errors alike: one clear line, no traceback
        print(f"devstack.token: cannot log in at {args.idp_url}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
