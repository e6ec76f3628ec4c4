"""`city-login PROFILE`: IAM Identity Center sign-in without the AWS CLI, writing keys safely.

Reads the profile's SSO settings, reuses (or refreshes) the cached token or runs the device authorization
flow, then fetches role credentials and either writes them to the credentials file (mode 0600) or prints
them for `credential_process`. `--populate` adds a config profile for every account and role the person
can reach.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from city_org.aws import paginate
from city_org.inifile import upsert_section, write_private
from city_org.messages import botocore_error_message
from city_org.sso_cache import CachedToken, cache_file, format_time, load_token, save_token
from city_org.sso_config import LoginError, SsoProfile, load_sso_profile

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5  # seconds added to the polling interval on slow_down (RFC 8628 section 3.5)

ClientFactory = Callable[[str, str], Any]


def _default_client(service: str, region: str) -> Any:
    # SSO and SSO-OIDC calls are unsigned bearer-token calls; no credentials are needed to make them.
    return boto3.session.Session().client(
        service, region_name=region, config=Config(retries={"mode": "standard"}, signature_version=UNSIGNED)
    )


def _default_open(url: str) -> bool:
    # On a Linux box without a display, webbrowser would start a text browser in this terminal; just print.
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    try:
        return webbrowser.open(url, new=2)
    except webbrowser.Error:
        return False


@dataclass
class LoginContext:
    """Everything that touches the machine, so tests can point it elsewhere and stop the clock."""

    config_path: Path = field(default_factory=lambda: Path.home() / ".aws" / "config")
    credentials_path: Path = field(default_factory=lambda: Path.home() / ".aws" / "credentials")
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".aws" / "sso" / "cache")
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep
    open_browser: Callable[[str], bool] = _default_open
    client: ClientFactory = _default_client
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    client_name: str = "city-login"


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


# -- token ----------
def _register(oidc: Any, profile: SsoProfile, cached: CachedToken, ctx: LoginContext) -> None:
    if cached.registration_valid(ctx.now()):
        return
    params: dict[str, Any] = {"clientName": ctx.client_name, "clientType": "public"}
    if profile.scopes:
        params["scopes"] = list(profile.scopes)
    registered = oidc.register_client(**params)
    cached.client_id = registered["clientId"]
    cached.client_secret = registered["clientSecret"]
    cached.registration_expires_at = datetime.fromtimestamp(registered["clientSecretExpiresAt"], UTC)


def _store_token(cached: CachedToken, answer: dict[str, Any], ctx: LoginContext) -> CachedToken:
    cached.access_token = answer["accessToken"]
    cached.expires_at = ctx.now() + timedelta(seconds=int(answer.get("expiresIn", 3600)))
    cached.refresh_token = answer.get("refreshToken") or cached.refresh_token
    return cached


def _refresh(oidc: Any, cached: CachedToken, ctx: LoginContext) -> bool:
    if not (cached.refresh_token and cached.registration_valid(ctx.now())):
        return False
    try:
        answer = oidc.create_token(
            grantType="refresh_token",
            clientId=cached.client_id,
            clientSecret=cached.client_secret,
            refreshToken=cached.refresh_token,
        )
    except ClientError:
        cached.refresh_token = None  # a refused refresh token is dead; fall back to signing in
        return False
    _store_token(cached, answer, ctx)
    return True


def device_authorization(
    oidc: Any, profile: SsoProfile, cached: CachedToken, ctx: LoginContext
) -> CachedToken:
    """Run RFC 8628's device flow: show the code, then poll CreateToken at the pace the server asks for."""
    _register(oidc, profile, cached, ctx)
    started = oidc.start_device_authorization(
        clientId=cached.client_id, clientSecret=cached.client_secret, startUrl=profile.start_url
    )
    url = started.get("verificationUriComplete") or started["verificationUri"]
    print(f"Sign in at {started['verificationUri']} and confirm the code {started['userCode']}", file=ctx.err)
    if ctx.open_browser(url):
        print("A browser window was opened; approve the request there.", file=ctx.err)
    else:
        print(f"Open this address in a browser: {url}", file=ctx.err)
    interval = float(started.get("interval") or 5)
    deadline = ctx.now() + timedelta(seconds=int(started.get("expiresIn", 600)))
    while True:
        if ctx.now() >= deadline:
            raise LoginError("the sign-in code expired before it was approved; run city-login again")
        ctx.sleep(interval)
        try:
            answer = oidc.create_token(
                grantType=DEVICE_GRANT,
                deviceCode=started["deviceCode"],
                clientId=cached.client_id,
                clientSecret=cached.client_secret,
            )
        except ClientError as error:
            code = _error_code(error)
            if code == "AuthorizationPendingException":
                continue
            if code == "SlowDownException":
                interval += SLOW_DOWN_STEP
                continue
            if code == "ExpiredTokenException":
                raise LoginError(
                    "the sign-in code expired before it was approved; run city-login again"
                ) from None
            if code == "AccessDeniedException":
                raise LoginError(
                    "the sign-in request was denied in the browser; nothing was written"
                ) from None
            if code in {"InvalidClientException", "UnauthorizedClientException"}:
                cached.client_id = cached.client_secret = (
                    None  # registration is stale; next run registers anew
                )
                raise LoginError("the client registration was rejected; run city-login again") from None
            raise
        return _store_token(cached, answer, ctx)


