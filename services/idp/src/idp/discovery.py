"""OpenID discovery and JWKS under /{poolId}/.well-known/, with the issuer the tokens carry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse

from idp.pool import UserPool
from idp.pools import Pools


def openid_configuration(pool: UserPool) -> dict[str, Any]:
    base = pool.settings.public_base
    return {
        "issuer": pool.issuer,
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "token_endpoint": f"{base}/oauth2/token",
        "userinfo_endpoint": f"{base}/oauth2/userInfo",
        "end_session_endpoint": f"{base}/logout",
        "revocation_endpoint": f"{base}/oauth2/revoke",
        "jwks_uri": f"{pool.issuer}/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "email",
            "email_verified",
            "name",
            "cognito:username",
            "cognito:groups",
        ],
    }


def router(pools: Pools) -> APIRouter:
    api = APIRouter()

    def _pool(pool_id: str) -> UserPool:
        pool = pools.find(pool_id)
        if pool is None:
            raise HTTPException(404, f"unknown user pool {pool_id}")
        return pool

    @api.get("/{pool_id}/.well-known/openid-configuration")
    def discovery(pool_id: str) -> JSONResponse:
        return JSONResponse(openid_configuration(_pool(pool_id)))

    @api.get("/{pool_id}/.well-known/jwks.json")
    def jwks(pool_id: str) -> JSONResponse:
        keys = _pool(pool_id).keys.jwks()
        return JSONResponse(keys, headers={"Cache-Control": "public, max-age=300"})

    return api
