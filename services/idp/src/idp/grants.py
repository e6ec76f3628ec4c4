"""The OAuth 2.0 grants of the hosted-UI domain, one class per grant as in Authlib (whose typed errors they
raise): authorization codes with PKCE, refresh tokens, client credentials; and userInfo and revocation.
The HTTP side is oauth.py."""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from idp.errors import CognitoError, not_authorized
from idp.store import AuthCode, Client, RefreshToken, User, digest
from idp.tokens import Subject

if TYPE_CHECKING:
    from idp.pool import UserPool

ADMIN_SCOPE = "aws.cognito.signin.user.admin"  # the scope of a user's own cognito-idp operations


def _origin_of(code: AuthCode) -> str:
    """The origin_jti of the tokens a code yields, derived from the code's digest (a replay revokes them)."""
    return str(uuid.UUID(code.code_digest[:32]))


class TokenGrant:
    """One grant type of POST /oauth2/token."""

    GRANT_TYPE: ClassVar[str]

    def __init__(self, pool: UserPool) -> None:
        self.pool = pool

    def create_token_response(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        raise NotImplementedError


class AuthorizationCodeGrant(TokenGrant):
    GRANT_TYPE = "authorization_code"

    def issue_code(
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
            expires_at=self.pool.clock() + self.pool.settings.auth_code_seconds,
            used=False,
        )
        # Expired codes are swept after ten minutes (kept that long so a late replay still revokes tokens).
        sweep = delete(AuthCode).where(AuthCode.expires_at < self.pool.clock() - 600)
        if db is not None:
            db.add(row)
            db.execute(sweep)
        else:
            with self.pool.store.begin() as own:
                own.add(row)
                own.execute(sweep)
        return code

    def create_token_response(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        if "code" not in client.oauth_flows:
            raise UnauthorizedClientError(description="the code grant is not enabled for this client")
        return self.exchange_code(
            client, form.get("code"), form.get("redirect_uri"), form.get("code_verifier")
        )

    def exchange_code(
        self, client: Client, code: str | None, redirect_uri: str | None, verifier: str | None
    ) -> dict[str, Any]:
        if not isinstance(code, str) or not code:
            raise InvalidRequestError(description="code is required")
        failure: OAuth2Error | None = None
        with self.pool.store.begin() as db:
            row = db.get(AuthCode, digest(code), with_for_update=True)
            if row is None or row.client_id != client.client_id:
                failure = InvalidGrantError(description="unknown authorization code")
            elif row.used:
                # A replayed code: also revoke what the first exchange issued (RFC 6749 section 4.1.2).
                db.execute(
                    update(RefreshToken)
                    .where(RefreshToken.origin_jti == _origin_of(row))
                    .values(revoked=True)
                )
                failure = InvalidGrantError(description="authorization code already used")
            else:
                row.used = True  # consumed by this attempt whatever its outcome
                failure = self._code_problem(row, redirect_uri, verifier)
                user = db.get(User, row.sub)
                if failure is None and (user is None or not user.enabled):
                    failure = InvalidGrantError(description="the user no longer exists")
                if failure is None and user is not None:
                    subject, scope, nonce, auth_time = (
                        self.pool.subject(user),
                        row.scope,
                        row.nonce,
                        row.auth_time,
                    )
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

    def _code_problem(
        self, row: AuthCode, redirect_uri: str | None, verifier: str | None
    ) -> OAuth2Error | None:
        if row.expires_at < self.pool.clock():
            return InvalidGrantError(description="authorization code expired")
        if redirect_uri != row.redirect_uri:
            return InvalidGrantError(description="redirect_uri does not match the authorization request")
        if row.code_challenge is not None:
            if not isinstance(verifier, str) or not re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier):
                return InvalidGrantError(description="code_verifier is missing or malformed")
            if not hmac.compare_digest(create_s256_code_challenge(verifier), row.code_challenge):
                return InvalidGrantError(description="code_verifier does not match the code_challenge")
        elif verifier is not None:
            return InvalidGrantError(description="code_verifier sent but no code_challenge was")
        return None

    def _issue_for_code(
        self, subject: Subject, client_id: str, scope: str, auth_time: int, nonce: str | None, origin: str
    ) -> dict[str, Any]:
        # The refresh token's origin_jti is derived from the code so that a replayed code can revoke it.
        refresh_token = self.pool.store_refresh_token(
            subject, client_id, scope, origin, auth_time, int(self.pool.clock())
        )
        result = self.pool.issue(
            subject,
            client_id,
            scope,
            auth_time,
            "TokenGeneration_HostedAuth",
            nonce=nonce,
            origin_jti=origin,
            with_at_hash=True,
        )
        result["RefreshToken"] = refresh_token
        return result


class RefreshTokenGrant(TokenGrant):
    GRANT_TYPE = "refresh_token"

    def create_token_response(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        try:
            result = self.pool.refresh(client, form.get("refresh_token"))
        except CognitoError as exc:
            raise InvalidGrantError(description=exc.message) from exc
        return {
            "access_token": result["AccessToken"],
            "id_token": result["IdToken"],
            "expires_in": result["ExpiresIn"],
            "token_type": "Bearer",
        }


class ClientCredentialsGrant(TokenGrant):
    GRANT_TYPE = "client_credentials"

    def create_token_response(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        scope = form.get("scope")
        if client.secret is None or "client_credentials" not in client.oauth_flows:
            raise UnauthorizedClientError(description="this client may not use client_credentials")
        allowed = [s for s in client.scopes if "/" in s]
        requested = str(scope).split() if scope else allowed
        if not requested or any(s not in allowed for s in requested):
            raise InvalidScopeError(description="scope must be among the client's resource-server scopes")
        now = int(self.pool.clock())
        token = self.pool.tokens.client_token(client.client_id, " ".join(requested), now)
        return {
            "access_token": token,
            "expires_in": self.pool.settings.access_token_seconds,
            "token_type": "Bearer",
        }


class Grants:
    """The token endpoint's grants by grant_type, and the other OAuth endpoints' operations."""

    def __init__(self, pool: UserPool) -> None:
        self.pool = pool
        self.authorization_code = AuthorizationCodeGrant(pool)
        self._by_type: dict[str, TokenGrant] = {
            grant.GRANT_TYPE: grant
            for grant in (self.authorization_code, RefreshTokenGrant(pool), ClientCredentialsGrant(pool))
        }

    def token_response(self, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
        """The body of a successful POST /oauth2/token; raises Authlib's OAuth2Error otherwise."""
        grant = self._by_type.get(form.get("grant_type", ""))
        if grant is None:
            error = UnsupportedGrantTypeError(form.get("grant_type") or "")
            error.description = f"grant_type must be one of {', '.join(sorted(self._by_type))}"
            raise error
        return grant.create_token_response(client, form)

    def revoke_refresh_token(self, client_id: str, token: str) -> None:
        with self.pool.store.begin() as db:
            db.execute(
                update(RefreshToken)
                .where(RefreshToken.token_digest == digest(token), RefreshToken.client_id == client_id)
                .values(revoked=True)
            )

    def user_info(self, access_token: str) -> dict[str, Any]:
        with self.pool.store.begin() as db:
            claims = self.pool.access_claims(db, access_token)
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
