"""The user pool: every identity operation, shared by the cognito-idp API and the hosted UI.

No web framework here: callers pass plain values and get plain values or a `CognitoError`/`OAuthFailure`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from idp import mfa
from idp.errors import (
    CognitoError,
    code_mismatch,
    expired_session,
    invalid_parameter,
    not_authorized,
    user_not_found,
)
from idp.keys import KeyRing
from idp.passwords import Passwords, Throttle, check_policy
from idp.settings import Settings
from idp.store import (
    AuthCode,
    Client,
    Group,
    Membership,
    RefreshToken,
    SessionRecord,
    Store,
    User,
    digest,
)
from idp.tokens import Subject, TokenIssuer
from idp.triggers import post_confirmation, pre_token_generation

log = logging.getLogger("idp")

ADMIN_SCOPE = "aws.cognito.signin.user.admin"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_MFA_ATTEMPTS = 3
CLIENT_CACHE_SECONDS = 30.0

Trigger = Callable[..., dict[str, Any]]


_REFRESH_LOOKUP = (
    select(
        RefreshToken.client_id,
        RefreshToken.revoked,
        RefreshToken.expires_at,
        RefreshToken.scope,
        RefreshToken.auth_time,
        RefreshToken.origin_jti,
        User.sub,
        User.email,
        User.name,
        User.email_verified,
        User.enabled,
    )
    .join(User, User.sub == RefreshToken.sub, isouter=True)
    .where(RefreshToken.token_digest == bindparam("digest"))
)
_GROUPS_OF = select(Membership.group).where(Membership.sub == bindparam("sub"))


class OAuthFailure(Exception):
    """An OAuth 2.0 error (RFC 6749 section 5.2) for the token and authorize endpoints."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass
class Challenge:
    name: str
    session: str
    parameters: dict[str, str]

    def as_response(self) -> dict[str, Any]:
        return {"ChallengeName": self.name, "Session": self.session, "ChallengeParameters": self.parameters}


def _mask(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain[:1]}***"


def _origin_of(code: AuthCode) -> str:
    """The origin_jti of the tokens a code yields, derived from the code's digest (a replay revokes them)."""
    return str(uuid.UUID(code.code_digest[:32]))


def secret_hash(client_id: str, secret: str, username: str) -> str:
    mac = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


