"""city-login with botocore's Stubber standing in for sso-oidc and sso (moto has neither)."""

from __future__ import annotations

import hashlib
import io
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.credentials import JSONFileCache, ProcessProvider
from botocore.stub import ANY, Stubber
from botocore.utils import SSOTokenLoader
from city_org.login import DEVICE_GRANT, LoginContext, run
from city_org.sso_cache import parse_time

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
START_URL = "https://city-tasks.awsapps.com/start"
CONFIG = f"""[default]
region = us-east-1

[profile dev]
sso_session = city
sso_account_id = 111122223333
sso_role_name = provisioners
region = us-east-2

[profile legacy]
sso_start_url = {START_URL}
sso_region = us-east-1
sso_account_id = 111122223333
sso_role_name = provisioners

[sso-session city]
sso_start_url = {START_URL}
sso_region = us-east-1
sso_registration_scopes = sso:account:access
"""
EXISTING_CREDENTIALS = """# keys managed by hand
[default]
aws_access_key_id = AKIADEFAULT
aws_secret_access_key = default-secret

[dev]
region = eu-west-1
aws_access_key_id = OLD
aws_secret_access_key = old-secret
aws_security_token = stale

[other]
aws_access_key_id = AKIAOTHER ; keep me
aws_secret_access_key = other-secret
"""
ROLE_CREDENTIALS = {
    "roleCredentials": {
        "accessKeyId": "ASIANEW",
        "secretAccessKey": "new-secret",
        "sessionToken": "new-session-token",
        "expiration": int((START + timedelta(hours=8)).timestamp() * 1000),
    }
}


class FakeClock:
    def __init__(self) -> None:
        self.moment = START
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.moment

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.moment += timedelta(seconds=seconds)


class Harness:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.clock = FakeClock()
        config = Config(signature_version=UNSIGNED)
        self.oidc = boto3.client("sso-oidc", region_name="us-east-1", config=config)
        self.sso = boto3.client("sso", region_name="us-east-1", config=config)
        self.oidc_stub = Stubber(self.oidc)
        self.sso_stub = Stubber(self.sso)
        self.opened: list[str] = []
        (home / ".aws").mkdir()
        self.config_path.write_text(CONFIG)
        self.out, self.err = io.StringIO(), io.StringIO()

    @property
    def config_path(self) -> Path:
        return self.home / ".aws" / "config"

    @property
    def credentials_path(self) -> Path:
        return self.home / ".aws" / "credentials"

    @property
    def cache_dir(self) -> Path:
        return self.home / ".aws" / "sso" / "cache"

    def cache_path(self, key: str) -> Path:
        return self.cache_dir / f"{hashlib.sha1(key.encode()).hexdigest()}.json"  # noqa: S324 (the CLI's name)

    def write_cache(self, key: str, **fields: Any) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        data = {"startUrl": START_URL, "region": "us-east-1", **fields}
        self.cache_path(key).write_text(json.dumps(data))

    def context(self) -> LoginContext:
        clients = {"sso-oidc": self.oidc, "sso": self.sso}

        def opener(url: str) -> bool:
            self.opened.append(url)
            return True

        return LoginContext(
            config_path=self.config_path,
            credentials_path=self.credentials_path,
            cache_dir=self.cache_dir,
            now=self.clock.now,
            sleep=self.clock.sleep,
            open_browser=opener,
            client=lambda service, region: clients[service],
            out=self.out,
            err=self.err,
        )

    def run(self, *argv: str) -> int:
        with self.oidc_stub, self.sso_stub:
            code = run(list(argv), self.context())
            self.oidc_stub.assert_no_pending_responses()
            self.sso_stub.assert_no_pending_responses()
        return code

    def expect_registration(self) -> None:
        self.oidc_stub.add_response(
            "register_client",
            {
                "clientId": "client-1",
                "clientSecret": "client-secret-1",
                "clientSecretExpiresAt": int((START + timedelta(days=90)).timestamp()),
            },
            {"clientName": "city-login", "clientType": "public", "scopes": ["sso:account:access"]},
        )
        self.oidc_stub.add_response(
            "start_device_authorization",
            {
                "deviceCode": "device-code",
                "userCode": "ABCD-EFGH",
                "verificationUri": "https://device.sso.us-east-1.amazonaws.com/",
                "verificationUriComplete": "https://device.sso.us-east-1.amazonaws.com/?user_code=ABCD-EFGH",
                "expiresIn": 600,
                "interval": 5,
            },
            {"clientId": "client-1", "clientSecret": "client-secret-1", "startUrl": START_URL},
        )

    def expect_poll_error(self, code: str) -> None:
        self.oidc_stub.add_client_error("create_token", service_error_code=code, http_status_code=400)

    def expect_token(self, token: str = "access-token-2", **params: Any) -> None:  # noqa: S107
        expected = params or {
            "grantType": DEVICE_GRANT,
            "deviceCode": "device-code",
            "clientId": "client-1",
            "clientSecret": "client-secret-1",
        }
        self.oidc_stub.add_response(
            "create_token",
            {"accessToken": token, "tokenType": "Bearer", "expiresIn": 28800, "refreshToken": "refresh-2"},
            expected,
        )

    def expect_role_credentials(self, token: str) -> None:
        self.sso_stub.add_response(
            "get_role_credentials",
            ROLE_CREDENTIALS,
            {"roleName": "provisioners", "accountId": "111122223333", "accessToken": token},
        )


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def valid_cache(harness: Harness, key: str = "city") -> None:
    harness.write_cache(key, accessToken="cached-token", expiresAt="2026-01-15T18:00:00Z")


