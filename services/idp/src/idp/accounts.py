"""What a user does for themself: sign-up and confirmation, forgotten and changed passwords, attributes,
MFA preference, sign-out, token revocation and deletion. Codes go to the local outbox (outbox.py)."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from idp.errors import CognitoError, code_mismatch, invalid_parameter, not_authorized
from idp.passwords import check_policy
from idp.store import AuthCode, RefreshToken, SessionRecord, User, digest

if TYPE_CHECKING:
    from idp.pool import UserPool

log = logging.getLogger("idp")

FORGOT_CODE_SECONDS = 3600  # Cognito's forgot-password codes live an hour
VERIFY_CODE_SECONDS = 24 * 3600
MAX_CODE_ATTEMPTS = 5
WRITABLE_ATTRIBUTES = ("email", "name")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def delivery(email: str) -> dict[str, str]:
    """Cognito's CodeDeliveryDetails: where a code went, the address masked."""
    local, _, domain = email.partition("@")
    masked = f"{local[:1]}***@{domain[:1]}***"
    return {"Destination": masked, "DeliveryMedium": "EMAIL", "AttributeName": "email"}


def expired_code() -> CognitoError:
    return CognitoError("ExpiredCodeException", "Invalid code provided, please request a code again.")


def parse_attributes(
    raw: list[dict[str, str]], allowed: tuple[str, ...] = ("email", "name", "email_verified")
) -> dict[str, str]:
    out = {item["Name"]: item.get("Value", "") for item in raw}
    unknown = set(out) - set(allowed)
    if unknown:
        raise invalid_parameter(
            f"Attributes did not conform to the schema: {', '.join(sorted(unknown))}: "
            "Attribute does not exist in the schema or cannot be written."
        )
    if "name" in out and len(out["name"]) > 2048:
        raise invalid_parameter("name must be at most 2048 characters.")
    return out


