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
from idp.pools import Pools

log = logging.getLogger("idp.api")

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_BODY = 64 * 1024

Operation = Callable[[UserPool, "Args"], dict[str, Any] | None]


class Args:
    """One request body, read member by member with the types botocore's model gives them; a missing
    required member or a wrong type is InvalidParameterException, so the operations get typed values."""

    def __init__(self, body: dict[str, Any]) -> None:
        self._body = body

    def _get(self, name: str, kind: type | tuple[type, ...], required: bool) -> Any:
        value = self._body.get(name)
        if value is None:
            if required:
                raise invalid_parameter(
                    f"1 validation error detected: Value null at '{name[:1].lower()}{name[1:]}' failed to "
                    "satisfy constraint: Member must not be null"
                )
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise invalid_parameter(f"{name} has the wrong type.")
        return value

    def text(self, name: str) -> str:
        return str(self._get(name, str, True))

    def opt_text(self, name: str) -> str | None:
        value = self._get(name, str, False)
        return None if value is None else str(value)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self._get(name, bool, False)
        return default if value is None else bool(value)

    def number(self, name: str) -> int | None:
        value = self._get(name, int, False)
        return None if value is None else int(value)

    def mapping(self, name: str) -> dict[str, str]:
        value = self._get(name, dict, False) or {}
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise invalid_parameter(f"{name} must map strings to strings.")
        return dict(value)

    def structure(self, name: str) -> dict[str, Any] | None:
        value = self._get(name, dict, False)
        return None if value is None else dict(value)

    def strings(self, name: str) -> list[str]:
        value = self._get(name, list, False) or []
        if not all(isinstance(v, str) for v in value):
            raise invalid_parameter(f"{name} must be a list of strings.")
        return list(value)

    def attributes(self, name: str = "UserAttributes") -> list[dict[str, str]]:
        value = self._get(name, list, False) or []
        out = []
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
                raise invalid_parameter(f"Each of {name} needs a Name.")
            out.append({"Name": item["Name"], "Value": str(item.get("Value", ""))})
        return out


