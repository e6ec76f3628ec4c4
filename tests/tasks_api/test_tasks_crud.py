"""Every task endpoint, canonical and original paths, on real Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.tasks_api.conftest import task_body

FIELDS = {
    "id",
    "jobId",
    "name",
    "description",
    "hour",
    "minute",
    "executionDays",
    "executionCommand",
    "executeUntil",
    "timeZone",
    "status",
    "deviceId",
    "deviceOperation",
    "nextRunAt",
    "createdAt",
    "updatedAt",
}


async def _create(client: httpx.AsyncClient, headers: dict[str, str], **overrides: object) -> dict:
    response = await client.post("/api/tasks", json=task_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_returns_201_location_etag_and_the_task(client: httpx.AsyncClient, alice) -> None:
    response = await client.post(
        "/api/tasks", json=task_body(name="  Lights on  ", executionDays="fri,mon,Wed,mon"), headers=alice
    )
    assert response.status_code == 201
    task = response.json()
    assert set(task) == FIELDS
    assert response.headers["location"] == f"/api/tasks/{task['id']}"
    assert response.headers["etag"]
    assert task["name"] == "Lights on"  # trimmed
    assert task["executionDays"] == "MON,WED,FRI"  # week order, no duplicates
    assert task["status"] == "ACT"
    assert 0 < len(task["jobId"]) <= 31
    assert task["nextRunAt"] is not None
    fetched = await client.get(response.headers["location"], headers=alice)
    assert fetched.status_code == 200
    assert fetched.json() == task
    assert fetched.headers["etag"] == response.headers["etag"]


async def test_time_zone_defaults_to_setting(client: httpx.AsyncClient, alice) -> None:
    task = await _create(client, alice, timeZone=None)
    assert task["timeZone"] == "America/Guayaquil"


async def test_next_run_at_is_the_next_slot_in_the_task_zone(client: httpx.AsyncClient, alice) -> None:
    task = await _create(client, alice, hour=8, minute=15, executionDays="MON,TUE,WED,THU,FRI,SAT,SUN")
    next_run = datetime.fromisoformat(task["nextRunAt"])
    assert next_run > datetime.now(UTC)
    assert next_run - datetime.now(UTC) <= timedelta(days=1)
    # Guayaquil is UTC-5 all year: 08:15 local is 13:15 UTC.
    assert (next_run.hour, next_run.minute) == (13, 15)


async def test_inactive_task_never_runs(client: httpx.AsyncClient, alice) -> None:
    task = await _create(client, alice, status="INA")
    assert task["nextRunAt"] is None


async def test_list_returns_only_own_tasks_in_time_order(client: httpx.AsyncClient, alice, bob) -> None:
    for hour, minute in ((9, 0), (7, 45), (7, 5), (23, 59)):
        await _create(client, alice, hour=hour, minute=minute, name=f"a-{hour}-{minute}")
    await _create(client, bob, hour=1, minute=0, name="bob's")
    response = await client.get("/api/tasks", headers=alice)
    assert response.status_code == 200
    assert [t["name"] for t in response.json()] == ["a-7-5", "a-7-45", "a-9-0", "a-23-59"]
    assert "link" not in response.headers


async def test_list_filters(client: httpx.AsyncClient, alice) -> None:
    await _create(client, alice, name="Porch light", executionDays="MON", status="ACT")
    await _create(client, alice, name="Garden pump", executionDays="SAT,SUN", status="INA")
    await _create(client, alice, name="100%_literal", executionDays="SUN", status="ACT")

    async def names(**params: str) -> list[str]:
        response = await client.get("/api/tasks", params=params, headers=alice)
        assert response.status_code == 200, response.text
        return sorted(t["name"] for t in response.json())

    assert await names(status="INA") == ["Garden pump"]
    assert await names(day="SUN") == ["100%_literal", "Garden pump"]
    assert await names(q="LIGHT") == ["Porch light"]
    assert await names(q="%") == ["100%_literal"]  # LIKE wildcards are literal
    assert await names(q="_") == ["100%_literal"]
    assert await names(day="SUN", status="ACT") == ["100%_literal"]


async def test_put_replaces_mutable_fields(client: httpx.AsyncClient, alice) -> None:
    created = await _create(client, alice)
    body = {"name": "Renamed", "hour": 22, "minute": 0, "executionDays": "SUN"}
    response = await client.put(f"/api/tasks/{created['id']}", json=body, headers=alice)
    assert response.status_code == 200, response.text
    task = response.json()
    assert task["name"] == "Renamed"
    assert (task["hour"], task["minute"], task["executionDays"]) == (22, 0, "SUN")
    # Replaced: what the body left out goes back to its default.
    assert task["description"] is None
    assert task["deviceId"] is None
    assert task["timeZone"] == "America/Guayaquil"
    # Server fields stay.
    assert task["jobId"] == created["jobId"]
    assert task["createdAt"] == created["createdAt"]
    assert task["updatedAt"] >= created["updatedAt"]
    assert response.headers["etag"] != ""


async def test_put_accepts_echoed_read_only_fields(client: httpx.AsyncClient, alice) -> None:
    # The original's app sends the whole entity back; server fields are ignored, not assigned.
    created = await _create(client, alice)
    echoed = {**created, "name": "Edited", "jobId": "attacker-chosen", "createdAt": "2000-01-01T00:00:00Z"}
    response = await client.put(f"/api/tasks/{created['id']}", json=echoed, headers=alice)
    assert response.status_code == 200, response.text
    assert response.json()["jobId"] == created["jobId"]
    assert response.json()["createdAt"] == created["createdAt"]
    assert response.json()["name"] == "Edited"


async def test_put_with_other_id_in_body_is_400(client: httpx.AsyncClient, alice) -> None:
    created = await _create(client, alice)
    response = await client.put(
        f"/api/tasks/{created['id']}", json=task_body(id=created["id"] + 1), headers=alice
    )
    assert response.status_code == 400


async def test_patch_merges(client: httpx.AsyncClient, alice) -> None:
    created = await _create(client, alice)
    response = await client.patch(f"/api/tasks/{created['id']}", json={"status": "INA"}, headers=alice)
    assert response.status_code == 200, response.text
    task = response.json()
    assert task["status"] == "INA"
    assert task["nextRunAt"] is None  # recomputed on status change
    assert {k: v for k, v in task.items() if k not in {"status", "nextRunAt", "updatedAt"}} == {
        k: v for k, v in created.items() if k not in {"status", "nextRunAt", "updatedAt"}
    }
    again = await client.patch(
        f"/api/tasks/{created['id']}",
        json={"status": "ACT", "description": None},
        headers={**alice, "Content-Type": "application/merge-patch+json"},
    )
    assert again.status_code == 200, again.text
    assert again.json()["nextRunAt"] is not None
    assert again.json()["description"] is None


async def test_patch_cannot_null_a_required_field(client: httpx.AsyncClient, alice) -> None:
    created = await _create(client, alice)
    response = await client.patch(
        f"/api/tasks/{created['id']}",
        json={"name": None, "hour": None, "executionDays": None, "timeZone": None, "description": None},
        headers=alice,
    )
    assert response.status_code == 422
    # Named as the client sent them (camelCase); a nullable field may be cleared.
    assert {e["field"] for e in response.json()["errors"]} == {"name", "hour", "executionDays", "timeZone"}


async def test_post_with_an_id_is_400(client: httpx.AsyncClient, alice) -> None:
    response = await client.post("/api/tasks", json=task_body(id=5), headers=alice)
    assert response.status_code == 400
    assert "must not carry an id" in response.json()["detail"]


async def test_delete_then_404(client: httpx.AsyncClient, alice) -> None:
    created = await _create(client, alice)
    response = await client.delete(f"/api/tasks/{created['id']}", headers=alice)
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"/api/tasks/{created['id']}", headers=alice)).status_code == 404
    assert (await client.delete(f"/api/tasks/{created['id']}", headers=alice)).status_code == 404


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
async def test_unknown_id_is_404_problem(client: httpx.AsyncClient, alice, method: str) -> None:
    response = await client.request(method, "/api/tasks/987654", json=task_body(), headers=alice)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


async def test_original_paths_work_and_are_deprecated(client: httpx.AsyncClient, alice) -> None:
    created = await client.post("/api/task", json=task_body(), headers=alice)
    assert created.status_code == 201
    task_id = created.json()["id"]
    assert (await client.get(f"/api/task/{task_id}", headers=alice)).json()["id"] == task_id
    updated = await client.put(f"/api/task/{task_id}", json=task_body(name="Via old path"), headers=alice)
    assert updated.json()["name"] == "Via old path"
    assert (await client.delete(f"/api/task/{task_id}", headers=alice)).status_code == 204
    assert (await client.get(f"/api/tasks/{task_id}", headers=alice)).status_code == 404
    spec = (await client.get("/openapi.json")).json()
    assert spec["paths"]["/api/task"]["post"]["deprecated"] is True
    assert spec["paths"]["/api/task/{task_id}"]["delete"]["deprecated"] is True
    assert not spec["paths"]["/api/tasks"]["post"].get("deprecated", False)


async def test_post_with_id_is_400(client: httpx.AsyncClient, alice) -> None:
    response = await client.post("/api/task", json=task_body(id=5), headers=alice)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get("/api/tasks", headers=alice)).json() == []


# --- ETag / If-Match ---------------------------------------------------------------------------


async def test_if_match_stale_is_412_and_current_succeeds(client: httpx.AsyncClient, alice) -> None:
    created = await client.post("/api/tasks", json=task_body(), headers=alice)
    url, tab1_etag = created.headers["location"], created.headers["etag"]
    tab2_etag = (await client.get(url, headers=alice)).headers["etag"]

    first = await client.patch(url, json={"name": "Tab 1"}, headers={**alice, "If-Match": tab1_etag})
    assert first.status_code == 200
    assert first.headers["etag"] != tab1_etag

    for method, body in (("PATCH", {"name": "Tab 2"}), ("PUT", task_body(name="Tab 2")), ("DELETE", None)):
        stale = await client.request(method, url, json=body, headers={**alice, "If-Match": tab2_etag})
        assert stale.status_code == 412, method
        assert stale.headers["content-type"] == "application/problem+json"
    assert (await client.get(url, headers=alice)).json()["name"] == "Tab 1"

    current = first.headers["etag"]
    assert (
        await client.put(url, json=task_body(), headers={**alice, "If-Match": current})
    ).status_code == 200
    assert (await client.delete(url, headers={**alice, "If-Match": "*"})).status_code == 204


async def test_unconditional_write_still_allowed(client: httpx.AsyncClient, alice) -> None:
    created = await _create(client, alice)
    response = await client.patch(f"/api/tasks/{created['id']}", json={"minute": 1}, headers=alice)
    assert response.status_code == 200
