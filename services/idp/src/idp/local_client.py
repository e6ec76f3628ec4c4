"""A stand-in for `boto3.client("cognito-idp")` that the local IdP hands to its Lambda triggers.

Method calls are turned into operation names the way botocore does it (`admin_add_user_to_group` ->
`AdminAddUserToGroup`) and run through the same dispatcher as `POST /`, so a trigger gets the same validation
and the same `CognitoError`s as over HTTP, without the IdP calling itself over the network while it is
handling a request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Dispatch = Callable[[str, dict[str, Any]], dict[str, Any]]


class LocalCognitoClient:
    def __init__(self, dispatch: Dispatch) -> None:
        self._dispatch = dispatch

    def __getattr__(self, method: str) -> Callable[..., dict[str, Any]]:
        if method.startswith("_"):
            raise AttributeError(method)
        operation = "".join(part.capitalize() for part in method.split("_"))

        def call(**params: Any) -> dict[str, Any]:
            return self._dispatch(operation, params)

        return call
