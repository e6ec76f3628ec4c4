"""Post-confirmation trigger: adds a newly confirmed user to the default group."""

from __future__ import annotations

import os
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import boto3

    group = os.environ.get("DEFAULT_GROUP", "Users")
    boto3.client("cognito-idp").admin_add_user_to_group(
        UserPoolId=event["userPoolId"], Username=event["userName"], GroupName=group
    )
    return event
