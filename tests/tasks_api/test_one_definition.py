"""A task's fields are defined once: a column added to the table reaches the API, both stores, the document.

The column is added in a fresh interpreter (note_column.py), so the derived lists are built with it, as they
are at startup. Were any of them written by hand again (the models' fields, the columns a write carries, the
statements, the JSON document), the note would be refused, dropped or missing below.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def report(postgres_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = postgres_server.create_database()
    sqlite_file = tmp_path_factory.mktemp("note") / "tasks.db"
    try:
        run = subprocess.run(
            [sys.executable, "-m", "tests.tasks_api.note_column", url, str(sqlite_file)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        postgres_server.drop_database(url.rsplit("/", 1)[1])
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_a_new_column_is_in_the_openapi_document(report: dict[str, Any]) -> None:
    schemas = report["openapi"]
    note = {"anyOf": [{"maxLength": 80, "pattern": "^[^\\x00]*$", "type": "string"}, {"type": "null"}]}
    assert schemas["TaskFields"]["note"] == {**note, "title": "Note"}
    assert schemas["TaskPatch"]["note"] == {**note, "title": "Note"}
    assert schemas["TaskOut"]["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Note"}
    assert list(schemas["TaskOut"])[-1] == "note"  # appended, in the table's order


@pytest.mark.parametrize("store", ["postgresql", "sqlite"])
def test_a_new_column_round_trips_through_the_store(report: dict[str, Any], store: str) -> None:
    result = report[store]
    status, created = result["created"]
    assert status == 201, created
    assert created["note"] == "front lawn"
    assert result["fetched"] == created
    assert [task["note"] for task in result["listed"]] == ["front lawn"]
    status, patched = result["patched"]
    assert status == 200, patched
    assert patched["note"] == "back yard"
    assert patched["name"] == created["name"]  # a merge patch: the rest stays
    assert result["cleared"]["note"] is None
    assert result["too_long"] == 422  # the column's length is the API's check
    assert list(created) == list(patched)  # one document shape, TaskOut's order
