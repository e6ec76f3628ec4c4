"""The cognito-idp JSON 1.1 API: `POST /` with `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>`.

Requests are not signature-checked (this is a local IdP; boto3 needs some credentials, any will do). Errors
are HTTP 400 with `__type` and `message`, which botocore maps to its modelled exception classes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from idp.errors import CognitoError, invalid_parameter
from idp.pool import UserPool

log = logging.getLogger("idp.api")

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_BODY = 64 * 1024

Operation = Callable[[UserPool, dict[str, Any]], dict[str, Any] | None]

OPERATIONS: dict[str, Operation] = {
    "SignUp": lambda p, r: p.sign_up(
        r.get("ClientId"), r.get("Username"), r.get("Password"), r.get("UserAttributes"), r.get("SecretHash")
    ),
    "ConfirmSignUp": lambda p, r: p.confirm_sign_up(
        r.get("ClientId"), r.get("Username"), r.get("ConfirmationCode")
    ),
    "InitiateAuth": lambda p, r: p.initiate_auth(
        r.get("ClientId"), r.get("AuthFlow"), r.get("AuthParameters")
    ),
    "RespondToAuthChallenge": lambda p, r: p.respond_to_auth_challenge(
        r.get("ClientId"), r.get("ChallengeName"), r.get("Session"), r.get("ChallengeResponses")
    ),
    "AssociateSoftwareToken": lambda p, r: p.associate_software_token(r.get("AccessToken"), r.get("Session")),
    "VerifySoftwareToken": lambda p, r: p.verify_software_token(
        r.get("AccessToken"), r.get("Session"), r.get("UserCode")
    ),
    "GetUser": lambda p, r: p.get_user(r.get("AccessToken")),
    "GlobalSignOut": lambda p, r: p.global_sign_out(r.get("AccessToken")),
    "AdminCreateUser": lambda p, r: p.admin_create_user(
        r.get("UserPoolId"),
        r.get("Username"),
        r.get("UserAttributes"),
        r.get("TemporaryPassword"),
        r.get("MessageAction"),
    ),
    "AdminSetUserPassword": lambda p, r: p.admin_set_user_password(
        r.get("UserPoolId"), r.get("Username"), r.get("Password"), r.get("Permanent", False)
    ),
    "AdminAddUserToGroup": lambda p, r: p.admin_add_user_to_group(
        r.get("UserPoolId"), r.get("Username"), r.get("GroupName")
    ),
    "AdminGetUser": lambda p, r: p.admin_get_user(r.get("UserPoolId"), r.get("Username")),
    "AdminDeleteUser": lambda p, r: p.admin_delete_user(r.get("UserPoolId"), r.get("Username")),
    "ListUsers": lambda p, r: p.list_users(
        r.get("UserPoolId"), r.get("Limit"), r.get("PaginationToken"), r.get("Filter")
    ),
}


def dispatch(pool: UserPool, operation: str, request: dict[str, Any]) -> dict[str, Any]:
    """Runs one operation; raises CognitoError for anything the caller got wrong."""
    handler = OPERATIONS.get(operation)
    if handler is None:
        raise CognitoError(
            "UnknownOperationException", f"Operation {operation} is not supported by the local IdP."
        )
    return handler(pool, request) or {}


def _error(kind: str, message: str, status: int = 400) -> Response:
    body = json.dumps({"__type": kind, "message": message})
    return Response(body, status_code=status, media_type=CONTENT_TYPE, headers={"x-amzn-ErrorType": kind})


def router(pool: UserPool) -> APIRouter:
    api = APIRouter()

    @api.post("/", include_in_schema=False)
    async def cognito_api(request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        if not target.startswith(TARGET_PREFIX):
            return _error(
                "UnknownOperationException", "X-Amz-Target must be AWSCognitoIdentityProviderService.<Op>."
            )
        operation = target[len(TARGET_PREFIX) :]
        raw = await request.body()
        if len(raw) > MAX_BODY:
            return _error("InvalidParameterException", "Request body too large.")
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise invalid_parameter("The request body must be a JSON object.")
            result = await run_in_threadpool(dispatch, pool, operation, body)
        except json.JSONDecodeError:
            return _error("SerializationException", "The request body is not valid JSON.")
        except CognitoError as exc:
            log.info("%s -> %s", operation, exc.kind)
            return _error(exc.kind, exc.message)
        except Exception:
            log.exception("%s failed", operation)
            return _error("InternalErrorException", "The local IdP failed; see its log.", status=500)
        return Response(json.dumps(result), media_type=CONTENT_TYPE)

    return api
