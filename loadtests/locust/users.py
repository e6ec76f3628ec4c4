"""A pool of pre-created load-test users, so the IdP is not what the load test measures.

``python -m loadtests.locust.users create --count 50 --endpoint-url http://127.0.0.1:9229 --pool-id ...
--client-id ... --out loadtests/.pool/local.json`` creates users through the cognito-idp admin API
(AdminCreateUser, AdminSetUserPassword), signs each in once to set up TOTP MFA (the MFA_SETUP challenge:
AssociateSoftwareToken, VerifySoftwareToken) and writes username, password and TOTP secret to a JSON file
that the locustfile reads. The same command works against a real Cognito user pool (no endpoint URL).
The file holds credentials of throwaway test users; it lives under the git-ignored reports folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from loadtests.locust.auth import LEDGER, TotpLedger, secret_hash


@dataclass(frozen=True)
class PoolUser:
    username: str
    password: str
    totp_secret: str
    # The TOTP step the MFA setup spent, so the load run's first sign-in does not replay it.
    totp_last_step: int | None = None


def pool_index(user_number: int, worker_index: int, worker_count: int, pool_size: int) -> int:
    """Which pool entry the ``user_number``-th simulated user of a worker takes.

    Workers take interleaved slices (worker w gets entries w, w+W, w+2W, ...), so two workers never sign
    in as the same person at once unless there are more simulated users than pool entries.
    """
    if pool_size <= 0:
        raise ValueError("the user pool is empty: create it with `python -m loadtests.locust.users create`")
    if worker_count < 1 or not 0 <= worker_index < worker_count:
        raise ValueError(f"worker index {worker_index} is outside 0..{worker_count - 1}")
    return (worker_index + user_number * worker_count) % pool_size


def load_pool(path: Path) -> list[PoolUser]:
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: create it with `python -m loadtests.locust.users create`"
        )
    return [PoolUser(**entry) for entry in json.loads(path.read_text())["users"]]


def save_pool(path: Path, users: list[PoolUser]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"users": [asdict(u) for u in users]}, indent=1))
    path.chmod(0o600)


def new_password() -> str:
    # Satisfies Cognito's default policy: upper, lower, digit, symbol, length >= 8.
    return f"Lt-{secrets.token_urlsafe(12)}a9Z!"


@dataclass
class PoolCreator:
    """Creates users with MFA already set up, through the cognito-idp admin and auth APIs."""

    client: Any  # boto3 cognito-idp client (admin calls need credentials; the local IdP takes any)
    user_pool_id: str
    client_id: str
    client_secret: str | None = None
    group: str | None = "Users"
    ledger: TotpLedger = LEDGER
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    def create(self, username: str) -> PoolUser:
        password = new_password()
        with contextlib.suppress(self.client.exceptions.UserNotFoundException):
            self.client.admin_delete_user(UserPoolId=self.user_pool_id, Username=username)
        self.client.admin_create_user(
            UserPoolId=self.user_pool_id,
            Username=username,
            UserAttributes=[
                {"Name": "email", "Value": username},
                {"Name": "email_verified", "Value": "true"},
                {"Name": "name", "Value": f"Load {username.split('@', 1)[0]}"},
            ],
            MessageAction="SUPPRESS",
        )
        self.client.admin_set_user_password(
            UserPoolId=self.user_pool_id, Username=username, Password=password, Permanent=True
        )
        if self.group:
            self.client.admin_add_user_to_group(
                UserPoolId=self.user_pool_id, Username=username, GroupName=self.group
            )
        totp_secret = self._set_up_mfa(username, password)
        return PoolUser(username, password, totp_secret, self.ledger.last_step(username))

    def _params(self, username: str, **values: str) -> dict[str, str]:
        if self.client_secret:
            values["SECRET_HASH"] = secret_hash(username, self.client_id, self.client_secret)
        return values

    def _set_up_mfa(self, username: str, password: str) -> str:
        response = self.client.initiate_auth(
            AuthFlow="USER_PASSWORD_AUTH",
            ClientId=self.client_id,
            AuthParameters=self._params(username, USERNAME=username, PASSWORD=password),
        )
        if response.get("ChallengeName") != "MFA_SETUP":
            raise RuntimeError(
                f"expected the MFA_SETUP challenge for new user {username}, got "
                f"{response.get('ChallengeName') or 'tokens'}: is MFA required on the user pool?"
            )
        associated = self.client.associate_software_token(Session=response["Session"])
        secret = associated["SecretCode"]
        # No drift here: Cognito checks the setup code strictly.
        code = self.ledger.next_code(username, secret, clock=self.clock, sleep=self.sleep, drift=0)
        verified = self.client.verify_software_token(
            Session=associated.get("Session", response["Session"]),
            UserCode=code,
            FriendlyDeviceName="loadtest",
        )
        if verified.get("Status") != "SUCCESS":
            raise RuntimeError(f"VerifySoftwareToken for {username} answered {verified.get('Status')}")
        final = self.client.respond_to_auth_challenge(
            ClientId=self.client_id,
            ChallengeName="MFA_SETUP",
            Session=verified.get("Session", associated.get("Session", response["Session"])),
            ChallengeResponses=self._params(username, USERNAME=username),
        )
        if "AuthenticationResult" not in final and final.get("ChallengeName") != "SOFTWARE_TOKEN_MFA":
            raise RuntimeError(f"MFA setup for {username} ended with {final.get('ChallengeName')}")
        return secret

    def create_many(self, count: int, prefix: str = "load") -> list[PoolUser]:
        return [self.create(f"{prefix}-{i:04d}@loadtest.invalid") for i in range(count)]


def cognito_client(endpoint_url: str | None, region: str, profile: str | None = None) -> Any:
    import boto3

    if endpoint_url:
        # The local IdP accepts any SigV4 signature; admin calls still need some credentials to sign with.
        session = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name=region
        )
        return session.client("cognito-idp", endpoint_url=endpoint_url)
    return boto3.session.Session(profile_name=profile, region_name=region).client("cognito-idp")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create a pool of load-test users with TOTP MFA set up.")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create")
    create.add_argument("--count", type=int, default=20)
    create.add_argument("--endpoint-url", help="the local IdP, e.g. http://127.0.0.1:9229; omit for Cognito")
    create.add_argument("--pool-id", required=True, help="user pool id, e.g. us-east-1_LocalPool")
    create.add_argument("--client-id", required=True)
    create.add_argument("--client-secret")
    create.add_argument("--profile", help="AWS profile for a real user pool")
    create.add_argument("--prefix", default="load")
    create.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    region = args.pool_id.split("_", 1)[0]
    creator = PoolCreator(
        cognito_client(args.endpoint_url, region, args.profile),
        args.pool_id,
        args.client_id,
        args.client_secret,
    )
    users = creator.create_many(args.count, args.prefix)
    save_pool(args.out, users)
    print(f"created {len(users)} users with TOTP MFA in {args.pool_id}; pool written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
