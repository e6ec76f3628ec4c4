import boto3
import pyotp
import pytest
from botocore.stub import Stubber

from loadtests.locust.auth import (
    CognitoLogin,
    LoginError,
    Token,
    TotpLedger,
    client_credentials_token,
    renew_at,
    secret_hash,
    totp_step,
)

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
CLIENT_ID = "city-tasks-web"
SESSION = "session-" + "x" * 40  # Cognito sessions are at least 20 characters


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_tokens_are_renewed_before_they_expire():
    # An hour-long Cognito token: renewed 6 minutes early (10 %).
    assert renew_at(1000, 3600) == 1000 + 3240
    # A 5-minute token: at least a minute early.
    assert renew_at(0, 300) == 240
    # A very short token is not renewed on every call: never before half its life.
    assert renew_at(0, 60) == 30
    token = Token("a", 3600, obtained_at=1000)
    assert not token.needs_renewal(1000 + 3239)
    assert token.needs_renewal(1000 + 3240)
    # An app that refreshes on a timer renews sooner.
    assert not token.needs_renewal(1000 + 299, max_age_s=300)
    assert token.needs_renewal(1000 + 300, max_age_s=300)


def test_totp_step_never_replays_and_uses_the_skew_window():
    assert totp_step(None, 65.0) == (2, 0.0)
    assert totp_step(1, 65.0) == (2, 0.0)  # step 2 is current, step 1 was spent
    assert totp_step(2, 65.0) == (3, 0.0)  # step 2 spent: the next step's code is within one step of skew
    step, wait = totp_step(3, 65.0)  # steps 2 and 3 spent: wait until step 3 is current (4 is then in skew)
    assert step is None
    assert wait == pytest.approx(25.0)
    step, wait = totp_step(2, 65.0, drift=0)  # a strict IdP: wait for step 3 at 90 s
    assert step is None
    assert wait == pytest.approx(25.0)


def test_the_ledger_never_hands_out_the_same_code_twice():
    clock = FakeClock(1_000_000.0)
    ledger = TotpLedger()
    first = ledger.next_code("ana@example.com", SECRET, clock=clock, sleep=clock.sleep, drift=0)
    second = ledger.next_code("ana@example.com", SECRET, clock=clock, sleep=clock.sleep, drift=0)
    assert first == pyotp.TOTP(SECRET).at(1_000_000.0)
    assert second == pyotp.TOTP(SECRET).at(1_000_020.0)  # the next 30 s step, after a wait
    assert clock.slept
    assert 20 <= clock.slept[0] <= 21
    # With one step of skew allowed, the next code comes at once.
    third = ledger.next_code("ana@example.com", SECRET, clock=clock, sleep=clock.sleep)
    assert third == pyotp.TOTP(SECRET).at(1_000_050.0)
    assert len(clock.slept) == 1
    # Another user is not held up.
    ledger.next_code("bob@example.com", SECRET, clock=clock, sleep=clock.sleep, drift=0)
    assert len(clock.slept) == 1


def test_secret_hash_is_cognitos_formula():
    import base64
    import hashlib
    import hmac

    expected = base64.b64encode(
        hmac.new(b"s3cret", b"ana@example.comclient", hashlib.sha256).digest()
    ).decode()
    assert secret_hash("ana@example.com", "client", "s3cret") == expected


def cognito():
    return boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    ).client("cognito-idp")


def auth_result(access="access-1", refresh="refresh-1", expires=3600):
    result = {"AccessToken": access, "ExpiresIn": expires, "TokenType": "Bearer", "IdToken": "id"}
    if refresh:
        result["RefreshToken"] = refresh
    return {"AuthenticationResult": result}


def test_login_answers_the_totp_challenge():
    client, clock = cognito(), FakeClock(2_000_000.0)
    with Stubber(client) as stub:
        stub.add_response(
            "initiate_auth",
            {"ChallengeName": "SOFTWARE_TOKEN_MFA", "Session": SESSION, "ChallengeParameters": {}},
            {
                "AuthFlow": "USER_PASSWORD_AUTH",
                "ClientId": CLIENT_ID,
                "AuthParameters": {"USERNAME": "ana@example.com", "PASSWORD": "pw"},
            },
        )
        stub.add_response(
            "respond_to_auth_challenge",
            auth_result(),
            {
                "ClientId": CLIENT_ID,
                "ChallengeName": "SOFTWARE_TOKEN_MFA",
                "Session": SESSION,
                "ChallengeResponses": {
                    "USERNAME": "ana@example.com",
                    "SOFTWARE_TOKEN_MFA_CODE": pyotp.TOTP(SECRET).at(2_000_000.0),
                },
            },
        )
        token = CognitoLogin(client, CLIENT_ID, ledger=TotpLedger(), clock=clock, sleep=clock.sleep).login(
            "ana@example.com", "pw", SECRET
        )
        stub.assert_no_pending_responses()
    assert token == Token("access-1", 3600.0, 2_000_000.0, "refresh-1")


