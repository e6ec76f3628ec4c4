"""The committed typed client must match the API: snapshot == create_app().openapi(), and schema.d.ts ==
openapi-typescript(snapshot). `make api-client` fixes both."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from tests.frontend.support import FRONTEND, ensure_node_modules, run_npx

SNAPSHOT = FRONTEND / "openapi" / "tasks-api.json"
SCHEMA_TS = FRONTEND / "src" / "api" / "schema.d.ts"


def test_openapi_snapshot_matches_the_api(tmp_path):
    out = tmp_path / "openapi.json"
    result = subprocess.run(
        [sys.executable, str(FRONTEND / "scripts" / "dump_openapi.py"), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    live = json.loads(out.read_text())
    committed = json.loads(SNAPSHOT.read_text())
    assert committed == live, "frontend/openapi/tasks-api.json differs from the API: run `make api-client`"


def test_generated_client_matches_the_snapshot(tmp_path):
    ensure_node_modules()
    out = tmp_path / "schema.d.ts"
    result = run_npx("openapi-typescript", str(SNAPSHOT), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text() == SCHEMA_TS.read_text(), (
        "frontend/src/api/schema.d.ts does not match openapi-typescript(snapshot): run `make api-client`"
    )
