"""The pure pieces: TOTP window and replay rule, the lockout schedule, the password policy."""

from __future__ import annotations

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from idp import mfa
from idp.errors import CognitoError
from idp.passwords import Passwords, Throttle, check_policy

SECRET = mfa.new_secret()
NOW = st.integers(min_value=10**9, max_value=4 * 10**9)


@given(now=NOW, offset=st.integers(min_value=-1, max_value=1))
def test_codes_within_one_step_are_accepted_with_their_step(now: int, offset: int) -> None:
    code = pyotp.TOTP(SECRET).at(now + 30 * offset)
    result, step = mfa.check(SECRET, code, now, None)
    assert result is mfa.TotpResult.OK
    assert step == now // 30 + offset


@given(now=NOW, offset=st.sampled_from([-3, -2, 2, 3]))
def test_codes_two_or_more_steps_away_are_refused(now: int, offset: int) -> None:
    code = pyotp.TOTP(SECRET).at(now + 30 * offset)
    accepted = {pyotp.TOTP(SECRET).at(now + 30 * d) for d in (-1, 0, 1)}
    if code not in accepted:  # a six-digit collision with a valid neighbour is possible, and then fine
        assert mfa.check(SECRET, code, now, None)[0] is mfa.TotpResult.INVALID


@given(now=NOW, used=st.integers(min_value=-1, max_value=1), again=st.integers(min_value=-1, max_value=1))
def test_no_step_at_or_before_the_last_used_one_is_accepted(now: int, used: int, again: int) -> None:
    _, last = mfa.check(SECRET, pyotp.TOTP(SECRET).at(now + 30 * used), now, None)
    result, _ = mfa.check(SECRET, pyotp.TOTP(SECRET).at(now + 30 * again), now, last)
    expected = mfa.TotpResult.OK if again > used else mfa.TotpResult.REPLAYED
    if pyotp.TOTP(SECRET).at(now + 30 * again) == pyotp.TOTP(SECRET).at(now + 30 * used) and again != used:
        return  # two steps with the same digits: the first match wins, nothing to assert
    assert result is expected


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", " 12 34 "])
def test_malformed_codes_are_invalid(code: str) -> None:
    assert mfa.check(SECRET, code, 1_700_000_000, None)[0] is mfa.TotpResult.INVALID


def test_provisioning_uri_carries_secret_and_issuer() -> None:
    uri = mfa.provisioning_uri(SECRET, "ann@example.com", "city-tasks")
    assert uri.startswith("otpauth://totp/city-tasks:ann%40example.com?")
    assert f"secret={SECRET}" in uri


@given(failures=st.integers(min_value=0, max_value=200))
def test_lockout_grows_and_is_capped(failures: int) -> None:
    throttle = Throttle(max_failures=5, base_seconds=2)
    lock = throttle.lock_after(failures)
    if failures < 5:
        assert lock == 0
    else:
        assert 2 <= lock <= 900
        assert throttle.lock_after(failures + 1) >= lock


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Sh0rt!", "length"),
        ("Elev3n-char", "length"),  # 11: the deployed pool's minimum is 12
        ("alllower1!", "uppercase"),
        ("ALLUPPER1!", "lowercase"),
        ("NoDigits!!", "numeric"),
        ("NoSymbols11", "symbol"),
    ],
)
def test_password_policy_names_what_is_missing(password: str, problem: str) -> None:
    with pytest.raises(CognitoError) as exc:
        check_policy(password)
    assert exc.value.kind == "InvalidPasswordException"
    assert problem in exc.value.message


def test_twelve_characters_of_every_class_pass() -> None:
    check_policy("Twelve-char5")


def test_argon2_hash_verifies_only_the_right_password() -> None:
    passwords = Passwords(time_cost=1, memory_kib=8192, parallelism=1)
    stored = passwords.hash("Str0ng-Passw0rd!")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "Str0ng-Passw0rd!")
    assert not passwords.verify(stored, "Str0ng-Passw0rd?")
    assert not passwords.verify(None, "Str0ng-Passw0rd!")
    assert not passwords.verify("not a hash", "x")
