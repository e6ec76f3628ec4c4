"""Password hashing (Argon2id), the pool's password policy, and the failed-login throttle."""

from __future__ import annotations

import string
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from idp.errors import CognitoError


class Passwords:
    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        # Verifying against this when the user does not exist keeps the response time of unknown users close
        # to that of known ones.
        self._dummy = self._hasher.hash("not-a-real-password")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False


# The deployed pool's policy (infra/src/infra/stacks/idp.py; a test keeps the two equal), not Cognito's
# default of 8: a password the local IdP accepts must also be accepted in AWS.
MIN_PASSWORD_LENGTH = 12


def check_policy(password: str) -> None:
    """The pool's policy: 12+ characters with upper and lower case letters, digits, symbols."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must have length greater than or equal to {MIN_PASSWORD_LENGTH}")
    if not any(c in string.ascii_uppercase for c in password):
        problems.append("must have uppercase characters")
    if not any(c in string.ascii_lowercase for c in password):
        problems.append("must have lowercase characters")
    if not any(c in string.digits for c in password):
        problems.append("must have numeric characters")
    if not any(c in string.punctuation or c == " " for c in password):
        problems.append("must have symbol characters")
    if len(password) > 256:
        problems.append("must have length less than or equal to 256")
    if problems:
        raise CognitoError(
            "InvalidPasswordException",
            "Password did not conform with policy: Password " + "; ".join(problems),
        )


@dataclass(frozen=True)
class Throttle:
    """Per-user lockout after repeated failures: `max_failures` free misses, then an exponential lock."""

    max_failures: int
    base_seconds: float
    cap_seconds: float = 900.0

    def lock_after(self, failures: int) -> float:
        """Seconds to lock the account once it has `failures` consecutive misses (0 = no lock)."""
        if failures < self.max_failures:
            return 0.0
        return min(self.cap_seconds, self.base_seconds * 2 ** (failures - self.max_failures))