class UserPool:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        pool_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.pool_id = pool_id
        self.region = pool_id.split("_", 1)[0]
        self.issuer = f"{settings.public_base}/{pool_id}"
        self.clock = clock
        self.passwords = Passwords(
            settings.argon2_time_cost, settings.argon2_memory_kib, settings.argon2_parallelism
        )
        self.throttle = Throttle(settings.max_failed_logins, settings.lockout_seconds)
        self.keys = KeyRing(store, settings.key_refresh_seconds)
        self.tokens = TokenIssuer(
            self.issuer, self.keys, settings.access_token_seconds, settings.id_token_seconds
        )
        # The Lambda handlers, called in-process with Cognito's event shapes. The post-confirmation handler
        # gets a `cognito` client that goes through this pool's own API dispatcher (see local_client.py).
        self.post_confirmation: Trigger = post_confirmation.handler
        self.pre_token_generation: Trigger = pre_token_generation.handler
        self.local_client: Any = None  # set by the app once the dispatcher exists
        self._clients: dict[str, tuple[float, Client]] = {}

    # ----------------------------------------------------------------- lookups
    def check_pool(self, pool_id: Any) -> None:
        if pool_id != self.pool_id:
            raise CognitoError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")

    def client(self, db: Session, client_id: Any) -> Client:
        client = db.get(Client, client_id) if isinstance(client_id, str) else None
        if client is None:
            raise CognitoError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")
        return client

    def cached_client(self, client_id: Any) -> Client:
        """The client from a short-lived cache: clients change only when the seed is applied at start."""
        hit = self._clients.get(client_id) if isinstance(client_id, str) else None
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        with self.store.read() as db:
            client = self.client(db, client_id)
        self._clients[client.client_id] = (time.monotonic() + CLIENT_CACHE_SECONDS, client)
        return client

    def find_user(self, db: Session, username: Any) -> User | None:
        if not isinstance(username, str) or not username:
            return None
        user = db.get(User, username)
        if user is None:
            user = db.scalar(select(User).where(User.email == username.strip().lower()))
        return user

    def require_user(self, db: Session, username: Any) -> User:
        user = self.find_user(db, username)
        if user is None:
            raise user_not_found()
        return user

    def _check_secret_hash(self, client: Client, username: str, given: Any) -> None:
        if client.secret is None:
            return
        if not isinstance(given, str) or not hmac.compare_digest(
            given, secret_hash(client.client_id, client.secret, username)
        ):
            raise not_authorized(
                f"Client {client.client_id} has a secret but SECRET_HASH is missing or wrong"
            )

    # ----------------------------------------------------------------- attributes
    @staticmethod
    def attributes(user: User) -> list[dict[str, str]]:
        return [
            {"Name": "sub", "Value": user.sub},
            {"Name": "email_verified", "Value": "true" if user.email_verified else "false"},
            {"Name": "name", "Value": user.name},
            {"Name": "email", "Value": user.email},
        ]

    @staticmethod
    def _mfa_fields(user: User) -> dict[str, Any]:
        if not user.mfa_enabled:
            return {}
        return {"PreferredMfaSetting": "SOFTWARE_TOKEN_MFA", "UserMFASettingList": ["SOFTWARE_TOKEN_MFA"]}

    def user_type(self, user: User) -> dict[str, Any]:
        return {
            "Username": user.sub,
            "Attributes": self.attributes(user),
            "UserCreateDate": user.created_at,
            "UserLastModifiedDate": user.updated_at,
            "Enabled": user.enabled,
            "UserStatus": user.status,
        }

    @staticmethod
    def _parse_attributes(raw: Any) -> dict[str, str]:
        if raw is None:
            return {}
        if not isinstance(raw, list):
            raise invalid_parameter("UserAttributes must be a list of {Name, Value}.")
        out: dict[str, str] = {}
        for item in raw:
            if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
                raise invalid_parameter("Each attribute needs a Name.")
            out[item["Name"]] = str(item.get("Value", ""))
        allowed = {"email", "name", "email_verified"}
        unknown = set(out) - allowed
        if unknown:
            raise invalid_parameter(
                f"Attributes did not conform to the schema: {', '.join(sorted(unknown))}: "
                "Attribute does not exist in the schema."
            )
        return out

    def _new_user(self, db: Session, email: str, attrs: dict[str, str], status: str) -> User:
        email = email.strip().lower()
        if not EMAIL_RE.match(email):
            raise invalid_parameter("Username should be an email.")
        name = attrs.get("name", "").strip()
        if not name:
            raise invalid_parameter(
                "Attributes did not conform to the schema: name: The attribute name is required"
            )
        if len(name) > 2048:
            raise invalid_parameter("name must be at most 2048 characters.")
        if db.scalar(select(User.sub).where(User.email == email)) is not None:
            raise CognitoError("UsernameExistsException", "An account with the given email already exists.")
        now = self.clock()
        user = User(
            sub=str(uuid.uuid4()),
            email=email,
            name=name,
            email_verified=attrs.get("email_verified", "false").lower() == "true",
            status=status,
            enabled=True,
            failed_logins=0,
            locked_until=0.0,
            created_at=now,
            updated_at=now,
        )
        db.add(user)
        return user

    # ----------------------------------------------------------------- sign-up
    def sign_up(
        self, client_id: Any, username: Any, password: Any, attributes: Any, given_hash: Any = None
    ) -> dict[str, Any]:
        if not isinstance(username, str) or not isinstance(password, str):
            raise invalid_parameter("Username and Password are required.")
        attrs = self._parse_attributes(attributes)
        attrs.pop("email_verified", None)  # a user cannot claim a verified address
        if attrs.get("email") and attrs["email"].strip().lower() != username.strip().lower():
            raise invalid_parameter("The email attribute must equal the username.")
        check_policy(password)
        password_hash = self.passwords.hash(password)
        code = f"{secrets.randbelow(10**6):06d}"
        with self.store.begin() as db:
            client = self.client(db, client_id)
            self._check_secret_hash(client, username, given_hash)
            user = self._new_user(db, username, attrs, "UNCONFIRMED")
            user.password_hash = password_hash
            user.confirmation_digest = digest(code)
            user.confirmation_expires_at = self.clock() + self.settings.confirmation_code_seconds
            sub, email = user.sub, user.email
        # The local stand-in for the confirmation e-mail Cognito would send.
        log.info(
            "sign-up: confirmation code for %s is %s (local delivery; Cognito would e-mail it)", email, code
        )
        return {
            "UserConfirmed": False,
            "CodeDeliveryDetails": {
                "Destination": _mask(email),
                "DeliveryMedium": "EMAIL",
                "AttributeName": "email",
            },
            "UserSub": sub,
        }

    def confirm_sign_up(self, client_id: Any, username: Any, code: Any) -> None:
        if not isinstance(code, str):
            raise invalid_parameter("ConfirmationCode is required.")
        with self.store.begin() as db:
            self.client(db, client_id)
            user = self.require_user(db, username)
            if user.status != "UNCONFIRMED":
                raise not_authorized(f"User cannot be confirmed. Current status is {user.status}")
            if user.confirmation_expires_at is None or user.confirmation_expires_at < self.clock():
                raise CognitoError(
                    "ExpiredCodeException", "Invalid code provided, please request a code again."
                )
            if not hmac.compare_digest(user.confirmation_digest or "", digest(code.strip())):
                raise code_mismatch("Invalid verification code provided, please try again.")
            user.status = "CONFIRMED"
            user.email_verified = True
            user.confirmation_digest = None
            user.confirmation_expires_at = None
            user.updated_at = self.clock()
            event = self._trigger_event("PostConfirmation_ConfirmSignUp", user, client_id)
        # After the commit, as Cognito does: the trigger calls back into the pool (AdminAddUserToGroup).
        try:
            self.post_confirmation(event, None, cognito=self.local_client)
        except CognitoError:
            raise
        except Exception as exc:  # a failing trigger must not become a 500
            log.exception("post-confirmation trigger failed")
            raise CognitoError("UnexpectedLambdaException", "PostConfirmation failed with error.") from exc

    def _trigger_event(self, source: str, user: User, client_id: str) -> dict[str, Any]:
        return {
            "version": "1",
            "region": self.region,
            "userPoolId": self.pool_id,
            "userName": user.sub,
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client_id},
            "triggerSource": source,
            "request": {
                "userAttributes": {
                    "sub": user.sub,
                    "email": user.email,
                    "name": user.name,
                    "email_verified": "true" if user.email_verified else "false",
                    "cognito:user_status": user.status,
                }
            },
            "response": {},
        }

    # ----------------------------------------------------------------- password login
    def password_login(
        self, username: Any, password: Any, client: Client | None = None, given_hash: Any = None
    ) -> User:
        """Checks a password with the per-user throttle; returns the user or raises Cognito's error."""
        if not isinstance(username, str) or not isinstance(password, str):
            raise invalid_parameter("USERNAME and PASSWORD are required.")
        now = self.clock()
        with self.store.begin() as db:
            user = self.find_user(db, username)
            if client is not None:
                self._check_secret_hash(client, username, given_hash)
            state = None if user is None else (user.sub, user.password_hash, user.enabled, user.locked_until)
        if state is None:
            self.passwords.verify(None, password)  # same cost as a real check
            raise user_not_found()
        sub, stored, enabled, locked_until = state
        if not enabled:
            raise not_authorized("User is disabled.")
        if locked_until > now:
            raise not_authorized("Password attempts exceeded")
        ok = self.passwords.verify(stored, password)  # outside the transaction: Argon2 takes a while
        with self.store.begin() as db:
            user = db.get(User, sub, with_for_update=True)
            if user is None:
                raise user_not_found()
            if not ok:
                user.failed_logins += 1
                lock = self.throttle.lock_after(user.failed_logins)
                if lock:
                    user.locked_until = now + lock
                    log.warning("login throttled for user %s after %d failures", sub, user.failed_logins)
            elif user.failed_logins:
                user.failed_logins = 0
                user.locked_until = 0.0
            status = user.status
        if not ok:
            raise not_authorized()
        if status == "UNCONFIRMED":
            raise CognitoError("UserNotConfirmedException", "User is not confirmed.")
        return user

    @staticmethod
    def next_challenge(user: User) -> str:
        if user.status == "FORCE_CHANGE_PASSWORD":
            return "NEW_PASSWORD_REQUIRED"
        if not user.mfa_enabled:
            return "MFA_SETUP"
        return "SOFTWARE_TOKEN_MFA"

    # ----------------------------------------------------------------- server-side sessions
    def new_session(
        self, db: Session, kind: str, sub: str | None, client_id: str | None, data: dict[str, Any], ttl: float
    ) -> str:
        token = secrets.token_urlsafe(48)
        db.add(
            SessionRecord(
                id_digest=digest(token),
                kind=kind,
                sub=sub,
                client_id=client_id,
                data=data,
                expires_at=self.clock() + ttl,
            )
        )
        # Opportunistic sweep so expired rows do not pile up.
        db.execute(delete(SessionRecord).where(SessionRecord.expires_at < self.clock() - 60))
        return token

    def load_session(self, db: Session, kind: str, token: Any) -> SessionRecord | None:
        if not isinstance(token, str) or not token:
            return None
        # Locked (PostgreSQL) so two requests racing on one session, e.g. counting wrong codes, serialize.
        record = db.get(SessionRecord, digest(token), with_for_update=True)
        if record is None or record.kind != kind or record.expires_at < self.clock():
            return None
        return record

    def _challenge(self, db: Session, user: User, client_id: str, name: str) -> Challenge:
        session = self.new_session(
            db, "auth", user.sub, client_id, {"challenge": name}, self.settings.auth_session_seconds
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

    # ----------------------------------------------------------------- cognito-idp auth API
    def initiate_auth(self, client_id: Any, flow: Any, params: Any) -> dict[str, Any]:
        params = params if isinstance(params, dict) else {}
        client = self.cached_client(client_id)
        if flow == "USER_PASSWORD_AUTH":
            if "ALLOW_USER_PASSWORD_AUTH" not in client.auth_flows:
                raise invalid_parameter("USER_PASSWORD_AUTH flow not enabled for this client")
            user = self.password_login(
                params.get("USERNAME"), params.get("PASSWORD"), client, params.get("SECRET_HASH")
            )
            with self.store.begin() as db:
                current = db.get(User, user.sub)
                if current is None:  # deleted while the password was being checked
                    raise user_not_found()
                return self._challenge(
                    db, current, client.client_id, self.next_challenge(current)
                ).as_response()
        if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            if "ALLOW_REFRESH_TOKEN_AUTH" not in client.auth_flows:
                raise invalid_parameter("REFRESH_TOKEN_AUTH flow not enabled for this client")
            result = self.refresh(client, params.get("REFRESH_TOKEN"), params.get("SECRET_HASH"))
            return {"ChallengeParameters": {}, "AuthenticationResult": result}
        raise invalid_parameter(f"Unsupported AuthFlow {flow}: use USER_PASSWORD_AUTH or REFRESH_TOKEN_AUTH.")

    def respond_to_auth_challenge(
        self, client_id: Any, name: Any, session: Any, responses: Any
    ) -> dict[str, Any]:
        responses = responses if isinstance(responses, dict) else {}
        new_password = responses.get("NEW_PASSWORD")
        new_hash = None
        if name == "NEW_PASSWORD_REQUIRED":
            if not isinstance(new_password, str):
                raise invalid_parameter("NEW_PASSWORD is required.")
            check_policy(new_password)
            new_hash = self.passwords.hash(new_password)
        with self.store.begin() as db:
            client = self.client(db, client_id)
            record = self.load_session(db, "auth", session)
            if record is None or record.client_id != client.client_id:
                raise expired_session()
            if record.data.get("challenge") != name:
                raise invalid_parameter(f"Expected challenge {record.data.get('challenge')}, got {name}.")
            user = db.get(User, record.sub, with_for_update=True)
            if user is None:
                raise user_not_found()
            error: CognitoError | None = None
            given = responses.get("USERNAME")
            if given not in (user.sub, user.email):
                raise not_authorized("USERNAME does not match the session.")
            if name == "NEW_PASSWORD_REQUIRED":
                user.password_hash = new_hash
                user.status = "CONFIRMED"
                user.updated_at = self.clock()
                db.delete(record)
                return self._challenge(db, user, client.client_id, self.next_challenge(user)).as_response()
            if name == "MFA_SETUP":
                if not record.data.get("mfa_verified") or not user.mfa_enabled:
                    raise invalid_parameter(
                        "Software token MFA is not verified yet: call VerifySoftwareToken first."
                    )
            elif name == "SOFTWARE_TOKEN_MFA":
                error = self._check_totp_in_session(
                    db, record, user, responses.get("SOFTWARE_TOKEN_MFA_CODE")
                )
            else:
                raise invalid_parameter(f"Unsupported ChallengeName {name}.")
            if error is None:
                db.delete(record)
                subject = self.subject(user)
        if error is not None:
            raise error  # after the commit, so the attempt count and session end are stored
        result = self.issue(
            subject, client.client_id, ADMIN_SCOPE, int(self.clock()), "TokenGeneration_Authentication"
        )
        return {"ChallengeParameters": {}, "AuthenticationResult": result}

    def _check_totp_in_session(
        self, db: Session, record: SessionRecord, user: User, code: Any
    ) -> CognitoError | None:
        outcome = self.check_totp(db, user, code)
        if outcome is None:
            return None
        attempts = int(record.data.get("attempts", 0)) + 1
        if attempts >= MAX_MFA_ATTEMPTS:
            # Too many wrong codes: the session ends and the user starts over with the password.
            db.delete(record)
        else:
            record.data = {**record.data, "attempts": attempts}
        return outcome

    def check_totp(self, db: Session, user: User, code: Any) -> CognitoError | None:
        """None when `code` is accepted (and remembered); otherwise the error to report.

        Callers load `user` with a row lock (FOR UPDATE on PostgreSQL; SQLite serializes writers anyway),
        so two concurrent requests cannot both accept the same code."""
        if not user.totp_secret:
            return CognitoError(
                "SoftwareTokenMFANotFoundException", "Software Token MFA has not been enabled by the user."
            )
        result, step = mfa.check(
            user.totp_secret, code if isinstance(code, str) else "", self.clock(), user.totp_last_step
        )
        if result is mfa.TotpResult.REPLAYED:
            return CognitoError("ExpiredCodeException", "Your software token has already been used once.")
        if result is mfa.TotpResult.INVALID:
            return code_mismatch()
        user.totp_last_step = step
        return None

    def _token_setup_user(self, db: Session, access_token: Any, session: Any) -> tuple[User, Any]:
        """Whose software token is being set up: the MFA_SETUP sign-in session's user (and that session), or
        the access token's (and None)."""
        if session is None:
            return self.user_from_access_token(db, access_token), None
        record = self.load_session(db, "auth", session)
        if record is None or record.data.get("challenge") != "MFA_SETUP":
            raise expired_session()
        user = db.get(User, record.sub, with_for_update=True)
        if user is None:
            raise user_not_found()
        return user, record

    def associate_software_token(self, access_token: Any, session: Any) -> dict[str, Any]:
        secret = mfa.new_secret()
        with self.store.begin() as db:
            user, record = self._token_setup_user(db, access_token, session)
            user.totp_pending_secret = secret
            return {"SecretCode": secret} if record is None else {"SecretCode": secret, "Session": session}

    def verify_software_token(self, access_token: Any, session: Any, code: Any) -> dict[str, Any]:
        with self.store.begin() as db:
            user, record = self._token_setup_user(db, access_token, session)
            if not user.totp_pending_secret:
                raise invalid_parameter(
                    "No software token is being associated: call AssociateSoftwareToken first."
                )
            result, step = mfa.check(
                user.totp_pending_secret, code if isinstance(code, str) else "", self.clock(), None
            )
            if result is not mfa.TotpResult.OK:
                raise CognitoError(
                    "EnableSoftwareTokenMFAException", "Code mismatch and fail enable Software Token MFA"
                )
            user.totp_secret = user.totp_pending_secret
            user.totp_pending_secret = None
            user.totp_last_step = step
            user.updated_at = self.clock()
            if record is not None:
                record.data = {**record.data, "mfa_verified": True}
                return {"Status": "SUCCESS", "Session": session}
            return {"Status": "SUCCESS"}

    # ----------------------------------------------------------------- tokens
    @staticmethod
    def subject(user: User) -> Subject:
        return Subject(user.sub, user.email, user.name, user.email_verified, user.group_names)

    def issue(
        self,
        subject: Subject,
        client_id: str,
        scope: str,
        auth_time: int,
        trigger_source: str,
        nonce: str | None = None,
        refresh: bool = True,
        origin_jti: str | None = None,
    ) -> dict[str, Any]:
        now = int(self.clock())
        refresh_token = None
        if origin_jti is None:
            origin_jti = str(uuid.uuid4())
            refresh_token = self._store_refresh_token(subject, client_id, scope, origin_jti, auth_time, now)
        event = {
            "version": "1",
            "triggerSource": trigger_source,
            "region": self.region,
            "userPoolId": self.pool_id,
            "userName": subject.sub,
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": client_id},
            "request": {
                "userAttributes": {
                    "sub": subject.sub,
                    "email": subject.email,
                    "name": subject.name,
                    "email_verified": "true" if subject.email_verified else "false",
                    "cognito:user_status": "CONFIRMED",
                },
                "groupConfiguration": {
                    "groupsToOverride": list(subject.groups),
                    "iamRolesToOverride": [],
                    "preferredRole": None,
                },
            },
            "response": {"claimsOverrideDetails": None},
        }
        try:
            overrides = (self.pre_token_generation(event, None).get("response") or {}).get(
                "claimsOverrideDetails"
            )
        except Exception as exc:
            log.exception("pre-token-generation trigger failed")
            raise CognitoError("UnexpectedLambdaException", "PreTokenGeneration failed with error.") from exc
        access, id_token = self.tokens.user_tokens(
            subject, client_id, scope, auth_time, origin_jti, now, nonce, overrides or {}
        )
        result: dict[str, Any] = {
            "AccessToken": access,
            "ExpiresIn": self.settings.access_token_seconds,
            "TokenType": "Bearer",
        }
        if refresh_token is not None:
            result["RefreshToken"] = refresh_token
        result["IdToken"] = id_token
        return result

    def refresh(self, client: Client, token: Any, given_hash: Any = None) -> dict[str, Any]:
        if not isinstance(token, str) or not token:
            raise invalid_parameter("REFRESH_TOKEN is required.")
        # The token path: two indexed lookups on a plain connection with prebuilt statements (no ORM session).
        with self.store.read_engine.connect() as conn:
            row = conn.execute(_REFRESH_LOOKUP, {"digest": digest(token)}).one_or_none()
            if row is None or row.client_id != client.client_id:
                raise not_authorized("Invalid Refresh Token")
            if row.revoked:
                raise not_authorized("Refresh Token has been revoked")
            if row.expires_at < self.clock():
                raise not_authorized("Refresh Token has expired")
            if row.sub is None or not row.enabled:
                raise not_authorized("User is disabled." if row.sub else "User does not exist.")
            self._check_secret_hash(client, row.sub, given_hash)
            groups = sorted(conn.execute(_GROUPS_OF, {"sub": row.sub}).scalars())
            subject = Subject(row.sub, row.email, row.name, row.email_verified, groups)
            scope, auth_time, origin_jti = row.scope, row.auth_time, row.origin_jti
        return self.issue(
            subject,
            client.client_id,
            scope,
            auth_time,
            "TokenGeneration_RefreshTokens",
            origin_jti=origin_jti,
        )

    def access_claims(self, db: Session, token: Any) -> dict[str, Any]:
        if not isinstance(token, str) or not token:
            raise invalid_parameter("AccessToken is required.")
        try:
            claims = self.tokens.verify_access(token)
        except jwt.ExpiredSignatureError as exc:
            raise not_authorized("Access Token has expired") from exc
        except jwt.InvalidTokenError as exc:
            raise not_authorized("Invalid Access Token") from exc
        origin = claims.get("origin_jti")
        if origin is not None:
            revoked = db.scalar(select(RefreshToken.revoked).where(RefreshToken.origin_jti == origin))
            if revoked is None or revoked:
                raise not_authorized("Access Token has been revoked")
        return claims

    def user_from_access_token(self, db: Session, token: Any, scope: str = ADMIN_SCOPE) -> User:
        claims = self.access_claims(db, token)
        if scope not in str(claims.get("scope", "")).split():
            raise not_authorized("Access Token does not have required scopes")
        user = db.get(User, claims.get("username", ""))
        if user is None:
            raise not_authorized("User does not exist.")
        return user

    def get_user(self, access_token: Any) -> dict[str, Any]:
        with self.store.begin() as db:
            user = self.user_from_access_token(db, access_token)
            return {"Username": user.sub, "UserAttributes": self.attributes(user), **self._mfa_fields(user)}

    def global_sign_out(self, access_token: Any) -> None:
        with self.store.begin() as db:
            user = self.user_from_access_token(db, access_token)
            self.sign_out_user(db, user.sub)

    def revoke_refresh_token(self, client_id: str, token: str) -> None:
        with self.store.begin() as db:
            db.execute(
                update(RefreshToken)
                .where(RefreshToken.token_digest == digest(token), RefreshToken.client_id == client_id)
                .values(revoked=True)
            )

    def sign_out_user(self, db: Session, sub: str) -> None:
        db.execute(update(RefreshToken).where(RefreshToken.sub == sub).values(revoked=True))
        db.execute(delete(SessionRecord).where(SessionRecord.sub == sub, SessionRecord.kind == "browser"))

    # ----------------------------------------------------------------- admin API
    def admin_create_user(
        self, pool_id: Any, username: Any, attributes: Any, temporary: Any, action: Any
    ) -> dict[str, Any]:
        self.check_pool(pool_id)
        if not isinstance(username, str):
            raise invalid_parameter("Username is required.")
        attrs = self._parse_attributes(attributes)
        generated = temporary is None
        if generated:
            temporary = "Tmp-" + secrets.token_urlsafe(9) + "1a!"
        if not isinstance(temporary, str):
            raise invalid_parameter("TemporaryPassword must be a string.")
        check_policy(temporary)
        password_hash = self.passwords.hash(temporary)
        with self.store.begin() as db:
            if action == "RESEND":
                user = self.require_user(db, username)
                return {"User": self.user_type(user)}
            try:
                user = self._new_user(db, username, attrs, "FORCE_CHANGE_PASSWORD")
            except CognitoError as exc:
                if exc.kind == "UsernameExistsException":
                    raise CognitoError("UsernameExistsException", "User account already exists") from exc
                raise
            user.password_hash = password_hash
            db.flush()
            result = {"User": self.user_type(user)}
            email = user.email
        if generated and action != "SUPPRESS":
            log.info("admin-create-user: temporary password for %s is %s (local delivery)", email, temporary)
        return result

    def admin_set_user_password(self, pool_id: Any, username: Any, password: Any, permanent: Any) -> None:
        self.check_pool(pool_id)
        if not isinstance(password, str):
            raise invalid_parameter("Password is required.")
        check_policy(password)
        password_hash = self.passwords.hash(password)
        with self.store.begin() as db:
            user = self.require_user(db, username)
            user.password_hash = password_hash
            user.status = "CONFIRMED" if permanent else "FORCE_CHANGE_PASSWORD"
            user.failed_logins = 0
            user.locked_until = 0.0
            user.updated_at = self.clock()

    def admin_add_user_to_group(self, pool_id: Any, username: Any, group: Any) -> None:
        self.check_pool(pool_id)
        with self.store.begin() as db:
            if not isinstance(group, str) or db.get(Group, group) is None:
                raise CognitoError("ResourceNotFoundException", "Group not found.")
            user = self.require_user(db, username)
            if group not in user.group_names:
                user.groups.append(Membership(sub=user.sub, group=group))

    def admin_get_user(self, pool_id: Any, username: Any) -> dict[str, Any]:
        self.check_pool(pool_id)
        with self.store.begin() as db:
            user = self.require_user(db, username)
            return {
                "Username": user.sub,
                "UserAttributes": self.attributes(user),
                "UserCreateDate": user.created_at,
                "UserLastModifiedDate": user.updated_at,
                "Enabled": user.enabled,
                "UserStatus": user.status,
                **self._mfa_fields(user),
            }

    def admin_delete_user(self, pool_id: Any, username: Any) -> None:
        self.check_pool(pool_id)
        with self.store.begin() as db:
            user = self.require_user(db, username)
            sub = user.sub
            db.execute(delete(RefreshToken).where(RefreshToken.sub == sub))
            db.execute(delete(SessionRecord).where(SessionRecord.sub == sub))
            db.execute(delete(AuthCode).where(AuthCode.sub == sub))
            db.delete(user)

    _FILTER = re.compile(
        r'^\s*(email|name|sub|username|status|cognito:user_status)\s*(=|\^=)\s*"([^"]*)"\s*$'
    )

    def list_users(self, pool_id: Any, limit: Any, token: Any, filter_expr: Any) -> dict[str, Any]:
        self.check_pool(pool_id)
        limit = 60 if limit is None else limit
        if not isinstance(limit, int) or not 1 <= limit <= 60:
            raise invalid_parameter("Limit must be between 1 and 60.")
        offset = 0
        if token is not None:
            try:
                offset = int(base64.urlsafe_b64decode(str(token).encode()).decode())
            except ValueError as exc:
                raise invalid_parameter("Invalid PaginationToken.") from exc
        query = select(User).order_by(User.created_at, User.sub)
        if filter_expr:
            match = self._FILTER.match(str(filter_expr))
            if match is None:
                raise invalid_parameter('Filter must look like: email = "a@b.c" or name ^= "Ann".')
            attr, op, value = match.groups()
            column = {
                "email": User.email,
                "name": User.name,
                "sub": User.sub,
                "username": User.sub,
                "status": User.status,
                "cognito:user_status": User.status,
            }[attr]
            query = query.where(column == value if op == "=" else column.startswith(value, autoescape=True))
        with self.store.begin() as db:
            rows = db.scalars(query.offset(offset).limit(limit + 1)).all()
            users = [self.user_type(u) for u in rows[:limit]]
        out: dict[str, Any] = {"Users": users}
        if len(rows) > limit:
            out["PaginationToken"] = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
        return out

    # ------------------------------------------------ OAuth 2.0 (hosted UI and /oauth2/token)
    def new_code(
        self,
        client_id: str,
        sub: str,
        redirect_uri: str,
        scope: str,
        nonce: str | None,
        challenge: str | None,
        method: str | None,
        auth_time: int,
        db: Session | None = None,
    ) -> str:
        """A single-use authorization code; `db` joins the caller's transaction (SQLite allows one writer)."""
        code = secrets.token_urlsafe(32)
        row = AuthCode(
            code_digest=digest(code),
            client_id=client_id,
            sub=sub,
            redirect_uri=redirect_uri,
            scope=scope,
            nonce=nonce,
            code_challenge=challenge,
            code_challenge_method=method,
            auth_time=auth_time,
            expires_at=self.clock() + self.settings.auth_code_seconds,
            used=False,
        )
        # Expired codes are swept after ten minutes (kept that long so a late replay still revokes tokens).
        sweep = delete(AuthCode).where(AuthCode.expires_at < self.clock() - 600)
        if db is not None:
            db.add(row)
            db.execute(sweep)
        else:
            with self.store.begin() as own:
                own.add(row)
                own.execute(sweep)
        return code

    def exchange_code(self, client: Client, code: Any, redirect_uri: Any, verifier: Any) -> dict[str, Any]:
        if not isinstance(code, str) or not code:
            raise OAuthFailure("invalid_request", "code is required")
        failure: OAuthFailure | None = None
        with self.store.begin() as db:
            row = db.get(AuthCode, digest(code), with_for_update=True)
            if row is None or row.client_id != client.client_id:
                failure = OAuthFailure("invalid_grant", "unknown authorization code")
            elif row.used:
                # A replayed code: also revoke what the first exchange issued (RFC 6749 section 4.1.2).
                db.execute(
                    update(RefreshToken)
                    .where(RefreshToken.origin_jti == _origin_of(row))
                    .values(revoked=True)
                )
                failure = OAuthFailure("invalid_grant", "authorization code already used")
            else:
                row.used = True  # consumed by this attempt whatever its outcome
                failure = self._code_problem(row, redirect_uri, verifier)
                user = db.get(User, row.sub)
                if failure is None and (user is None or not user.enabled):
                    failure = OAuthFailure("invalid_grant", "the user no longer exists")
                if failure is None and user is not None:
                    subject, scope, nonce, auth_time = self.subject(user), row.scope, row.nonce, row.auth_time
                    origin = _origin_of(row)
        if failure is not None:
            raise failure
        result = self._issue_for_code(subject, client.client_id, scope, auth_time, nonce, origin)
        body = {
            "access_token": result["AccessToken"],
            "refresh_token": result["RefreshToken"],
            "expires_in": result["ExpiresIn"],
            "token_type": "Bearer",
        }
        if "openid" in scope.split():
            body["id_token"] = result["IdToken"]
        return body

    def _code_problem(self, row: AuthCode, redirect_uri: Any, verifier: Any) -> OAuthFailure | None:
        if row.expires_at < self.clock():
            return OAuthFailure("invalid_grant", "authorization code expired")
        if redirect_uri != row.redirect_uri:
            return OAuthFailure("invalid_grant", "redirect_uri does not match the authorization request")
        if row.code_challenge is not None:
            if not isinstance(verifier, str) or not re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier):
                return OAuthFailure("invalid_grant", "code_verifier is missing or malformed")
            if not hmac.compare_digest(create_s256_code_challenge(verifier), row.code_challenge):
                return OAuthFailure("invalid_grant", "code_verifier does not match the code_challenge")
        elif verifier is not None:
            return OAuthFailure("invalid_grant", "code_verifier sent but no code_challenge was")
        return None

    def _store_refresh_token(
        self, subject: Subject, client_id: str, scope: str, origin_jti: str, auth_time: int, now: int
    ) -> str:
        """A new opaque refresh token; only its digest is stored."""
        refresh_token = secrets.token_urlsafe(64)
        with self.store.begin() as db:
            db.add(
                RefreshToken(
                    token_digest=digest(refresh_token),
                    sub=subject.sub,
                    client_id=client_id,
                    scope=scope,
                    origin_jti=origin_jti,
                    auth_time=auth_time,
                    expires_at=now + self.settings.refresh_token_seconds,
                    revoked=False,
                )
            )
        return refresh_token

    def _issue_for_code(
        self, subject: Subject, client_id: str, scope: str, auth_time: int, nonce: str | None, origin: str
    ) -> dict[str, Any]:
        # The refresh token's origin_jti is derived from the code so that a replayed code can revoke it.
        refresh_token = self._store_refresh_token(
            subject, client_id, scope, origin, auth_time, int(self.clock())
        )
        result = self.issue(
            subject, client_id, scope, auth_time, "TokenGeneration_HostedAuth", nonce=nonce, origin_jti=origin
        )
        result["RefreshToken"] = refresh_token
        return result

    def refresh_grant(self, client: Client, token: Any) -> dict[str, Any]:
        try:
            result = self.refresh(client, token)
        except CognitoError as exc:
            raise OAuthFailure("invalid_grant", exc.message) from exc
        return {
            "access_token": result["AccessToken"],
            "id_token": result["IdToken"],
            "expires_in": result["ExpiresIn"],
            "token_type": "Bearer",
        }

    def client_credentials(self, client: Client, scope: Any) -> dict[str, Any]:
        if client.secret is None or "client_credentials" not in client.oauth_flows:
            raise OAuthFailure("unauthorized_client", "this client may not use client_credentials")
        allowed = [s for s in client.scopes if "/" in s]
        requested = str(scope).split() if scope else allowed
        if not requested or any(s not in allowed for s in requested):
            raise OAuthFailure("invalid_scope", "scope must be among the client's resource-server scopes")
        now = int(self.clock())
        token = self.tokens.client_token(client.client_id, " ".join(requested), now)
        return {
            "access_token": token,
            "expires_in": self.settings.access_token_seconds,
            "token_type": "Bearer",
        }

    def user_info(self, access_token: str) -> dict[str, Any]:
        with self.store.begin() as db:
            claims = self.access_claims(db, access_token)
            scopes = str(claims.get("scope", "")).split()
            if "openid" not in scopes and ADMIN_SCOPE not in scopes:
                raise not_authorized("Access Token does not have required scopes")
            user = db.get(User, claims.get("username", ""))
            if user is None:
                raise not_authorized("User does not exist.")
            return {
                "sub": user.sub,
                "email_verified": "true" if user.email_verified else "false",
                "name": user.name,
                "email": user.email,
                "username": user.sub,
            }
