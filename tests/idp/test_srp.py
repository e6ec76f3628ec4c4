"""USER_SRP_AUTH verified for real, with pycognito (PyPI) as the independent client; the protocol's edges."""

from __future__ import annotations

import random
import time
import uuid

import pyotp
import pytest
from botocore.exceptions import ClientError
from idp import srp
from idp.store import SrpVerifier
from pycognito import Cognito
from pycognito.aws_srp import AWSSRP
from pycognito.exceptions import SoftwareTokenMFAChallengeException
from sqlalchemy import delete

from tests.idp.support import CLIENT, PASSWORD, POOL, RunningIdp, setup_mfa, sign_up_and_confirm


def _email() -> str:
    return f"srp-{uuid.uuid4().hex[:10]}@example.com"


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def pycognito_user(idp: RunningIdp, email: str, client_id: str = CLIENT) -> Cognito:
    return Cognito(
        POOL,
        client_id,
        username=email,
        boto3_client_kwargs={
            "endpoint_url": idp.url,
            "aws_access_key_id": "x",
            "aws_secret_access_key": "x",
        },
    )


def _probably_prime(n: int, rounds: int = 8) -> bool:
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    rng = random.Random(3072)
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def test_the_group_is_rfc_3526s_3072_bit_safe_prime() -> None:
    assert srp.N.bit_length() == 3072
    # RFC 3526: the top and bottom 64 bits are all ones, and N = 2q + 1 with q prime.
    assert srp.N >> (3072 - 64) == 2**64 - 1
    assert srp.N & (2**64 - 1) == 2**64 - 1
    assert _probably_prime(srp.N)
    assert _probably_prime((srp.N - 1) // 2)


def test_signed_bytes_and_timestamps() -> None:
    assert srp.signed_bytes(0x7F) == b"\x7f"
    assert srp.signed_bytes(0x80) == b"\x00\x80"  # never read back as negative
    assert srp.signed_bytes(0x1234) == b"\x12\x34"
    stamp = "Tue Dec 3 18:41:10 UTC 2024"
    assert srp.format_timestamp(srp.parse_timestamp(stamp)) == stamp
    for bad in ("Tue Dec 03 18:41:10 UTC 2024", "Wed Dec 3 18:41:10 UTC 2024", "Tue Dec 3 18:41:10 GMT 2024"):
        with pytest.raises(srp.SrpError, match="EEE MMM d HH:mm:ss z yyyy"):
            srp.parse_timestamp(bad)


def test_pycognito_srp_sign_in_with_totp_and_a_wrong_password(idp: RunningIdp) -> None:
    email = _email()
    sub = sign_up_and_confirm(idp, email)
    secret, _ = setup_mfa(idp, email)  # the password given at sign-up set the SRP verifier too

    user = pycognito_user(idp, email)
    with pytest.raises(SoftwareTokenMFAChallengeException):
        user.authenticate(password=PASSWORD)
    # pycognito checks the tokens itself: signature against the JWKS, issuer, audience, token_use.
    user.respond_to_software_token_mfa_challenge(pyotp.TOTP(secret).at(time.time() + 30))
    assert user.access_claims["sub"] == sub
    assert user.id_claims["email"] == email
    user.verify_token(user.id_token, "id_token", "id")
    assert user.get_user().email == email

    stranger = pycognito_user(idp, email)
    with pytest.raises(ClientError) as wrong:
        stranger.authenticate(password="Wrong-Passw0rd!")
    assert _code(wrong) == "NotAuthorizedException"
    assert wrong.value.response["Error"]["Message"] == "Incorrect username or password."


def _srp_challenge(idp: RunningIdp, email: str, password: str = PASSWORD) -> tuple[AWSSRP, dict, dict]:
    helper = AWSSRP(username=email, password=password, pool_id=POOL, client_id=CLIENT, client=idp.cognito())
    params = helper.get_auth_params()
    challenge = idp.cognito().initiate_auth(ClientId=CLIENT, AuthFlow="USER_SRP_AUTH", AuthParameters=params)
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    assert set(challenge["ChallengeParameters"]) >= {"SRP_B", "SALT", "SECRET_BLOCK", "USER_ID_FOR_SRP"}
    return helper, params, challenge


def _answer(idp: RunningIdp, responses: dict) -> dict:
    return idp.cognito().respond_to_auth_challenge(
        ClientId=CLIENT, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses
    )


def test_srp_proofs_are_checked(idp: RunningIdp) -> None:
    email = _email()
    sign_up_and_confirm(idp, email)

    helper, params, challenge = _srp_challenge(idp, email)
    proof = helper.process_challenge(challenge["ChallengeParameters"], params)
    forged = {**proof, "PASSWORD_CLAIM_SIGNATURE": proof["PASSWORD_CLAIM_SIGNATURE"][::-1]}
    with pytest.raises(ClientError) as bad_signature:
        _answer(idp, forged)
    assert _code(bad_signature) == "NotAuthorizedException"
    with pytest.raises(ClientError) as replay:  # one proof per challenge: the secret block is spent
        _answer(idp, proof)
    assert _code(replay) == "NotAuthorizedException"

    helper, params, challenge = _srp_challenge(idp, email)
    proof = helper.process_challenge(challenge["ChallengeParameters"], params)
    with pytest.raises(ClientError) as bad_time:
        _answer(idp, {**proof, "TIMESTAMP": "2024-12-03T18:41:10Z"})
    assert _code(bad_time) == "InvalidParameterException"
    assert "EEE MMM d HH:mm:ss z yyyy" in bad_time.value.response["Error"]["Message"]

    # The right proof: the first login of this user goes on to MFA_SETUP, as after a password.
    helper, params, challenge = _srp_challenge(idp, email)
    assert (
        _answer(idp, helper.process_challenge(challenge["ChallengeParameters"], params))["ChallengeName"]
        == "MFA_SETUP"
    )


def test_srp_refusals(idp: RunningIdp) -> None:
    cognito = idp.cognito()
    with pytest.raises(ClientError) as zero:
        cognito.initiate_auth(
            ClientId=CLIENT,
            AuthFlow="USER_SRP_AUTH",
            AuthParameters={"USERNAME": "demo@example.com", "SRP_A": format(srp.N, "x")},
        )
    assert _code(zero) == "InvalidParameterException"
    with pytest.raises(ClientError) as unknown:
        cognito.initiate_auth(
            ClientId=CLIENT, AuthFlow="USER_SRP_AUTH", AuthParameters={"USERNAME": _email(), "SRP_A": "ab"}
        )
    assert _code(unknown) == "UserNotFoundException"
    with pytest.raises(ClientError) as not_enabled:  # the load-test client allows refresh tokens only
        cognito.initiate_auth(
            ClientId="city-tasks-loadtest",
            AuthFlow="USER_SRP_AUTH",
            AuthParameters={"USERNAME": "demo@example.com", "SRP_A": "ab"},
        )
    assert _code(not_enabled) == "InvalidParameterException"

    # An unconfirmed user with the right password: the proof is checked first, then the state.
    email = _email()
    cognito.sign_up(
        ClientId=CLIENT,
        Username=email,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "name", "Value": "Una"}],
    )
    helper, params, challenge = _srp_challenge(idp, email)
    with pytest.raises(ClientError) as unconfirmed:
        _answer(idp, helper.process_challenge(challenge["ChallengeParameters"], params))
    assert _code(unconfirmed) == "UserNotConfirmedException"


