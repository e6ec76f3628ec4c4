"""The OpenAPI document is a contract with the SPA and generated clients: it changes only on purpose.

Regenerate after a deliberate change (then review the diff of openapi.golden.json):
    UPDATE_OPENAPI_GOLDEN=1 uv run pytest tests/tasks_api/test_openapi_golden.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tasks_api.app import create_app
from tasks_api.settings import Settings

GOLDEN = Path(__file__).with_name("openapi.golden.json")


def current_document() -> dict[str, Any]:
    settings = Settings(
        database_url=None, auth_issuer="https://issuer.example", auth_client_ids=["client"], docs_enabled=True
    )
    return create_app(settings).openapi()


def _render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def test_the_openapi_document_equals_the_golden_copy() -> None:
    document = current_document()
    if os.environ.get("UPDATE_OPENAPI_GOLDEN") == "1":
        GOLDEN.write_text(_render(document))
    # Compared as JSON values: the order of an object's keys means nothing, the order of a list does.
    assert document == json.loads(GOLDEN.read_text()), "the OpenAPI document changed; see the docstring"
