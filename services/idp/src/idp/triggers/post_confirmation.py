"""Post-confirmation trigger: adds a newly confirmed user to the default group (`Users`)."""

from __future__ import annotations

import os
from typing import Any


def handler(event: dict[str, Any], context: Any, *, cognito: Any = None) -> dict[str, Any]:
    """Cognito calls this with (event, context). The local IdP passes `cognito`, an object with boto3's
    `admin_add_user_to_group` signature that goes through its own API: the same code runs in both."""
    if event.get("triggerSource") != "PostConfirmation_ConfirmSignUp":
        return event  # forgot-password confirmations must not re-add the user
    if cognito is None:
        import boto3

        cognito = boto3.client("cognito-idp")
    group = os.environ.get("DEFAULT_GROUP", "Users")
    cognito.admin_add_user_to_group(
        UserPoolId=event["userPoolId"], Username=event["userName"], GroupName=group
    )
    return event
