"""Pre-token-generation trigger (version 1 event): may add claims to the id token Cognito issues.

By default it changes nothing. `EXTRA_ID_TOKEN_CLAIMS` (a JSON object of string claims) is added to every id
token, a hook for deployments that need, say, a tenant claim without redeploying code.
"""

from __future__ import annotations

import json
import os
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    extra = os.environ.get("EXTRA_ID_TOKEN_CLAIMS")
    response = event.setdefault("response", {})
    if extra:
        claims = json.loads(extra)
        if not isinstance(claims, dict):
            raise ValueError("EXTRA_ID_TOKEN_CLAIMS must be a JSON object")
        response["claimsOverrideDetails"] = {"claimsToAddOrOverride": {k: str(v) for k, v in claims.items()}}
    return event