def test_a_replayed_code_is_retried_on_the_next_step():
    client, clock = cognito(), FakeClock(3_000_000.0)
    ledger = TotpLedger()
    challenge = {"ChallengeName": "SOFTWARE_TOKEN_MFA", "Session": SESSION, "ChallengeParameters": {}}
    with Stubber(client) as stub:
        stub.add_response("initiate_auth", challenge)
        stub.add_client_error("respond_to_auth_challenge", "CodeMismatchException", "code used")
        stub.add_response("initiate_auth", challenge)
        stub.add_response("respond_to_auth_challenge", auth_result())
        login = CognitoLogin(client, CLIENT_ID, ledger=ledger, clock=clock, sleep=clock.sleep)
        token = login.login("ana@example.com", "pw", SECRET)
        stub.assert_no_pending_responses()
    assert token.access_token == "access-1"
    assert login.drift == 0  # the IdP refused a code: no more answering ahead of the clock
    assert clock.now >= 3_000_010.0  # it waited for a fresh current step


def test_login_gives_up_with_a_clear_error():
    client = cognito()
    with Stubber(client) as stub:
        stub.add_response(
            "initiate_auth", {"ChallengeName": "MFA_SETUP", "Session": SESSION, "ChallengeParameters": {}}
        )
        with pytest.raises(LoginError, match="MFA_SETUP challenge"):
            CognitoLogin(client, CLIENT_ID, ledger=TotpLedger()).login("new@example.com", "pw", SECRET)


def test_refresh_keeps_the_refresh_token_and_sends_the_secret_hash():
    client, clock = cognito(), FakeClock(5000.0)
    with Stubber(client) as stub:
        stub.add_response(
            "initiate_auth",
            auth_result(access="access-2", refresh=None),
            {
                "AuthFlow": "REFRESH_TOKEN_AUTH",
                "ClientId": CLIENT_ID,
                "AuthParameters": {
                    "REFRESH_TOKEN": "refresh-1",
                    "SECRET_HASH": secret_hash("ana@example.com", CLIENT_ID, "sh"),
                },
            },
        )
        login = CognitoLogin(client, CLIENT_ID, client_secret="sh", clock=clock)
        renewed = login.refresh(Token("access-1", 3600, 0, "refresh-1"), "ana@example.com")
    assert renewed == Token("access-2", 3600.0, 5000.0, "refresh-1")
    with pytest.raises(LoginError, match="no refresh token"):
        login.refresh(Token("a", 60, 0), "ana@example.com")


class FakeResponse:
    def __init__(self, status: int, body: dict) -> None:
        self.status_code, self._body = status, body

    def json(self) -> dict:
        return self._body


class RecordingSession:
    def __init__(self, response: FakeResponse) -> None:
        self.response, self.calls = response, []

    def post(self, url, **kwargs):
        self.calls.append((url, kwargs))
        return self.response


def test_client_credentials_grant():
    session = RecordingSession(FakeResponse(200, {"access_token": "m2m", "expires_in": 900}))
    token = client_credentials_token(
        session, "http://127.0.0.1:9229/oauth2/token", "machine", "secret", "tasks/read", clock=lambda: 10.0
    )
    assert token == Token("m2m", 900.0, 10.0)
    url, kwargs = session.calls[0]
    assert kwargs["data"] == {"grant_type": "client_credentials", "scope": "tasks/read"}
    assert kwargs["auth"] == ("machine", "secret")
    with pytest.raises(LoginError, match="HTTP 401"):
        client_credentials_token(RecordingSession(FakeResponse(401, {})), url, "machine", "bad")


def test_a_clock_that_stands_still_is_an_error_not_a_hang():
    ledger = TotpLedger()
    ledger.next_code("ana@example.com", SECRET, clock=lambda: 100.0, sleep=lambda _: None, drift=0)
    with pytest.raises(LoginError, match="no fresh TOTP step"):
        ledger.next_code("ana@example.com", SECRET, clock=lambda: 100.0, sleep=lambda _: None, drift=0)
