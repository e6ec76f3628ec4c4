"""Field rules: each invalid field is a 422 problem naming that field in camelCase; nothing is written."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.tasks_api.conftest import task_body

PAST = (datetime.now(UTC) - timedelta(days=1)).isoformat()

INVALID = [
    ("name", ""),
    ("name", "   "),
    ("name", "x" * 61),
    ("name", 42),
    ("description", "d" * 256),
    ("hour", -1),
    ("hour", 24),
    ("hour", "7"),
    ("hour", 7.5),
    ("minute", 60),
    ("minute", -5),
    ("executionDays", ""),
    ("executionDays", "MON,FUNDAY"),
    ("executionDays", "MON,,TUE"),
    ("executionDays", ["MON"]),
    ("executionCommand", "c" * 256),
    ("executeUntil", "2030-01-01T00:00:00"),  # no offset
    ("executeUntil", "tomorrow"),
    ("executeUntil", PAST),  # in the past, on create
    ("timeZone", "Mars/Olympus_Mons"),
    ("timeZone", "../../etc/passwd"),
    ("timeZone", ""),
    ("status", "ON"),
    ("status", "act"),
    ("deviceId", "d" * 31),
    ("deviceOperation", "TOGGLE"),
    ("unknownField", "x"),
    ("ownerSub", "someone-else"),
]


@pytest.mark.parametrize(("field", "value"), INVALID, ids=[f"{f}={v!r}"[:40] for f, v in INVALID])
async def test_invalid_field_is_422_naming_it(
    client: httpx.AsyncClient, alice, field: str, value: object
) -> None:
    response = await client.post("/api/tasks", json={**task_body(), field: value}, headers=alice)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["type"].endswith("validation-error")
    assert field in {e["field"] for e in problem["errors"]}, problem
    assert "Traceback" not in response.text


async def test_nothing_written_by_invalid_requests(client: httpx.AsyncClient, alice) -> None:
    for field, value in INVALID:
        await client.post("/api/tasks", json={**task_body(), field: value}, headers=alice)
    assert (await client.get("/api/tasks", headers=alice)).json() == []


@pytest.mark.parametrize("missing", ["name", "hour", "minute", "executionDays"])
async def test_required_fields(client: httpx.AsyncClient, alice, missing: str) -> None:
    body = {k: v for k, v in task_body().items() if k != missing}
    response = await client.post("/api/tasks", json=body, headers=alice)
    assert response.status_code == 422
    assert missing in {e["field"] for e in response.json()["errors"]}


async def test_several_errors_reported_together(client: httpx.AsyncClient, alice) -> None:
    response = await client.post("/api/tasks", json=task_body(hour=99, minute=99, status="X"), headers=alice)
    assert {"hour", "minute", "status"} <= {e["field"] for e in response.json()["errors"]}


async def test_boundaries_accepted(client: httpx.AsyncClient, alice) -> None:
    body = task_body(
        name="n" * 60,
        description="d" * 255,
        hour=23,
        minute=59,
        executionDays="sun,sat,fri,thu,wed,tue,mon",
        executionCommand="c" * 255,
        deviceId="x" * 30,
        deviceOperation="DEACTIVATE",
        timeZone="Europe/Berlin",
        executeUntil=(datetime.now(UTC) + timedelta(days=30)).isoformat(),
    )
    response = await client.post("/api/tasks", json=body, headers=alice)
    assert response.status_code == 201, response.text
    assert response.json()["executionDays"] == "MON,TUE,WED,THU,FRI,SAT,SUN"


async def test_malformed_json_is_422(client: httpx.AsyncClient, alice) -> None:
    response = await client.post(
        "/api/tasks", content=b'{"name": ', headers={**alice, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_body_must_be_an_object(client: httpx.AsyncClient, alice) -> None:
    response = await client.post("/api/tasks", json=[task_body()], headers=alice)
    assert response.status_code == 422


@pytest.mark.parametrize("path", ["/api/tasks/abc", "/api/tasks/0", "/api/tasks/99999999999999999999999"])
async def test_bad_path_id_is_422(client: httpx.AsyncClient, alice, path: str) -> None:
    response = await client.get(path, headers=alice)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "taskId"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "501"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WzEsMiwiMyJd"}, "cursor"),  # [1,2,"3"]
        ({"status": "ON"}, "status"),
        ({"day": "FUN"}, "day"),
        ({"q": ""}, "q"),
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, alice, params: dict, field: str
) -> None:
    response = await client.get("/api/tasks", params=params, headers=alice)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}


async def test_patch_validates_merged_fields(client: httpx.AsyncClient, alice) -> None:
    created = (await client.post("/api/tasks", json=task_body(), headers=alice)).json()
    for body, field in (({"hour": 30}, "hour"), ({"executionDays": "XYZ"}, "executionDays"), ({"x": 1}, "x")):
        response = await client.patch(f"/api/tasks/{created['id']}", json=body, headers=alice)
        assert response.status_code == 422
        assert field in {e["field"] for e in response.json()["errors"]}
    assert (await client.get(f"/api/tasks/{created['id']}", headers=alice)).json() == created


async def test_body_must_be_sent_as_json(client: httpx.AsyncClient, alice) -> None:
    body = json.dumps(task_body())
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {**alice} if content_type is None else {**alice, "Content-Type": content_type}
        response = await client.post("/api/tasks", content=body, headers=headers)
        assert response.status_code == 415, (content_type, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get("/api/tasks", headers=alice)).json() == []


async def test_json_media_types_with_parameters_and_suffixes_are_json(
    client: httpx.AsyncClient, alice
) -> None:
    created = await client.post(
        "/api/tasks",
        content=json.dumps(task_body()),
        headers={**alice, "Content-Type": "application/json; charset=utf-8"},
    )
    assert created.status_code == 201, created.text
    patched = await client.patch(
        created.headers["location"],
        content=json.dumps({"minute": 5}),
        headers={**alice, "Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["minute"] == 5
