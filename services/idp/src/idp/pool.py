"""The user pool's core: configuration, lookups, credentials, server-side sessions and token issue.

The operations live beside it, one module per seam, each a class holding the pool:
- `signin.SignIn`: the sign-in state machine (password, SRP, challenges, MFA, throttling) that both the
  cognito-idp API and the hosted UI drive;
- `accounts.Accounts`: what a user does for themself (sign-up, confirmation, forgotten and changed
  passwords, attributes, MFA preference, deletion);
- `admin.Admin`: the administrator's API (users, groups, the pool and its clients);
- `grants.Grants`: the OAuth 2.0 grants of the hosted-UI domain.

No web framework here: callers pass typed values and get plain values or a `CognitoError` (the grants raise
Authlib's OAuth 2.0 errors).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from idp import srp
from idp.accounts import EMAIL_RE, Accounts
from idp.admin import Admin
from idp.errors import CognitoError, invalid_parameter, not_authorized, user_not_found
from idp.grants import ADMIN_SCOPE, Grants
from idp.keys import KeyRing
from idp.outbox import Outbox
from idp.passwords import Passwords, Throttle
from idp.settings import Settings
from idp.signin import SignIn
from idp.store import (
    Client,
    Membership,
    RefreshToken,
    SessionRecord,
    SrpVerifier,
    Store,
    User,
    digest,
)
from idp.tokens import Subject, TokenIssuer
from idp.triggers import post_confirmation, pre_token_generation

if TYPE_CHECKING:
    from idp.pools import Pools

log = logging.getLogger("idp")

CLIENT_CACHE_SECONDS = 30.0
MFA_MODES = ("ON", "OPTIONAL", "OFF")

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


@dataclass(frozen=True)
class Credentials:
    """What the pool keeps for one password: the Argon2id hash and the SRP verifier."""

    password_hash: str
    srp: srp.Verifier


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
        mfa_configuration: str = "ON",
        name: str | None = None,
    ) -> None:
        if mfa_configuration not in MFA_MODES:
            raise ValueError(f"mfa_configuration must be one of {', '.join(MFA_MODES)}")
        self.settings = settings
        self.store = store
        self.pool_id = pool_id
        self.name = name or pool_id
        self.region = pool_id.split("_", 1)[0]
        self.srp_pool_name = pool_id.split("_", 1)[1]  # what Cognito's SRP hashes the password with
        self.mfa_configuration = mfa_configuration
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
        self.outbox = Outbox(store, clock)
        # The Lambda handlers, called in-process with Cognito's event shapes. The post-confirmation handler
        # gets a `cognito` client that goes through this pool's own API dispatcher (see local_client.py).
        self.post_confirmation: Trigger = post_confirmation.handler
        self.pre_token_generation: Trigger = pre_token_generation.handler
        self.local_client: Any = None  # set by the app once the dispatcher exists
        self.registry: Pools | None = None  # every pool of the process (pools.py), set by the app
        self._clients: dict[str, tuple[float, Client]] = {}

        self.signin: SignIn = SignIn(self)
        self.accounts: Accounts = Accounts(self)
        self.admin: Admin = Admin(self)
        self.grants: Grants = Grants(self)

    # ----------------------------------------------------------------- lookups
    def check_pool(self, pool_id: str) -> None:
        if pool_id != self.pool_id:
            raise CognitoError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")

    def client(self, db: Session, client_id: str) -> Client:
        client = db.get(Client, client_id) if client_id else None
        if client is None:
            raise CognitoError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")
        return client

    def cached_client(self, client_id: Any) -> Client:
        """The client from a short-lived cache: clients change only when the seed is applied at start."""
        hit = self._clients.get(client_id) if isinstance(client_id, str) else None
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        with self.store.read() as db:
            client = self.client(db, client_id if isinstance(client_id, str) else "")
        self._clients[client.client_id] = (time.monotonic() + CLIENT_CACHE_SECONDS, client)
        return client

    def find_user(self, db: Session, username: str | None, lock: bool = False) -> User | None:
        if not username:
            return None
        user = db.get(User, username, with_for_update=lock)
        if user is None:
            query = select(User).where(User.email == username.strip().lower())
            user = db.scalar(query.with_for_update() if lock else query)
        return user

    def require_user(self, db: Session, username: str | None, lock: bool = False) -> User:
        user = self.find_user(db, username, lock)
        if user is None:
            raise user_not_found()
        return user

    def check_secret_hash(self, client: Client, username: str, given: str | None) -> None:
        if client.secret is None:
            return
        if given is None or not hmac.compare_digest(
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
    def mfa_fields(user: User) -> dict[str, Any]:
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

    def new_user(self, db: Session, sub: str, email: str, attrs: dict[str, str], status: str) -> User:
        email = email.strip().lower()
        if not EMAIL_RE.match(email):
            raise invalid_parameter("Username should be an email.")
        name = attrs.get("name", "").strip()
        if not name:
            raise invalid_parameter(
                "Attributes did not conform to the schema: name: The attribute name is required"
            )
        if db.scalar(select(User.sub).where(User.email == email)) is not None:
            raise CognitoError("UsernameExistsException", "An account with the given email already exists.")
        now = self.clock()
        user = User(
            sub=sub,
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

    def email_taken(self, db: Session, email: str, sub: str) -> bool:
        other = db.scalar(select(User.sub).where(User.email == email))
        return other is not None and other != sub

    # ----------------------------------------------------------------- credentials
    def credentials(self, sub: str, password: str) -> Credentials:
        """Hash and SRP verifier for a new password (slow: call it outside a transaction)."""
        return Credentials(
            self.passwords.hash(password), srp.make_verifier(self.srp_pool_name, sub, password)
        )

    def store_credentials(self, db: Session, user: User, credentials: Credentials) -> None:
        user.password_hash = credentials.password_hash
        user.failed_logins = 0
        user.locked_until = 0.0
        user.updated_at = self.clock()
        db.merge(SrpVerifier(sub=user.sub, salt=credentials.srp.salt, verifier=credentials.srp.verifier))

    # ----------------------------------------------------------------- server-side sessions
    def new_session(
        self,
        db: Session,
        kind: str,
        sub: str | None,
        client_id: str | None,
        data: dict[str, Any],
        ttl: float,
        token: str | None = None,
    ) -> str:
        """A server-side session; its id is `token` (random if not given), of which only a digest is kept."""
        token = token or secrets.token_urlsafe(48)
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

    def load_session(self, db: Session, kind: str, token: str | None) -> SessionRecord | None:
        if not token:
            return None
        # Locked (PostgreSQL) so two requests racing on one session, e.g. counting wrong codes, serialize.
        record = db.get(SessionRecord, digest(token), with_for_update=True)
        if record is None or record.kind != kind or record.expires_at < self.clock():
            return None
        return record

    # ----------------------------------------------------------------- triggers
    def trigger_event(self, source: str, user: User, client_id: str) -> dict[str, Any]:
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

    def run_post_confirmation(self, event: dict[str, Any]) -> None:
        """After the commit, as Cognito does: the trigger calls back into the pool (AdminAddUserToGroup)."""
        try:
            self.post_confirmation(event, None, cognito=self.local_client)
        except CognitoError:
            raise
        except Exception as exc:  # a failing trigger must not become a 500
            log.exception("post-confirmation trigger failed")
            raise CognitoError("UnexpectedLambdaException", "PostConfirmation failed with error.") from exc

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
        origin_jti: str | None = None,
        with_at_hash: bool = False,
    ) -> dict[str, Any]:
        now = int(self.clock())
        refresh_token = None
        if origin_jti is None:
            origin_jti = str(uuid.uuid4())
            refresh_token = self.store_refresh_token(subject, client_id, scope, origin_jti, auth_time, now)
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
            subject, client_id, scope, auth_time, origin_jti, now, nonce, overrides or {}, with_at_hash
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

    def store_refresh_token(
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

    def refresh(self, client: Client, token: str | None, given_hash: str | None = None) -> dict[str, Any]:
        if not token:
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
            self.check_secret_hash(client, row.sub, given_hash)
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

    def access_claims(self, db: Session, token: str | None) -> dict[str, Any]:
        if not token:
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

    def user_from_access_token(self, db: Session, token: str | None, scope: str = ADMIN_SCOPE) -> User:
        claims = self.access_claims(db, token)
        if scope not in str(claims.get("scope", "")).split():
            raise not_authorized("Access Token does not have required scopes")
        user = db.get(User, claims.get("username", ""), with_for_update=True)
        if user is None:
            raise not_authorized("User does not exist.")
        if not user.enabled:
            raise not_authorized("User is disabled.")
        return user

    def sign_out_user(self, db: Session, sub: str) -> None:
        db.execute(update(RefreshToken).where(RefreshToken.sub == sub).values(revoked=True))
        db.execute(delete(SessionRecord).where(SessionRecord.sub == sub, SessionRecord.kind == "browser"))