def test_wrong_srp_proofs_count_toward_the_lockout(idp: RunningIdp) -> None:
    email = _email()
    sign_up_and_confirm(idp, email)
    for _ in range(idp.settings.max_failed_logins):
        with pytest.raises(ClientError):
            pycognito_user(idp, email).authenticate(password="Wrong-Passw0rd!")
    with pytest.raises(ClientError) as locked:
        pycognito_user(idp, email).authenticate(password=PASSWORD)
    assert _code(locked) == "NotAuthorizedException"
    assert "attempts exceeded" in locked.value.response["Error"]["Message"]


def test_the_demo_user_signs_in_with_srp(idp: RunningIdp) -> None:
    """Seeded users get a verifier too (and one is added to a database from before SRP support)."""
    user = pycognito_user(idp, "demo@example.com")
    with pytest.raises(SoftwareTokenMFAChallengeException):
        user.authenticate(password="Demo-Passw0rd!")


def test_a_password_from_before_srp_gets_its_verifier_at_the_next_password_sign_in(idp: RunningIdp) -> None:
    email = _email()
    sub = sign_up_and_confirm(idp, email)
    with idp.pool.store.begin() as db:  # as in a database from before SRP support
        db.execute(delete(SrpVerifier).where(SrpVerifier.sub == sub))
    with pytest.raises(ClientError) as missing:
        pycognito_user(idp, email).authenticate(password=PASSWORD)
    assert _code(missing) == "NotAuthorizedException"
    assert "USER_PASSWORD_AUTH" in missing.value.response["Error"]["Message"]
    idp.cognito().initiate_auth(
        ClientId=CLIENT,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    helper, params, challenge = _srp_challenge(idp, email)
    assert (
        _answer(idp, helper.process_challenge(challenge["ChallengeParameters"], params))["ChallengeName"]
        == "MFA_SETUP"
    )
