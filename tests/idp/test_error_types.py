"""Every error the IdP answers is one botocore models for cognito-idp: clients get its exception classes."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import boto3
import httpx
from idp.cognito_api import OPERATIONS, POOL_OPERATIONS

from tests.idp.support import CLIENT, POOL, RunningIdp

SOURCE = Path(__file__).resolve().parents[2] / "services" / "idp" / "src" / "idp"
# Errors of the JSON protocol itself (no operation models them): botocore raises a ClientError with the code.
PROTOCOL_ERRORS = {"SerializationException", "UnknownOperationException"}


def error_kinds() -> set[str]:
    """The `__type` of every `CognitoError(...)` and `_error(...)` with a literal kind in the IdP's source."""
    kinds = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in ("CognitoError", "_error"):
                kinds.add(str(node.args[0].value))
    return kinds


def test_every_error_type_is_modelled_by_botocore() -> None:
    model = boto3.client("cognito-idp", region_name="us-east-1").meta.service_model
    modelled = {shape.name for shape in model.error_shapes}
    kinds = error_kinds()
    assert {"NotAuthorizedException", "UnsupportedTokenTypeException", "LimitExceededException"} <= kinds
    assert kinds - modelled == PROTOCOL_ERRORS


def test_no_operation_answers_a_malformed_body_with_a_500(idp: RunningIdp) -> None:
    """Missing members and members of the wrong type are the caller's mistake: a 400 with a modelled type
    (a body that happens to be valid may succeed)."""
    members = ["UserPoolId", "ClientId", "Username", "AccessToken", "Session", "GroupName", "Password"]
    bodies: list[dict[str, object]] = [
        {},
        {m: 7 for m in members},
        {m: ["x"] for m in members},
        {"UserPoolId": POOL, "ClientId": CLIENT, "AuthParameters": "x", "ChallengeResponses": [1]},
        {"UserPoolId": POOL, "ClientId": CLIENT, "UserAttributes": [{"Value": "no name"}], "Limit": "ten"},
    ]
    model = boto3.client("cognito-idp", region_name="us-east-1").meta.service_model
    modelled = {shape.name for shape in model.error_shapes} | PROTOCOL_ERRORS
    with httpx.Client(base_url=idp.url) as http:
        answers = [
            (
                operation,
                body,
                http.post(
                    "/",
                    content=json.dumps(body),
                    headers={
                        "X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}",
                        "Content-Type": "application/x-amz-json-1.1",
                    },
                ),
            )
            for operation in [*OPERATIONS, *POOL_OPERATIONS]
            for body in bodies
        ]
    for operation, body, response in answers:
        assert response.status_code in (200, 400), (operation, body, response.text)
        if response.status_code == 400:
            assert response.json()["__type"] in modelled, (operation, body, response.text)
