"""Every error the IdP answers is one botocore models for cognito-idp: clients get its exception classes."""

from __future__ import annotations

import ast
from pathlib import Path

import boto3

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