def obtain_token(profile: SsoProfile, ctx: LoginContext, *, force: bool = False) -> str:
    """A valid access token: from the cache, by refresh, or by signing in; the cache is updated on disk."""
    path = cache_file(ctx.cache_dir, profile.cache_key)
    cached = load_token(path)
    if cached is None or cached.start_url != profile.start_url:
        cached = CachedToken(start_url=profile.start_url, region=profile.sso_region)
    if not force and cached.token_valid(ctx.now()):
        assert cached.access_token is not None
        return cached.access_token
    oidc = ctx.client("sso-oidc", profile.sso_region)
    try:
        if force or not _refresh(oidc, cached, ctx):
            device_authorization(oidc, profile, cached, ctx)
    finally:
        # keep the client registration even when sign-in fails, as the AWS CLI does
        if cached.client_id or cached.access_token:
            save_token(path, cached)
    assert cached.access_token is not None
    return cached.access_token


# -- credentials ----------
def role_credentials(profile: SsoProfile, ctx: LoginContext) -> dict[str, Any]:
    if not (profile.account_id and profile.role_name):
        raise LoginError(
            f"profile {profile.profile} needs sso_account_id and sso_role_name in {ctx.config_path}"
        )
    sso = ctx.client("sso", profile.sso_region)
    for attempt in (1, 2):
        token = obtain_token(profile, ctx, force=attempt == 2)
        try:
            return sso.get_role_credentials(
                roleName=profile.role_name, accountId=profile.account_id, accessToken=token
            )["roleCredentials"]
        except ClientError as error:
            code = _error_code(error)
            if code == "UnauthorizedException" and attempt == 1:
                continue  # the cached token was revoked or signed out: sign in once more
            if code in {"ForbiddenException", "AccessDeniedException", "UnauthorizedException"}:
                raise LoginError(
                    f"Identity Center refused role {profile.role_name} in account {profile.account_id}: "
                    "ask an administrator for an assignment (city-org assignments)"
                ) from None
            if code == "ResourceNotFoundException":
                raise LoginError(
                    f"role {profile.role_name} does not exist in account {profile.account_id}; "
                    "check the profile"
                ) from None
            raise
    raise AssertionError("unreachable")


def credential_process_json(credentials: dict[str, Any]) -> str:
    """The document the AWS SDKs expect from a `credential_process` command."""
    expiration = datetime.fromtimestamp(credentials["expiration"] / 1000, UTC)
    return json.dumps(
        {
            "Version": 1,
            "AccessKeyId": credentials["accessKeyId"],
            "SecretAccessKey": credentials["secretAccessKey"],
            "SessionToken": credentials["sessionToken"],
            "Expiration": format_time(expiration),
        }
    )