def test_a_valid_cached_token_is_reused_and_the_credentials_file_is_merged(harness: Harness) -> None:
    valid_cache(harness)
    harness.credentials_path.write_text(EXISTING_CREDENTIALS)
    harness.expect_role_credentials("cached-token")

    assert harness.run("dev") == 0

    text = harness.credentials_path.read_text()
    # every other section is byte-for-byte what it was, comments included
    assert text.startswith("# keys managed by hand\n[default]\naws_access_key_id = AKIADEFAULT\n")
    assert text.endswith(
        "[other]\naws_access_key_id = AKIAOTHER ; keep me\naws_secret_access_key = other-secret\n"
    )
    assert (
        "[dev]\nregion = eu-west-1\naws_access_key_id = ASIANEW\naws_secret_access_key = new-secret\n"
        "aws_session_token = new-session-token\n\n[other]"
    ) in text
    assert "stale" not in text
    assert stat.S_IMODE(harness.credentials_path.stat().st_mode) == 0o600
    assert "expire at 2026-01-15T20:00:00Z" in harness.err.getvalue()
    assert harness.opened == []


def test_a_new_credentials_file_is_created_private(harness: Harness) -> None:
    valid_cache(harness)
    harness.expect_role_credentials("cached-token")
    assert harness.run("dev", "--target-profile", "city-dev") == 0
    assert harness.credentials_path.read_text() == (
        "[city-dev]\naws_access_key_id = ASIANEW\naws_secret_access_key = new-secret\n"
        "aws_session_token = new-session-token\n"
    )
    assert stat.S_IMODE(harness.credentials_path.stat().st_mode) == 0o600


def test_an_expired_token_runs_the_device_flow_honouring_pending_and_slow_down(harness: Harness) -> None:
    harness.write_cache("city", accessToken="old", expiresAt="2026-01-15T11:00:00Z")
    harness.expect_registration()
    harness.expect_poll_error("AuthorizationPendingException")
    harness.expect_poll_error("SlowDownException")
    harness.expect_poll_error("AuthorizationPendingException")
    harness.expect_token()
    harness.expect_role_credentials("access-token-2")

    assert harness.run("dev") == 0

    # the interval is waited before each poll, and slow_down adds five seconds from then on
    assert harness.clock.sleeps == [5, 5, 10, 10]
    assert harness.opened == ["https://device.sso.us-east-1.amazonaws.com/?user_code=ABCD-EFGH"]
    assert "ABCD-EFGH" in harness.err.getvalue()
    cache = json.loads(harness.cache_path("city").read_text())
    assert cache["accessToken"] == "access-token-2"
    assert cache["refreshToken"] == "refresh-2"
    assert cache["clientId"] == "client-1"
    assert cache["startUrl"] == START_URL
    # the CLI's timestamp format, eight hours after the token arrived (30 s of polling)
    assert cache["expiresAt"] == "2026-01-15T20:00:30Z"
    assert parse_time(cache["registrationExpiresAt"]) == START + timedelta(days=90)
    assert stat.S_IMODE(harness.cache_path("city").stat().st_mode) == 0o600
    assert "ASIANEW" in harness.credentials_path.read_text()


