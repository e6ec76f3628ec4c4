"""Write the Tasks API's OpenAPI document (from create_app(...).openapi()) to a file, stable and sorted.

Usage: uv run python frontend/scripts/dump_openapi.py OUT.json
Exit code 3 when the API package is not importable yet (the caller then keeps the hand-kept snapshot).
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path


def build_document() -> dict:
    from tasks_api.app import create_app  # imported late: exit 3 below when the API is missing

    try:
        from tasks_api.settings import Settings
    except ImportError:  # pragma: no cover - the settings module is part of the contract
        Settings = None

    parameters = inspect.signature(create_app).parameters
    if Settings is not None and parameters:
        # No database or IdP is reached: building the schema only walks the routes.
        app = create_app(Settings(database_url=None, docs_enabled=True))
    else:
        app = create_app()
    return app.openapi()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: dump_openapi.py OUT.json", file=sys.stderr)
        return 2
    try:
        document = build_document()
    except ImportError as exc:
        print(f"tasks_api.app is not available yet ({exc}); keeping the committed snapshot", file=sys.stderr)
        return 3
    Path(argv[1]).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
