import stat

import boto3
import pyotp
import pytest
from botocore.stub import ANY, Stubber

from loadtests.locust.auth import TotpLedger
from loadtests.locust.users import PoolCreator, PoolUser, load_pool, pool_index, save_pool

POOL_ID = "us-east-1_LocalPool"
CLIENT_ID = "city-tasks-web"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SESSION = "session-" + "y" * 40


def test_workers_take_disjoint_slices_of_the_pool():
    taken = {pool_index(n, w, worker_count=3, pool_size=30) for w in range(3) for n in range(10)}
    assert taken == set(range(30))
    assert [pool_index(n, 0, 1, 4) for n in range(6)] == [0, 1, 2, 3, 0, 1]  # reused only when too small


def test_pool_index_errors():
    with pytest.raises(ValueError, match="pool is empty"):
        pool_index(0, 0, 1, 0)
    with pytest.raises(ValueError, match="worker index 2"):
        pool_index(0, 2, 2, 10)


def test_pool_file_round_trip_is_private(tmp_path):
    path = tmp_path / "pool" / "local.json"
    users = [PoolUser("a@loadtest.invalid", "pw", SECRET)]
    save_pool(path, users)
    assert load_pool(path) == users
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(FileNotFoundError, match=r"loadtests\.locust\.users create"):
        load_pool(tmp_path / "missing.json")


class FakeClock:
    def __init__(self) -> None:
        self.now = 4_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_creates_a_user_and_sets_up_totp_through_the_cognito_api():
    client = boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    ).client("cognito-idp")
    clock = FakeClock()
    user = "load-0000@loadtest.invalid"
    with Stubber(client) as stub:
        stub.add_client_error("admin_delete_user", "UserNotFoundException", "no such user")
        stub.add_response(
            "admin_create_user",
            {"User": {"Username": user}},
            {
                "UserPoolId": POOL_ID,
                "Username": user,
                "UserAttributes": ANY,
                "MessageAction": "SUPPRESS",
            },
        )
        stub.add_response(
            "admin_set_user_password",
            {},
            {"UserPoolId": POOL_ID, "Username": user, "Password": ANY, "Permanent": True},
        )
        stub.add_response(
            "admin_add_user_to_group", {}, {"UserPoolId": POOL_ID, "Username": user, "GroupName": "Users"}
        )
        stub.add_response(
            "initiate_auth",
            {"ChallengeName": "MFA_SETUP", "Session": SESSION, "ChallengeParameters": {}},
            {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": CLIENT_ID, "AuthParameters": ANY},
        )
        stub.add_response(
            "associate_software_token", {"SecretCode": SECRET, "Session": SESSION}, {"Session": SESSION}
        )
        stub.add_response(
            "verify_software_token",
            {"Status": "SUCCESS", "Session": SESSION},
            {
                "Session": SESSION,
                "UserCode": pyotp.TOTP(SECRET).at(clock.now),
                "FriendlyDeviceName": "loadtest",
            },
        )
        stub.add_response(
            "respond_to_auth_challenge",
            {"AuthenticationResult": {"AccessToken": "a", "ExpiresIn": 3600}},
            {
                "ClientId": CLIENT_ID,
                "ChallengeName": "MFA_SETUP",
                "Session": SESSION,
                "ChallengeResponses": {"USERNAME": user},
            },
        )
        ledger = TotpLedger()
        created = PoolCreator(
            client, POOL_ID, CLIENT_ID, ledger=ledger, clock=clock, sleep=clock.sleep
        ).create(user)
        stub.assert_no_pending_responses()
    assert created.username == user
    assert created.totp_secret == SECRET
    assert len(created.password) >= 12
    assert created.totp_last_step == int(clock.now // 30)  # saved in the pool file for the run's ledger
    # The setup spent the current code: a strict login right after must wait for the next step.
    code = ledger.next_code(user, SECRET, clock=clock, sleep=clock.sleep, drift=0)
    assert code == pyotp.TOTP(SECRET).at(clock.now)
    assert clock.now > 4_000_000.0


def test_a_pool_without_mfa_is_a_clear_error():
    client = boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    ).client("cognito-idp")
    with Stubber(client) as stub:
        stub.add_response("admin_delete_user", {})
        stub.add_response("admin_create_user", {"User": {"Username": "u"}})
        stub.add_response("admin_set_user_password", {})
        stub.add_response("initiate_auth", {"AuthenticationResult": {"AccessToken": "a"}})
        creator = PoolCreator(client, POOL_ID, CLIENT_ID, group=None)
        with pytest.raises(RuntimeError, match="MFA required"):
            creator.create("u@loadtest.invalid")