def test_an_expired_device_code_stops_with_a_message_and_writes_no_keys(harness: Harness) -> None:
    harness.expect_registration()
    harness.expect_poll_error("AuthorizationPendingException")
    harness.expect_poll_error("ExpiredTokenException")

    assert harness.run("dev") == 1

    assert harness.err.getvalue().endswith(
        "city-login: the sign-in code expired before it was approved; run city-login again\n"
    )
    assert not harness.credentials_path.exists()
    # the client registration is kept for the next attempt, but no token
    cache = json.loads(harness.cache_path("city").read_text())
    assert cache["clientId"] == "client-1"
    assert "accessToken" not in cache


def test_access_denied_in_the_browser_is_reported(harness: Harness) -> None:
    harness.expect_registration()
    harness.expect_poll_error("AccessDeniedException")
    assert harness.run("dev") == 1
    assert (
        "city-login: the sign-in request was denied in the browser; nothing was written"
        in harness.err.getvalue()
    )
    assert "Traceback" not in harness.err.getvalue()
    assert not harness.credentials_path.exists()


def test_polling_stops_when_the_code_lifetime_runs_out(harness: Harness) -> None:
    harness.expect_registration()
    for _ in range(120):  # 600 s at 5 s a poll
        harness.expect_poll_error("AuthorizationPendingException")
    assert harness.run("dev") == 1
    assert sum(harness.clock.sleeps) == 600
    assert "expired before it was approved" in harness.err.getvalue()


def test_a_refresh_token_avoids_signing_in_again(harness: Harness) -> None:
    harness.write_cache(
        "city",
        accessToken="old",
        expiresAt="2026-01-15T11:00:00Z",
        refreshToken="refresh-1",
        clientId="client-1",
        clientSecret="client-secret-1",
        registrationExpiresAt="2026-03-01T00:00:00Z",
    )
    harness.expect_token(
        "refreshed",
        grantType="refresh_token",
        clientId="client-1",
        clientSecret="client-secret-1",
        refreshToken="refresh-1",
    )
    harness.expect_role_credentials("refreshed")
    assert harness.run("dev") == 0
    assert harness.opened == []
    assert json.loads(harness.cache_path("city").read_text())["accessToken"] == "refreshed"


def test_a_revoked_cached_token_triggers_one_new_sign_in(harness: Harness) -> None:
    valid_cache(harness)
    harness.sso_stub.add_client_error("get_role_credentials", "UnauthorizedException", http_status_code=401)
    harness.expect_registration()
    harness.expect_token()
    harness.expect_role_credentials("access-token-2")
    assert harness.run("dev") == 0
    assert harness.clock.sleeps == [5]


def test_a_role_the_user_is_not_assigned_is_refused_clearly(harness: Harness) -> None:
    valid_cache(harness)
    harness.sso_stub.add_client_error("get_role_credentials", "ForbiddenException", http_status_code=403)
    assert harness.run("dev") == 1
    assert harness.err.getvalue() == (
        "city-login: Identity Center refused role provisioners in account 111122223333: "
        "ask an administrator for an assignment (city-org assignments)\n"
    )


def test_credential_process_prints_sdk_json_and_writes_no_key_file(harness: Harness) -> None:
    valid_cache(harness)
    harness.expect_role_credentials("cached-token")
    assert harness.run("dev", "--credential-process") == 0
    assert json.loads(harness.out.getvalue()) == {
        "Version": 1,
        "AccessKeyId": "ASIANEW",
        "SecretAccessKey": "new-secret",
        "SessionToken": "new-session-token",
        "Expiration": "2026-01-15T20:00:00Z",
    }
    assert not harness.credentials_path.exists()


def test_a_legacy_profile_caches_under_the_start_url(harness: Harness) -> None:
    valid_cache(harness, key=START_URL)
    harness.expect_role_credentials("cached-token")
    assert harness.run("legacy") == 0
    assert "[legacy]" in harness.credentials_path.read_text()


