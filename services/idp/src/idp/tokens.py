"""Cognito-shaped access and id tokens, signed RS256 with the newest key."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from idp.keys import KeyRing

# Claims the pre-token-generation trigger may not change (Cognito refuses these too).
PROTECTED_CLAIMS = frozenset(
    {
        "acr",
        "amr",
        "at_hash",
        "auth_time",
        "azp",
        "exp",
        "iat",
        "identities",
        "iss",
        "sub",
        "token_use",
        "nonce",
        "nbf",
        "aud",
        "cognito:username",
        "origin_jti",
        "event_id",
        "jti",
    }
)


@dataclass(frozen=True)
class Subject:
    sub: str
    email: str
    name: str
    email_verified: bool
    groups: list[str]


def at_hash(access_token: str) -> str:
    """OIDC's at_hash for RS256: the left half of the SHA-256 of the token, base64url without padding."""
    half = hashlib.sha256(access_token.encode("ascii")).digest()[:16]
    return base64.urlsafe_b64encode(half).rstrip(b"=").decode()


# Called with (trigger_source, subject, client_id, groups) and returns the trigger's claimsOverrideDetails.
PreTokenHook = Callable[[str, Subject, str], dict[str, Any]]


class TokenIssuer:
    def __init__(self, issuer: str, keys: KeyRing, access_seconds: int, id_seconds: int) -> None:
        self.issuer = issuer
        self._keys = keys
        self.access_seconds = access_seconds
        self.id_seconds = id_seconds

    def _sign(self, claims: dict[str, Any], purpose: str = "access") -> str:
        key = self._keys.signing_key(purpose)
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})

    def user_tokens(
        self,
        subject: Subject,
        client_id: str,
        scope: str,
        auth_time: int,
        origin_jti: str,
        now: int,
        nonce: str | None = None,
        overrides: dict[str, Any] | None = None,
        with_at_hash: bool = False,
    ) -> tuple[str, str]:
        """(access_token, id_token) with exactly the claims Cognito puts in them; the ID token carries
        `at_hash` when it comes from the code flow (OpenID Connect Core 3.1.3.6)."""
        event_id = str(uuid.uuid4())
        overrides = overrides or {}
        groups = subject.groups
        group_override = overrides.get("groupOverrideDetails") or {}
        if "groupsToOverride" in group_override:
            groups = list(group_override["groupsToOverride"] or [])
        access: dict[str, Any] = {"sub": subject.sub}
        if groups:
            access["cognito:groups"] = groups
        access.update(
            {
                "iss": self.issuer,
                "version": 2,
                "client_id": client_id,
                "origin_jti": origin_jti,
                "event_id": event_id,
                "token_use": "access",
                "scope": scope,
                "auth_time": auth_time,
                "exp": now + self.access_seconds,
                "iat": now,
                "jti": str(uuid.uuid4()),
                "username": subject.sub,
            }
        )
        id_claims: dict[str, Any] = {"sub": subject.sub}
        if groups:
            id_claims["cognito:groups"] = groups
        id_claims.update(
            {
                "email_verified": subject.email_verified,
                "iss": self.issuer,
                "cognito:username": subject.sub,
                "origin_jti": origin_jti,
                "aud": client_id,
                "event_id": event_id,
                "token_use": "id",
                "auth_time": auth_time,
                "name": subject.name,
                "email": subject.email,
                "exp": now + self.id_seconds,
                "iat": now,
                "jti": str(uuid.uuid4()),
            }
        )
        if nonce:
            id_claims["nonce"] = nonce
        access_token = self._sign(access)
        if with_at_hash:
            id_claims["at_hash"] = at_hash(access_token)
        # Trigger version 1 semantics: the override applies to the id token.
        for claim, value in (overrides.get("claimsToAddOrOverride") or {}).items():
            if claim not in PROTECTED_CLAIMS and not claim.startswith("cognito:"):
                id_claims[claim] = value
        for claim in overrides.get("claimsToSuppress") or []:
            if claim not in PROTECTED_CLAIMS and claim in id_claims and not claim.startswith("cognito:"):
                del id_claims[claim]
        return access_token, self._sign(id_claims, "id")

    def client_token(self, client_id: str, scope: str, now: int) -> str:
        """The access token of a client_credentials grant: no user, so `sub` is the client id."""
        return self._sign(
            {
                "sub": client_id,
                "token_use": "access",
                "scope": scope,
                "auth_time": now,
                "iss": self.issuer,
                "exp": now + self.access_seconds,
                "iat": now,
                "version": 2,
                "jti": str(uuid.uuid4()),
                "client_id": client_id,
            }
        )

    def verify_access(self, token: str) -> dict[str, Any]:
        """Claims of an access token this IdP signed, not expired; raises jwt.InvalidTokenError."""
        header = jwt.get_unverified_header(token)
        jwks = {k["kid"]: k for k in self._keys.jwks()["keys"]}
        jwk = jwks.get(header.get("kid", ""))
        if jwk is None:
            raise jwt.InvalidTokenError("unknown kid")
        key = jwt.PyJWK(jwk).key
        claims = jwt.decode(
            token, key, algorithms=["RS256"], issuer=self.issuer, options={"require": ["exp"]}
        )
        if claims.get("token_use") != "access":
            raise jwt.InvalidTokenError("not an access token")
        return claims
