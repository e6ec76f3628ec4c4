"""Connections lost under a request: reads retry on a fresh connection, writes answer 503, writing nothing."""

from __future__ import annotations

from tasks_api.app import create_app

from tests.support.postgres import terminate_backends
from tests.tasks_api.conftest import _client, task_body


async def test_reads_survive_killed_connections_writes_get_503(
    make_settings, postgres_url: str, tokens
) -> None:
    # No pre-ping at all, so the dead connections are only found by the statements themselves.
    settings = make_settings(postgres_url, db_pool_pre_ping=False, db_pool_size=2)
    headers = tokens.bearer("fail-over-user")
    async for client in _client(create_app(settings)):
        created = await client.post("/api/tasks", json=task_body(), headers=headers)
        assert created.status_code == 201
        url = created.headers["location"]

        assert await terminate_backends(postgres_url, application_name="tasks-api") >= 1
        listed = await client.get("/api/tasks", headers=headers)
        assert listed.status_code == 200, listed.text
        assert [t["id"] for t in listed.json()] == [created.json()["id"]]

        assert await terminate_backends(postgres_url, application_name="tasks-api") >= 1
        assert (await client.get(url, headers=headers)).status_code == 200

        assert await terminate_backends(postgres_url, application_name="tasks-api") >= 1
        write = await client.post("/api/tasks", json=task_body(name="during fail-over"), headers=headers)
        assert write.status_code in {201, 503}
        if write.status_code == 503:
            assert write.headers["retry-after"].isdigit()
        names = [t["name"] for t in (await client.get("/api/tasks", headers=headers)).json()]
        # Exactly what the answers said: a 201 is stored, a 503 left nothing behind.
        assert names.count("during fail-over") == (1 if write.status_code == 201 else 0)