def test_populate_writes_a_profile_per_account_and_role(harness: Harness) -> None:
    valid_cache(harness)
    # two pages of accounts: the paginator must follow nextToken
    harness.sso_stub.add_response(
        "list_accounts",
        {
            "accountList": [
                {"accountId": "111122223333", "accountName": "workloads-dev", "emailAddress": "a@example.com"}
            ],
            "nextToken": "page-2",
        },
        {"accessToken": "cached-token"},
    )
    harness.sso_stub.add_response(
        "list_account_roles",
        {"roleList": [{"roleName": "provisioners", "accountId": "111122223333"}, {"roleName": "ReadOnly"}]},
        {"accessToken": "cached-token", "accountId": "111122223333"},
    )
    harness.sso_stub.add_response(
        "list_accounts",
        {
            "accountList": [
                {
                    "accountId": "444455556666",
                    "accountName": "Deployments Prod",
                    "emailAddress": "b@example.com",
                }
            ]
        },
        {"accessToken": "cached-token", "nextToken": "page-2"},
    )
    harness.sso_stub.add_response(
        "list_account_roles",
        {"roleList": [{"roleName": "provisioners", "accountId": "444455556666"}]},
        {"accessToken": "cached-token", "accountId": "444455556666"},
    )
    assert harness.run("dev", "--populate") == 0

    text = harness.config_path.read_text()
    assert text.startswith(CONFIG)  # what was there stays as it was
    assert (
        "[profile deployments-prod-provisioners]\nsso_account_id = 444455556666\n"
        "sso_role_name = provisioners\nregion = us-east-2\nsso_session = city\n"
    ) in text
    assert "[profile workloads-dev-readonly]" in text
    assert "[profile workloads-dev-provisioners]" in text
    assert "Wrote 3 profile(s)" in harness.err.getvalue()
    assert not harness.credentials_path.exists()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[profile other]\nregion = us-east-1\n", "no [profile dev] section"),
        ("[profile dev]\nsso_session = gone\n", "there is no [sso-session gone] section"),
        ("[profile dev]\nsso_account_id = 1\n", "[profile dev] lacks sso_start_url, sso_region"),
    ],
)
def test_a_broken_profile_is_explained(harness: Harness, config: str, message: str) -> None:
    harness.config_path.write_text(config)
    assert harness.run("dev") == 1
    assert message in harness.err.getvalue()


def test_stubber_parameters_are_checked(harness: Harness) -> None:
    """Guard for the harness itself: a wrong account id must not pass silently."""
    valid_cache(harness)
    harness.sso_stub.add_response(
        "get_role_credentials",
        ROLE_CREDENTIALS,
        {"roleName": "provisioners", "accountId": "999", "accessToken": ANY},
    )
    with harness.oidc_stub, harness.sso_stub:
        assert run(["dev"], harness.context()) == 1
    assert "Expected parameters" in harness.err.getvalue()
    assert not harness.credentials_path.exists()


def test_botocore_reads_the_cache_we_write(harness: Harness) -> None:
    harness.expect_registration()
    harness.expect_token()
    harness.expect_role_credentials("access-token-2")
    assert harness.run("dev") == 0
    loader = SSOTokenLoader(cache=JSONFileCache(str(harness.cache_dir)))
    token = loader(START_URL, session_name="city")
    assert token["accessToken"] == "access-token-2"
    assert token["clientSecret"] == "client-secret-1"


def test_botocore_accepts_the_credential_process_output(harness: Harness) -> None:
    valid_cache(harness)
    # botocore checks expiry against the real clock, so these keys must outlive the test
    fresh = {
        **ROLE_CREDENTIALS["roleCredentials"],
        "expiration": int((datetime.now(UTC) + timedelta(hours=1)).timestamp() * 1000),
    }
    harness.sso_stub.add_response("get_role_credentials", {"roleCredentials": fresh})
    assert harness.run("dev", "--credential-process") == 0
    printed = harness.out.getvalue().encode()

    class FinishedProcess:
        returncode = 0

        def communicate(self) -> tuple[bytes, bytes]:
            return printed, b""

    provider = ProcessProvider(
        "city-dev",
        load_config=lambda: {
            "profiles": {"city-dev": {"credential_process": "city-login dev --credential-process"}}
        },
        popen=lambda *_args, **_kwargs: FinishedProcess(),
    )
    credentials = provider.load()
    assert credentials is not None
    frozen = credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        "ASIANEW",
        "new-secret",
        "new-session-token",
    )
