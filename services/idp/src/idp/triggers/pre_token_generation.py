"""Pre-token-generation trigger: may add claims to the tokens Cognito issues."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    event.setdefault("response", {})
    return event