def write_credentials(path: Path, profile: str, credentials: dict[str, Any]) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    updated = upsert_section(
        text,
        profile,
        {
            "aws_access_key_id": credentials["accessKeyId"],
            "aws_secret_access_key": credentials["secretAccessKey"],
            "aws_session_token": credentials["sessionToken"],
            "aws_security_token": None,  # an old alias some tools wrote; stale ones would shadow the new keys
        },
    )
    write_private(path, updated)


def _profile_name(account_name: str, role: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", f"{account_name}-{role}".lower()).strip("-")


def populate(profile: SsoProfile, ctx: LoginContext) -> list[str]:
    """Add or update `[profile <account>-<role>]` for every account and role the token can reach."""
    token = obtain_token(profile, ctx)
    sso = ctx.client("sso", profile.sso_region)
    text = ctx.config_path.read_text(encoding="utf-8")
    written: list[str] = []
    for account in paginate(sso, "list_accounts", "accountList", accessToken=token):
        for role in paginate(
            sso, "list_account_roles", "roleList", accessToken=token, accountId=account["accountId"]
        ):
            name = _profile_name(account.get("accountName") or account["accountId"], role["roleName"])
            values: dict[str, str | None] = {
                "sso_account_id": account["accountId"],
                "sso_role_name": role["roleName"],
                "region": profile.region or profile.sso_region,
            }
            if profile.session_name:
                values["sso_session"] = profile.session_name
            else:
                values.update({"sso_start_url": profile.start_url, "sso_region": profile.sso_region})
            if name == profile.profile:
                continue  # never overwrite the profile used to sign in
            if name in written:
                name = f"{name}-{account['accountId']}"
            text = upsert_section(text, f"profile {name}", values)
            written.append(name)
    write_private(ctx.config_path, text)
    return written


# -- command line ----------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="city-login", description=__doc__)
    parser.add_argument("profile", help="a profile in ~/.aws/config with sso_session or sso_start_url")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--credential-process", action="store_true", help="print SDK JSON; write no key file")
    how.add_argument("--populate", action="store_true", help="write a config profile per account and role")
    parser.add_argument("--target-profile", help="credentials section to write (default: PROFILE)")
    parser.add_argument("--no-browser", action="store_true", help="only print the sign-in address")
    return parser


def run(argv: Sequence[str] | None = None, ctx: LoginContext | None = None) -> int:
    ctx = ctx or LoginContext()
    args = _parser().parse_args(argv)
    if args.no_browser:
        ctx.open_browser = lambda _url: False
    try:
        profile = load_sso_profile(ctx.config_path, args.profile)
        if args.populate:
            names = populate(profile, ctx)
            print(
                f"Wrote {len(names)} profile(s) to {ctx.config_path}: {', '.join(names) or '-'}", file=ctx.err
            )
            return 0
        credentials = role_credentials(profile, ctx)
        if args.credential_process:
            print(credential_process_json(credentials), file=ctx.out)
            return 0
        target = args.target_profile or args.profile
        write_credentials(ctx.credentials_path, target, credentials)
        expires = format_time(datetime.fromtimestamp(credentials["expiration"] / 1000, UTC))
        print(
            f"Credentials for [{target}] written to {ctx.credentials_path}; they expire at {expires}.",
            file=ctx.err,
        )
        return 0
    except LoginError as error:
        print(f"city-login: {error}", file=ctx.err)
        return 1
    except ClientError as error:
        info = error.response.get("Error", {})
        print(
            f"city-login: {error.operation_name} failed: {info.get('Code')}: {info.get('Message')}",
            file=ctx.err,
        )
        return 1
    except BotoCoreError as error:
        print(f"city-login: {botocore_error_message(error)}", file=ctx.err)
        return 1
    except KeyboardInterrupt:
        print("city-login: interrupted; nothing more was written", file=ctx.err)
        return 130


def main() -> None:
    sys.exit(run())
