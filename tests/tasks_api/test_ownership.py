"""Two users: every {id} route, on both path families, treats the other user's task as nonexistent (404)."""

from __future__ import annotations

import httpx
import pytest

from tests.tasks_api.conftest import task_body

ROUTES = [
    ("GET", "/api/tasks/{id}"),
    ("PUT", "/api/tasks/{id}"),
    ("PATCH", "/api/tasks/{id}"),
    ("DELETE", "/api/tasks/{id}"),
    ("GET", "/api/task/{id}"),
    ("PUT", "/api/task/{id}"),
    ("DELETE", "/api/task/{id}"),
]


@pytest.mark.parametrize(("method", "template"), ROUTES)
async def test_other_users_task_is_404(
    client: httpx.AsyncClient, alice, bob, method: str, template: str
) -> None:
    alices = (await client.post("/api/tasks", json=task_body(name="Alice's"), headers=alice)).json()
    bobs = (await client.post("/api/tasks", json=task_body(name="Bob's"), headers=bob)).json()
    body = {"name": "hijacked"} if method == "PATCH" else task_body(name="hijacked")

    # Bob on Alice's task, with and without a matching If-Match: 404, never 403, never a change.
    for extra in ({}, {"If-Match": "*"}):
        response = await client.request(
            method, template.format(id=alices["id"]), json=body, headers={**bob, **extra}
        )
        assert response.status_code == 404, response.text
        assert response.json()["detail"] == "No such task."
    # Same answer as for an id that does not exist at all: no oracle.
    missing = await client.request(method, template.format(id=alices["id"] + 10_000), json=body, headers=bob)
    assert missing.status_code == 404
    assert (await client.get(f"/api/tasks/{alices['id']}", headers=alice)).json() == alices

    # Each owner still works on their own task.
    own = await client.request(method, template.format(id=bobs["id"]), json=body, headers=bob)
    assert own.status_code in {200, 204}


async def test_lists_are_disjoint(client: httpx.AsyncClient, alice, bob) -> None:
    for i in range(3):
        await client.post("/api/tasks", json=task_body(name=f"alice {i}"), headers=alice)
    await client.post("/api/tasks", json=task_body(name="bob 0"), headers=bob)
    alice_names = {t["name"] for t in (await client.get("/api/tasks", headers=alice)).json()}
    bob_names = {t["name"] for t in (await client.get("/api/tasks", headers=bob)).json()}
    assert alice_names == {"alice 0", "alice 1", "alice 2"}
    assert bob_names == {"bob 0"}