class Accounts:
    def __init__(self, pool: UserPool) -> None:
        self.pool = pool

    # ------------------------------------------------------------- one-time codes (forgot, verify)
    def _issue_code(self, db: Session, kind: str, user: User, ttl: float) -> str:
        """A fresh code of `kind` for the user, replacing any earlier one (only its digest is kept)."""
        key = f"{kind}:{user.sub}"
        db.execute(delete(SessionRecord).where(SessionRecord.id_digest == digest(key)))
        code = new_code()
        self.pool.new_session(db, kind, user.sub, None, {"code": digest(code), "attempts": 0}, ttl, key)
        return code

    def _use_code(self, db: Session, kind: str, user: User, code: str) -> CognitoError | None:
        """None if `code` is the user's current code of `kind` (it is then spent); otherwise the error,
        to raise after the commit so a wrong attempt is counted."""
        record = self.pool.load_session(db, kind, f"{kind}:{user.sub}")
        if record is None:
            return expired_code()
        if hmac.compare_digest(record.data.get("code", ""), digest(code.strip())):
            db.delete(record)
            return None
        attempts = int(record.data.get("attempts", 0)) + 1
        if attempts >= MAX_CODE_ATTEMPTS:
            db.delete(record)
            return CognitoError(
                "LimitExceededException", "Attempt limit exceeded, please try after some time."
            )
        record.data = {**record.data, "attempts": attempts}
        return code_mismatch("Invalid verification code provided, please try again.")

    # ------------------------------------------------------------- sign-up
    def sign_up(
        self,
        client_id: str,
        username: str,
        password: str,
        attributes: list[dict[str, str]],
        given_hash: str | None = None,
    ) -> dict[str, Any]:
        pool = self.pool
        attrs = parse_attributes(attributes)
        attrs.pop("email_verified", None)  # a user cannot claim a verified address
        if attrs.get("email") and attrs["email"].strip().lower() != username.strip().lower():
            raise invalid_parameter("The email attribute must equal the username.")
        check_policy(password)
        sub = str(uuid.uuid4())
        credentials = pool.credentials(sub, password)
        code = new_code()
        with pool.store.begin() as db:
            client = pool.client(db, client_id)
            pool.check_secret_hash(client, username, given_hash)
            user = pool.new_user(db, sub, username, attrs, "UNCONFIRMED")
            db.flush()
            pool.store_credentials(db, user, credentials)
            user.confirmation_digest = digest(code)
            user.confirmation_expires_at = pool.clock() + pool.settings.confirmation_code_seconds
            email = user.email
        pool.outbox.send(email, "signup", code)
        return {"UserConfirmed": False, "CodeDeliveryDetails": delivery(email), "UserSub": sub}

    def confirm_sign_up(
        self, client_id: str, username: str, code: str, given_hash: str | None = None
    ) -> None:
        pool = self.pool
        with pool.store.begin() as db:
            client = pool.client(db, client_id)
            pool.check_secret_hash(client, username, given_hash)
            user = pool.require_user(db, username, lock=True)
            if user.status != "UNCONFIRMED":
                raise not_authorized(f"User cannot be confirmed. Current status is {user.status}")
            if user.confirmation_expires_at is None or user.confirmation_expires_at < pool.clock():
                raise expired_code()
            if not hmac.compare_digest(user.confirmation_digest or "", digest(code.strip())):
                raise code_mismatch("Invalid verification code provided, please try again.")
            event = self.confirm(db, user, client.client_id, "PostConfirmation_ConfirmSignUp")
        pool.run_post_confirmation(event)

    def confirm(self, db: Session, user: User, client_id: str, source: str) -> dict[str, Any]:
        """Marks the user confirmed; returns the post-confirmation event to run after the commit."""
        user.status = "CONFIRMED"
        user.email_verified = True
        user.confirmation_digest = None
        user.confirmation_expires_at = None
        user.updated_at = self.pool.clock()
        return self.pool.trigger_event(source, user, client_id)

    def resend_confirmation_code(
        self, client_id: str, username: str, given_hash: str | None = None
    ) -> dict[str, Any]:
        pool = self.pool
        code = new_code()
        with pool.store.begin() as db:
            client = pool.client(db, client_id)
            pool.check_secret_hash(client, username, given_hash)
            user = pool.require_user(db, username, lock=True)
            if user.status != "UNCONFIRMED":
                raise invalid_parameter("User is already confirmed.")
            user.confirmation_digest = digest(code)
            user.confirmation_expires_at = pool.clock() + pool.settings.confirmation_code_seconds
            email = user.email
        pool.outbox.send(email, "signup", code)
        return {"CodeDeliveryDetails": delivery(email)}

    # ------------------------------------------------------------- forgotten password
    def forgot_password(self, client_id: str, username: str, given_hash: str | None = None) -> dict[str, Any]:
        pool = self.pool
        with pool.store.begin() as db:
            client = pool.client(db, client_id)
            pool.check_secret_hash(client, username, given_hash)
            user = pool.require_user(db, username, lock=True)
            if not user.enabled:
                raise not_authorized("User is disabled.")
            if not user.email_verified:
                raise invalid_parameter(
                    "Cannot reset password for the user as there is no registered/verified email or "
                    "phone_number"
                )
            code, email = self.start_reset(db, user), user.email
        pool.outbox.send(email, "forgot_password", code)
        return {"CodeDeliveryDetails": delivery(email)}

    def start_reset(self, db: Session, user: User) -> str:
        return self._issue_code(db, "forgot", user, FORGOT_CODE_SECONDS)

    def confirm_forgot_password(
        self, client_id: str, username: str, code: str, password: str, given_hash: str | None = None
    ) -> None:
        pool = self.pool
        check_policy(password)
        with pool.store.read() as db:
            sub = pool.require_user(db, username).sub
        credentials = pool.credentials(sub, password)
        with pool.store.begin() as db:
            client = pool.client(db, client_id)
            pool.check_secret_hash(client, username, given_hash)
            user = pool.require_user(db, username, lock=True)
            if user.sub != sub:
                raise expired_code()
            error = self._use_code(db, "forgot", user, code)
            if error is None:
                pool.store_credentials(db, user, credentials)
                if user.status in ("RESET_REQUIRED", "FORCE_CHANGE_PASSWORD"):
                    user.status = "CONFIRMED"
        if error is not None:
            raise error

    # ------------------------------------------------------------- signed-in user
    def get_user(self, access_token: str) -> dict[str, Any]:
        with self.pool.store.begin() as db:
            user = self.pool.user_from_access_token(db, access_token)
            return {
                "Username": user.sub,
                "UserAttributes": self.pool.attributes(user),
                **self.pool.mfa_fields(user),
            }

    def change_password(self, access_token: str, previous: str, proposed: str) -> None:
        pool = self.pool
        check_policy(proposed)
        with pool.store.begin() as db:
            user = pool.user_from_access_token(db, access_token)
            sub, stored = user.sub, user.password_hash
            if user.locked_until > pool.clock():
                raise CognitoError(
                    "LimitExceededException", "Attempt limit exceeded, please try after some time."
                )
        if not pool.passwords.verify(stored, previous):
            with pool.store.begin() as db:
                pool.signin.record_attempt(db, sub, False)
            raise not_authorized()
        credentials = pool.credentials(sub, proposed)
        with pool.store.begin() as db:
            user = pool.user_from_access_token(db, access_token)
            pool.store_credentials(db, user, credentials)

    def update_user_attributes(self, access_token: str, attributes: list[dict[str, str]]) -> dict[str, Any]:
        with self.pool.store.begin() as db:
            user = self.pool.user_from_access_token(db, access_token)
            sent = self.apply_attributes(
                db, user, parse_attributes(attributes, WRITABLE_ATTRIBUTES), admin=False
            )
        if sent is None:
            return {}
        self.pool.outbox.send(sent[0], "verify_attribute", sent[1])
        return {"CodeDeliveryDetailsList": [delivery(sent[0])]}

    def apply_attributes(
        self, db: Session, user: User, attrs: dict[str, str], admin: bool
    ) -> tuple[str, str] | None:
        """Writes attributes; a new e-mail becomes unverified and gets a code unless an admin marks it
        verified. Returns (address, code) to deliver, if any."""
        pool = self.pool
        if "name" in attrs:
            if not attrs["name"].strip():
                raise invalid_parameter(
                    "Attributes did not conform to the schema: name: The attribute name is required"
                )
            user.name = attrs["name"].strip()
        deliver = None
        if "email" in attrs:
            email = attrs["email"].strip().lower()
            if not EMAIL_RE.match(email):
                raise invalid_parameter("Invalid email address format.")
            if pool.email_taken(db, email, user.sub):
                raise CognitoError("AliasExistsException", "An account with the given email already exists.")
            if email != user.email:
                user.email = email
                user.email_verified = False
                if not (admin and attrs.get("email_verified", "").lower() == "true"):
                    deliver = (email, self._issue_code(db, "verify", user, VERIFY_CODE_SECONDS))
        if admin and "email_verified" in attrs:
            user.email_verified = attrs["email_verified"].lower() == "true"
        user.updated_at = pool.clock()
        return deliver

    def get_user_attribute_verification_code(self, access_token: str, attribute: str) -> dict[str, Any]:
        if attribute != "email":
            raise invalid_parameter("Only the email attribute can be verified in this pool.")
        with self.pool.store.begin() as db:
            user = self.pool.user_from_access_token(db, access_token)
            code, email = self._issue_code(db, "verify", user, VERIFY_CODE_SECONDS), user.email
        self.pool.outbox.send(email, "verify_attribute", code)
        return {"CodeDeliveryDetails": delivery(email)}

    def verify_user_attribute(self, access_token: str, attribute: str, code: str) -> None:
        if attribute != "email":
            raise invalid_parameter("Only the email attribute can be verified in this pool.")
        with self.pool.store.begin() as db:
            user = self.pool.user_from_access_token(db, access_token)
            error = self._use_code(db, "verify", user, code)
            if error is None:
                user.email_verified = True
                user.updated_at = self.pool.clock()
        if error is not None:
            raise error

    def set_user_mfa_preference(
        self, user: User, software_token: dict[str, Any] | None, sms: dict[str, Any] | None
    ) -> None:
        if sms and sms.get("Enabled"):
            raise invalid_parameter("User does not have delivery config set to turn on SMS_MFA")
        if not software_token or "Enabled" not in software_token:
            return
        if software_token["Enabled"]:
            if not user.totp_secret:
                raise invalid_parameter("User has not verified software token mfa")
            user.mfa_disabled = None
        else:
            if self.pool.mfa_configuration == "ON":
                raise invalid_parameter(
                    "MFA is required in this user pool: the software token cannot be turned off."
                )
            user.mfa_disabled = True
        user.updated_at = self.pool.clock()

    def set_own_mfa_preference(
        self, access_token: str, software_token: dict[str, Any] | None, sms: dict[str, Any] | None
    ) -> None:
        with self.pool.store.begin() as db:
            user = self.pool.user_from_access_token(db, access_token)
            self.set_user_mfa_preference(user, software_token, sms)

    def global_sign_out(self, access_token: str) -> None:
        with self.pool.store.begin() as db:
            user = self.pool.user_from_access_token(db, access_token)
            self.pool.sign_out_user(db, user.sub)

    def delete_user(self, access_token: str) -> None:
        with self.pool.store.begin() as db:
            user = self.pool.user_from_access_token(db, access_token)
            self.remove(db, user)

    def remove(self, db: Session, user: User) -> None:
        sub = user.sub
        db.execute(delete(RefreshToken).where(RefreshToken.sub == sub))
        db.execute(delete(SessionRecord).where(SessionRecord.sub == sub))
        db.execute(delete(AuthCode).where(AuthCode.sub == sub))
        db.delete(user)

    def revoke_token(self, client_id: str, token: str, client_secret: str | None) -> None:
        """RevokeToken: a refresh token and the access tokens issued from it; access tokens are refused."""
        pool = self.pool
        client = pool.cached_client(client_id)
        if client.secret is not None and (
            client_secret is None or not hmac.compare_digest(client_secret, client.secret)
        ):
            raise not_authorized("Client authentication failed.")
        if token.count(".") == 2:
            raise CognitoError("UnsupportedTokenTypeException", "Only refresh tokens can be revoked.")
        with pool.store.begin() as db:
            db.execute(
                update(RefreshToken)
                .where(RefreshToken.token_digest == digest(token), RefreshToken.client_id == client.client_id)
                .values(revoked=True)
            )