OPERATIONS: dict[str, Operation] = {
    # sign-in (signin.py)
    "InitiateAuth": lambda p, a: p.signin.initiate_auth(
        a.text("ClientId"), a.opt_text("AuthFlow"), a.mapping("AuthParameters")
    ),
    "RespondToAuthChallenge": lambda p, a: p.signin.respond_to_auth_challenge(
        a.text("ClientId"),
        a.opt_text("ChallengeName"),
        a.opt_text("Session"),
        a.mapping("ChallengeResponses"),
    ),
    "AdminInitiateAuth": lambda p, a: p.signin.admin_initiate_auth(
        a.text("UserPoolId"), a.text("ClientId"), a.opt_text("AuthFlow"), a.mapping("AuthParameters")
    ),
    "AdminRespondToAuthChallenge": lambda p, a: p.signin.admin_respond_to_auth_challenge(
        a.text("UserPoolId"),
        a.text("ClientId"),
        a.opt_text("ChallengeName"),
        a.opt_text("Session"),
        a.mapping("ChallengeResponses"),
    ),
    "AssociateSoftwareToken": lambda p, a: p.signin.associate_software_token(
        a.opt_text("AccessToken"), a.opt_text("Session")
    ),
    "VerifySoftwareToken": lambda p, a: p.signin.verify_software_token(
        a.opt_text("AccessToken"), a.opt_text("Session"), a.text("UserCode")
    ),
    # self-service (accounts.py)
    "SignUp": lambda p, a: p.accounts.sign_up(
        a.text("ClientId"), a.text("Username"), a.text("Password"), a.attributes(), a.opt_text("SecretHash")
    ),
    "ConfirmSignUp": lambda p, a: p.accounts.confirm_sign_up(
        a.text("ClientId"), a.text("Username"), a.text("ConfirmationCode"), a.opt_text("SecretHash")
    ),
    "ResendConfirmationCode": lambda p, a: p.accounts.resend_confirmation_code(
        a.text("ClientId"), a.text("Username"), a.opt_text("SecretHash")
    ),
    "ForgotPassword": lambda p, a: p.accounts.forgot_password(
        a.text("ClientId"), a.text("Username"), a.opt_text("SecretHash")
    ),
    "ConfirmForgotPassword": lambda p, a: p.accounts.confirm_forgot_password(
        a.text("ClientId"),
        a.text("Username"),
        a.text("ConfirmationCode"),
        a.text("Password"),
        a.opt_text("SecretHash"),
    ),
    "GetUser": lambda p, a: p.accounts.get_user(a.text("AccessToken")),
    "ChangePassword": lambda p, a: p.accounts.change_password(
        a.text("AccessToken"), a.text("PreviousPassword"), a.text("ProposedPassword")
    ),
    "UpdateUserAttributes": lambda p, a: p.accounts.update_user_attributes(
        a.text("AccessToken"), a.attributes()
    ),
    "GetUserAttributeVerificationCode": lambda p, a: p.accounts.get_user_attribute_verification_code(
        a.text("AccessToken"), a.text("AttributeName")
    ),
    "VerifyUserAttribute": lambda p, a: p.accounts.verify_user_attribute(
        a.text("AccessToken"), a.text("AttributeName"), a.text("Code")
    ),
    "SetUserMFAPreference": lambda p, a: p.accounts.set_own_mfa_preference(
        a.text("AccessToken"), a.structure("SoftwareTokenMfaSettings"), a.structure("SMSMfaSettings")
    ),
    "GlobalSignOut": lambda p, a: p.accounts.global_sign_out(a.text("AccessToken")),
    "DeleteUser": lambda p, a: p.accounts.delete_user(a.text("AccessToken")),
    "RevokeToken": lambda p, a: p.accounts.revoke_token(
        a.text("ClientId"), a.text("Token"), a.opt_text("ClientSecret")
    ),
    # administration (admin.py)
    "AdminCreateUser": lambda p, a: p.admin.create_user(
        a.text("UserPoolId"),
        a.text("Username"),
        a.attributes(),
        a.opt_text("TemporaryPassword"),
        a.opt_text("MessageAction"),
    ),
    "AdminSetUserPassword": lambda p, a: p.admin.set_user_password(
        a.text("UserPoolId"), a.text("Username"), a.text("Password"), a.flag("Permanent")
    ),
    "AdminGetUser": lambda p, a: p.admin.get_user(a.text("UserPoolId"), a.text("Username")),
    "AdminDeleteUser": lambda p, a: p.admin.delete_user(a.text("UserPoolId"), a.text("Username")),
    "AdminUpdateUserAttributes": lambda p, a: p.admin.update_user_attributes(
        a.text("UserPoolId"), a.text("Username"), a.attributes()
    ),
    "AdminResetUserPassword": lambda p, a: p.admin.reset_user_password(
        a.text("UserPoolId"), a.text("Username")
    ),
    "AdminConfirmSignUp": lambda p, a: p.admin.confirm_sign_up(a.text("UserPoolId"), a.text("Username")),
    "AdminDisableUser": lambda p, a: p.admin.set_enabled(a.text("UserPoolId"), a.text("Username"), False),
    "AdminEnableUser": lambda p, a: p.admin.set_enabled(a.text("UserPoolId"), a.text("Username"), True),
    "AdminUserGlobalSignOut": lambda p, a: p.admin.user_global_sign_out(
        a.text("UserPoolId"), a.text("Username")
    ),
    "AdminSetUserMFAPreference": lambda p, a: p.admin.set_user_mfa_preference(
        a.text("UserPoolId"),
        a.text("Username"),
        a.structure("SoftwareTokenMfaSettings"),
        a.structure("SMSMfaSettings"),
    ),
    "AdminAddUserToGroup": lambda p, a: p.admin.add_user_to_group(
        a.text("UserPoolId"), a.text("Username"), a.text("GroupName")
    ),
    "AdminRemoveUserFromGroup": lambda p, a: p.admin.remove_user_from_group(
        a.text("UserPoolId"), a.text("Username"), a.text("GroupName")
    ),
    "AdminListGroupsForUser": lambda p, a: p.admin.list_groups_for_user(
        a.text("UserPoolId"), a.text("Username"), a.number("Limit"), a.opt_text("NextToken")
    ),
    "ListUsers": lambda p, a: p.admin.list_users(
        a.text("UserPoolId"), a.number("Limit"), a.opt_text("PaginationToken"), a.opt_text("Filter")
    ),
    "ListUsersInGroup": lambda p, a: p.admin.list_users_in_group(
        a.text("UserPoolId"), a.text("GroupName"), a.number("Limit"), a.opt_text("NextToken")
    ),
    "CreateGroup": lambda p, a: p.admin.create_group(
        a.text("UserPoolId"), a.text("GroupName"), a.opt_text("Description"), a.number("Precedence")
    ),
    "GetGroup": lambda p, a: p.admin.get_group(a.text("UserPoolId"), a.text("GroupName")),
    "ListGroups": lambda p, a: p.admin.list_groups(
        a.text("UserPoolId"), a.number("Limit"), a.opt_text("NextToken")
    ),
    "DeleteGroup": lambda p, a: p.admin.delete_group(a.text("UserPoolId"), a.text("GroupName")),
    "DescribeUserPool": lambda p, a: p.admin.describe_user_pool(a.text("UserPoolId")),
    "DescribeUserPoolClient": lambda p, a: p.admin.describe_user_pool_client(
        a.text("UserPoolId"), a.text("ClientId")
    ),
    "ListUserPoolClients": lambda p, a: p.admin.list_user_pool_clients(
        a.text("UserPoolId"), a.number("MaxResults"), a.opt_text("NextToken")
    ),
    "CreateUserPoolClient": lambda p, a: p.admin.create_user_pool_client(
        a.text("UserPoolId"),
        a.text("ClientName"),
        a.flag("GenerateSecret"),
        a.strings("ExplicitAuthFlows"),
        a.strings("AllowedOAuthFlows"),
        a.strings("AllowedOAuthScopes"),
        a.strings("CallbackURLs"),
        a.strings("LogoutURLs"),
    ),
}


