"""The sign-in state machine, shared by the cognito-idp API and the hosted UI.

password or SRP proof -> [NEW_PASSWORD_REQUIRED] -> [MFA_SETUP | SOFTWARE_TOKEN_MFA] -> tokens

Every step checks the same things in the same place: the per-user throttle (failed passwords and failed SRP
proofs count alike), disabled users, unconfirmed users, and one limit of wrong MFA codes per sign-in.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from idp import mfa, srp
from idp.errors import (
    CognitoError,
    code_mismatch,
    expired_session,
    invalid_parameter,
    not_authorized,
    user_not_found,
)
from idp.passwords import check_policy
from idp.store import Client, SessionRecord, SrpVerifier, User

if TYPE_CHECKING:
    from idp.pool import Credentials, UserPool

log = logging.getLogger("idp")

# Wrong MFA codes one sign-in may send before it ends and the user starts over with the password; the API
# and the hosted UI count against this one limit.
MAX_MFA_ATTEMPTS = 3
# How far a client's SRP TIMESTAMP may be from the IdP's clock.
MAX_CLOCK_SKEW_SECONDS = 300
ADMIN_FLOWS = ("ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH")


@dataclass
class Challenge:
    name: str
    session: str
    parameters: dict[str, str]

    def as_response(self) -> dict[str, Any]:
        return {"ChallengeName": self.name, "Session": self.session, "ChallengeParameters": self.parameters}


def _flow_allowed(client: Client, flow: str) -> bool:
    allowed = set(client.auth_flows)
    legacy = {"USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH"}
    return f"ALLOW_{flow}" in allowed or legacy.get(flow) in allowed


class SignIn:
    def __init__(self, pool: UserPool) -> None:
        self.pool = pool

    # ------------------------------------------------------------- first factor: password
    def password_login(
        self,
        username: str | None,
        password: str | None,
        client: Client | None = None,
        given_hash: str | None = None,
    ) -> User:
        """Checks a password with the per-user throttle; returns the user or raises Cognito's error."""
        if not username or password is None:
            raise invalid_parameter("USERNAME and PASSWORD are required.")
        pool = self.pool
        with pool.store.begin() as db:
            user = pool.find_user(db, username)
            if client is not None:
                pool.check_secret_hash(client, username, given_hash)
            state = None if user is None else (user.sub, user.password_hash)
            if user is not None:
                self._check_may_try(user)
        if state is None:
            pool.passwords.verify(None, password)  # same cost as a real check
            raise user_not_found()
        sub, stored = state
        ok = pool.passwords.verify(stored, password)  # outside the transaction: Argon2 takes a while
        with pool.store.begin() as db:
            user, error = self.record_attempt(db, sub, ok)
            if ok and db.get(SrpVerifier, sub) is None:
                # A password set before SRP support: the right password is at hand, so SRP works from now on.
                made = srp.make_verifier(pool.srp_pool_name, sub, password)
                db.add(SrpVerifier(sub=sub, salt=made.salt, verifier=made.verifier))
        if error is not None:
            raise error
        return user

    def _check_may_try(self, user: User) -> None:
        if not user.enabled:
            raise not_authorized("User is disabled.")
        if user.locked_until > self.pool.clock():
            raise not_authorized("Password attempts exceeded")

    def record_attempt(self, db: Session, sub: str, ok: bool) -> tuple[User, CognitoError | None]:
        """Counts a first-factor attempt against the throttle; the error (raise it after the commit, so the
        count is kept) is set for a wrong password or proof and for an unconfirmed user."""
        user = db.get(User, sub, with_for_update=True)
        if user is None:
            raise user_not_found()
        if not ok:
            user.failed_logins += 1
            lock = self.pool.throttle.lock_after(user.failed_logins)
            if lock:
                user.locked_until = self.pool.clock() + lock
                log.warning("login throttled for user %s after %d failures", sub, user.failed_logins)
            return user, not_authorized()
        if user.failed_logins:
            user.failed_logins = 0
            user.locked_until = 0.0
        if user.status == "UNCONFIRMED":
            return user, CognitoError("UserNotConfirmedException", "User is not confirmed.")
        if user.status == "RESET_REQUIRED":
            return user, CognitoError(
                "PasswordResetRequiredException", "Password reset required for the user"
            )
        return user, None

    # ------------------------------------------------------------- first factor: SRP
    def start_srp(
        self, client: Client, username: str | None, srp_a: str | None, given_hash: str | None
    ) -> dict[str, Any]:
        if not username or not srp_a:
            raise invalid_parameter("USERNAME and SRP_A are required.")
        try:
            client_public = int(srp_a, 16)
        except ValueError as exc:
            raise invalid_parameter("SRP_A must be a hexadecimal number.") from exc
        if client_public % srp.N == 0:
            raise invalid_parameter("SRP_A is invalid.")
        pool = self.pool
        secret_block = base64.b64encode(secrets.token_bytes(48)).decode()
        with pool.store.begin() as db:
            user = pool.find_user(db, username)
            pool.check_secret_hash(client, username, given_hash)
            if user is None:
                raise user_not_found()
            self._check_may_try(user)
            stored = db.get(SrpVerifier, user.sub)
            if stored is None:
                raise not_authorized(
                    "This user has no SRP verifier yet (its password was set before SRP support): sign in "
                    "once with USER_PASSWORD_AUTH or the hosted UI, or set a new password."
                )
            ephemeral = srp.server_ephemeral(int(stored.verifier, 16))
            data = {
                "challenge": "PASSWORD_VERIFIER",
                "A": srp_a,
                "b": format(ephemeral.secret, "x"),
                "B": format(ephemeral.public, "x"),
            }
            pool.new_session(
                db, "auth", user.sub, client.client_id, data, pool.settings.auth_session_seconds, secret_block
            )
            return {
                "ChallengeName": "PASSWORD_VERIFIER",
                "ChallengeParameters": {
                    "SALT": stored.salt,
                    "SECRET_BLOCK": secret_block,
                    "SRP_B": data["B"],
                    "USERNAME": user.sub,
                    "USER_ID_FOR_SRP": user.sub,
                },
            }

    def _verify_srp(self, db: Session, record: SessionRecord, user: User, responses: dict[str, str]) -> bool:
        try:
            when = srp.parse_timestamp(responses.get("TIMESTAMP"))
        except srp.SrpError as exc:
            raise invalid_parameter(str(exc)) from exc
        if abs(when.timestamp() - self.pool.clock()) > MAX_CLOCK_SKEW_SECONDS:
            raise invalid_parameter("TIMESTAMP is too far from the current time.")
        stored = db.get(SrpVerifier, user.sub)
        if stored is None:
            return False
        ephemeral = srp.ServerEphemeral(int(record.data["b"], 16), int(record.data["B"], 16))
        try:
            key = srp.session_key(int(record.data["A"], 16), ephemeral, int(stored.verifier, 16))
            expected = srp.claim_signature(
                key,
                self.pool.srp_pool_name,
                user.sub,
                responses.get("PASSWORD_CLAIM_SECRET_BLOCK", ""),
                responses.get("TIMESTAMP", ""),
            )
        except srp.SrpError as exc:
            raise invalid_parameter(str(exc)) from exc
        return srp.signature_matches(expected, responses.get("PASSWORD_CLAIM_SIGNATURE"))

    # ------------------------------------------------------------- what comes next
    def next_challenge(self, user: User) -> str | None:
        """The next challenge for a user whose first factor is proven; None means tokens."""
        if user.status == "FORCE_CHANGE_PASSWORD":
            return "NEW_PASSWORD_REQUIRED"
        mode = self.pool.mfa_configuration
        if mode != "OFF" and user.mfa_enabled:
            return "SOFTWARE_TOKEN_MFA"
        if mode == "ON":
            return "MFA_SETUP"
        return None

    def challenge(self, db: Session, user: User, client_id: str, name: str) -> Challenge:
        pool = self.pool
        session = pool.new_session(
            db, "auth", user.sub, client_id, {"challenge": name}, pool.settings.auth_session_seconds
        )
        params: dict[str, str] = {"USER_ID_FOR_SRP": user.sub}
        if name == "MFA_SETUP":
            params["MFAS_CAN_SETUP"] = '["SOFTWARE_TOKEN_MFA"]'
        elif name == "NEW_PASSWORD_REQUIRED":
            params["requiredAttributes"] = "[]"
            params["userAttributes"] = json.dumps(
                {"email": user.email, "name": user.name, "email_verified": str(user.email_verified).lower()}
            )
        return Challenge(name, session, params)

    def _continue(self, db: Session, user: User, client_id: str) -> dict[str, Any] | None:
        """The next challenge as an API response, or None when the user is signed in."""
        name = self.next_challenge(user)
        if name is None:
            return None
        return self.challenge(db, user, client_id, name).as_response()

    def _tokens(self, user_sub: str, client_id: str) -> dict[str, Any]:
        with self.pool.store.read() as db:
            user = db.get(User, user_sub)
            if user is None:
                raise user_not_found()
            subject = self.pool.subject(user)
        result = self.pool.issue(
            subject,
            client_id,
            "aws.cognito.signin.user.admin",
            int(self.pool.clock()),
            "TokenGeneration_Authentication",
        )
        return {"ChallengeParameters": {}, "AuthenticationResult": result}

    def _after_first_factor(self, user: User, client_id: str) -> dict[str, Any]:
        with self.pool.store.begin() as db:
            current = db.get(User, user.sub)
            if current is None:  # deleted while the password was being checked
                raise user_not_found()
            step = self._continue(db, current, client_id)
        return step if step is not None else self._tokens(user.sub, client_id)

    # ------------------------------------------------------------- cognito-idp API entry points
    def initiate_auth(self, client_id: str, flow: str | None, params: dict[str, str]) -> dict[str, Any]:
        client = self.pool.cached_client(client_id)
        if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            if not _flow_allowed(client, "REFRESH_TOKEN_AUTH"):
                raise invalid_parameter("REFRESH_TOKEN_AUTH flow not enabled for this client")
            result = self.pool.refresh(client, params.get("REFRESH_TOKEN"), params.get("SECRET_HASH"))
            return {"ChallengeParameters": {}, "AuthenticationResult": result}
        if flow not in ("USER_PASSWORD_AUTH", "USER_SRP_AUTH"):
            raise invalid_parameter(
                f"Unsupported AuthFlow {flow}: use USER_SRP_AUTH, USER_PASSWORD_AUTH or REFRESH_TOKEN_AUTH."
            )
        if not _flow_allowed(client, flow):
            raise invalid_parameter(f"{flow} flow not enabled for this client")
        if flow == "USER_SRP_AUTH":
            return self.start_srp(
                client, params.get("USERNAME"), params.get("SRP_A"), params.get("SECRET_HASH")
            )
        user = self.password_login(
            params.get("USERNAME"), params.get("PASSWORD"), client, params.get("SECRET_HASH")
        )
        return self._after_first_factor(user, client.client_id)

    def admin_initiate_auth(
        self, pool_id: str, client_id: str, flow: str | None, params: dict[str, str]
    ) -> dict[str, Any]:
        self.pool.check_pool(pool_id)
        if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            return self.initiate_auth(client_id, flow, params)
        if flow not in ADMIN_FLOWS:
            raise invalid_parameter(
                f"Unsupported AuthFlow {flow}: use ADMIN_USER_PASSWORD_AUTH, ADMIN_NO_SRP_AUTH or "
                "REFRESH_TOKEN_AUTH."
            )
        client = self.pool.cached_client(client_id)
        if (
            "ALLOW_ADMIN_USER_PASSWORD_AUTH" not in client.auth_flows
            and "ADMIN_NO_SRP_AUTH" not in client.auth_flows
        ):
            raise invalid_parameter("Auth flow not enabled for this client")
        user = self.password_login(
            params.get("USERNAME"), params.get("PASSWORD"), client, params.get("SECRET_HASH")
        )
        return self._after_first_factor(user, client.client_id)

    def respond_to_auth_challenge(
        self, client_id: str, name: str | None, session: str | None, responses: dict[str, str]
    ) -> dict[str, Any]:
        if name == "PASSWORD_VERIFIER":
            return self._respond_password_verifier(client_id, session, responses)
        new_credentials = None
        if name == "NEW_PASSWORD_REQUIRED":
            new_password = responses.get("NEW_PASSWORD")
            if new_password is None:
                raise invalid_parameter("NEW_PASSWORD is required.")
            check_policy(new_password)
        pool = self.pool
        with pool.store.read() as db:
            record = pool.load_session(db, "auth", session)
            sub = record.sub if record is not None else None
        if name == "NEW_PASSWORD_REQUIRED" and sub is not None:
            new_credentials = pool.credentials(sub, responses["NEW_PASSWORD"])
        error: CognitoError | None = None
        with pool.store.begin() as db:
            client = pool.client(db, client_id)
            record = pool.load_session(db, "auth", session)
            if record is None or record.client_id != client.client_id or record.sub != sub:
                raise expired_session()
            if record.data.get("challenge") != name:
                raise invalid_parameter(f"Expected challenge {record.data.get('challenge')}, got {name}.")
            user = db.get(User, record.sub, with_for_update=True)
            if user is None:
                raise user_not_found()
            if responses.get("USERNAME") not in (user.sub, user.email):
                raise not_authorized("USERNAME does not match the session.")
            if not user.enabled:
                raise not_authorized("User is disabled.")
            if name == "NEW_PASSWORD_REQUIRED":
                assert new_credentials is not None
                self.set_new_password(db, user, new_credentials)
                step = self._continue(db, user, client.client_id)
                if step is not None:
                    db.delete(record)
                    return step
            elif name == "MFA_SETUP":
                if not record.data.get("mfa_verified") or not user.mfa_enabled:
                    raise invalid_parameter(
                        "Software token MFA is not verified yet: call VerifySoftwareToken first."
                    )
            elif name == "SOFTWARE_TOKEN_MFA":
                error = self.answer_totp(db, record, user, responses.get("SOFTWARE_TOKEN_MFA_CODE"))
            else:
                raise invalid_parameter(f"Unsupported ChallengeName {name}.")
            if error is None:
                db.delete(record)
            client_id, sub = client.client_id, user.sub
        if error is not None:
            raise error  # after the commit, so the attempt count and session end are stored
        return self._tokens(sub, client_id)

    def admin_respond_to_auth_challenge(
        self, pool_id: str, client_id: str, name: str | None, session: str | None, responses: dict[str, str]
    ) -> dict[str, Any]:
        self.pool.check_pool(pool_id)
        return self.respond_to_auth_challenge(client_id, name, session, responses)

    def _respond_password_verifier(
        self, client_id: str, session: str | None, responses: dict[str, str]
    ) -> dict[str, Any]:
        pool = self.pool
        block = responses.get("PASSWORD_CLAIM_SECRET_BLOCK")
        if not block or not responses.get("PASSWORD_CLAIM_SIGNATURE"):
            raise invalid_parameter("PASSWORD_CLAIM_SECRET_BLOCK and PASSWORD_CLAIM_SIGNATURE are required.")
        if session is not None and session != block:
            raise expired_session()
        with pool.store.begin() as db:
            client = pool.client(db, client_id)
            record = pool.load_session(db, "auth", block)
            if (
                record is None
                or record.client_id != client.client_id
                or record.data.get("challenge") != "PASSWORD_VERIFIER"
            ):
                raise expired_session()
            user = db.get(User, record.sub)
            if user is None:
                raise user_not_found()
            if responses.get("USERNAME") not in (user.sub, user.email):
                raise not_authorized("USERNAME does not match the session.")
            pool.check_secret_hash(client, responses.get("USERNAME", ""), responses.get("SECRET_HASH"))
            self._check_may_try(user)
            ok = self._verify_srp(db, record, user, responses)
            db.delete(record)  # one proof per challenge, right or wrong
            sub = user.sub
        with pool.store.begin() as db:
            user, error = self.record_attempt(db, sub, ok)
        if error is not None:
            raise error
        return self._after_first_factor(user, client_id)

    # ------------------------------------------------------------- second factor
    def answer_totp(
        self, db: Session, record: SessionRecord, user: User, code: str | None
    ) -> CognitoError | None:
        """Checks a TOTP answer in a sign-in `record` (API session or hosted-UI flow); a wrong one counts
        against MAX_MFA_ATTEMPTS, and the last allowed miss ends the record."""
        outcome = self.check_totp(user, code)
        if outcome is None:
            return None
        attempts = int(record.data.get("attempts", 0)) + 1
        if attempts >= MAX_MFA_ATTEMPTS:
            db.delete(record)  # the user starts over with the password
        else:
            record.data = {**record.data, "attempts": attempts}
        return outcome

    def check_totp(self, user: User, code: str | None) -> CognitoError | None:
        """None when `code` is accepted (and remembered); otherwise the error to report.

        Callers load `user` with a row lock (FOR UPDATE on PostgreSQL; SQLite serializes writers anyway),
        so two concurrent requests cannot both accept the same code."""
        if not user.totp_secret:
            return CognitoError(
                "SoftwareTokenMFANotFoundException", "Software Token MFA has not been enabled by the user."
            )
        result, step = mfa.check(user.totp_secret, code or "", self.pool.clock(), user.totp_last_step)
        if result is mfa.TotpResult.REPLAYED:
            return CognitoError("ExpiredCodeException", "Your software token has already been used once.")
        if result is mfa.TotpResult.INVALID:
            return code_mismatch()
        user.totp_last_step = step
        return None

    def set_new_password(self, db: Session, user: User, credentials: Credentials) -> None:
        """The NEW_PASSWORD_REQUIRED step (API and hosted UI): the chosen password replaces the temporary."""
        self.pool.store_credentials(db, user, credentials)
        user.status = "CONFIRMED"

    def activate_pending_token(self, user: User, code: str | None) -> bool:
        """The MFA_SETUP step (API and hosted UI): a right code from the software token being associated
        makes it the user's; its time step counts as used."""
        if not user.totp_pending_secret:
            return False
        result, step = mfa.check(user.totp_pending_secret, code or "", self.pool.clock(), None)
        if result is not mfa.TotpResult.OK:
            return False
        user.totp_secret, user.totp_pending_secret = user.totp_pending_secret, None
        user.totp_last_step = step
        user.mfa_disabled = None
        user.updated_at = self.pool.clock()
        return True

    def _token_setup_user(
        self, db: Session, access_token: str | None, session: str | None
    ) -> tuple[User, Any]:
        """Whose software token is being set up: the MFA_SETUP sign-in session's user (and that session), or
        the access token's (and None)."""
        if session is None:
            return self.pool.user_from_access_token(db, access_token), None
        record = self.pool.load_session(db, "auth", session)
        if record is None or record.data.get("challenge") != "MFA_SETUP":
            raise expired_session()
        user = db.get(User, record.sub, with_for_update=True)
        if user is None:
            raise user_not_found()
        return user, record

    def associate_software_token(self, access_token: str | None, session: str | None) -> dict[str, Any]:
        secret = mfa.new_secret()
        with self.pool.store.begin() as db:
            user, record = self._token_setup_user(db, access_token, session)
            user.totp_pending_secret = secret
            return {"SecretCode": secret} if record is None else {"SecretCode": secret, "Session": session}

    def verify_software_token(
        self, access_token: str | None, session: str | None, code: str | None
    ) -> dict[str, Any]:
        with self.pool.store.begin() as db:
            user, record = self._token_setup_user(db, access_token, session)
            if not user.totp_pending_secret:
                raise invalid_parameter(
                    "No software token is being associated: call AssociateSoftwareToken first."
                )
            if not self.activate_pending_token(user, code):
                raise CognitoError(
                    "EnableSoftwareTokenMFAException", "Code mismatch and fail enable Software Token MFA"
                )
            if record is not None:
                record.data = {**record.data, "mfa_verified": True}
                return {"Status": "SUCCESS", "Session": session}
            return {"Status": "SUCCESS"}