# Operations on the set of pools rather than on one.
POOL_OPERATIONS: dict[str, Callable[[Pools, Args], dict[str, Any]]] = {
    "CreateUserPool": lambda pools, a: pools.create(a.text("PoolName"), a.opt_text("MfaConfiguration")),
    "ListUserPools": lambda pools, a: pools.list(a.number("MaxResults")),
}


def target_pool(pools: Pools, request: dict[str, Any]) -> UserPool:
    """The pool a request is for: the one it names, its client's, its access token's, or its session's."""
    for member, find in (
        ("UserPoolId", pools.get),
        ("ClientId", pools.for_client),
        ("AccessToken", pools.for_access_token),
        ("Session", pools.for_session),
    ):
        value = request.get(member)
        if isinstance(value, str) and value:
            return find(value)
    return pools.main


def dispatch(pools: Pools, operation: str, request: dict[str, Any]) -> dict[str, Any]:
    """Runs one operation; raises CognitoError for anything the caller got wrong."""
    on_pools = POOL_OPERATIONS.get(operation)
    if on_pools is not None:
        return on_pools(pools, Args(request))
    handler = OPERATIONS.get(operation)
    if handler is None:
        raise CognitoError(
            "UnknownOperationException", f"Operation {operation} is not supported by the local IdP."
        )
    return handler(target_pool(pools, request), Args(request)) or {}


def _error(kind: str, message: str, status: int = 400) -> Response:
    body = json.dumps({"__type": kind, "message": message})
    return Response(body, status_code=status, media_type=CONTENT_TYPE, headers={"x-amzn-ErrorType": kind})


def router(pools: Pools) -> APIRouter:
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
            result = await run_in_threadpool(dispatch, pools, operation, body)
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
