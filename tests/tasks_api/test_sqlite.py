"""The embedded default: no DATABASE_URL, no DB_SECRET -> SQLite under .dev/, migrated on start."""

from __future__ import annotations

from pathlib import Path

from tasks_api.app import create_app

from tests.tasks_api.conftest import _client, task_body


async def test_sqlite_crud_smoke(make_settings, tokens, tmp_path: Path) -> None:
    db_file = tmp_path / ".dev" / "tasks.db"
    settings = make_settings(None, db_secret=None, sqlite_path=db_file, migrate_on_start=False)
    assert settings.is_sqlite
    headers = tokens.bearer("sqlite-user")
    async for client in _client(create_app(settings)):
        assert db_file.exists()  # directory created, schema migrated on start
        assert (await client.get("/health/ready")).status_code == 200

        created = await client.post("/api/tasks", json=task_body(), headers=headers)
        assert created.status_code == 201, created.text
        task = created.json()
        assert task["createdAt"].endswith("Z")
        url = created.headers["location"]

        listed = await client.get("/api/tasks?day=WED&q=garden", headers=headers)
        assert [t["id"] for t in listed.json()] == [task["id"]]
        patched = await client.patch(
            url, json={"minute": 45}, headers={**headers, "If-Match": created.headers["etag"]}
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["minute"] == 45
        stale = await client.put(
            url, json=task_body(), headers={**headers, "If-Match": created.headers["etag"]}
        )
        assert stale.status_code == 412
        assert (await client.get(url, headers=tokens.bearer("other"))).status_code == 404
        assert (await client.delete(url, headers=headers)).status_code == 204
        assert (await client.get("/api/tasks", headers=headers)).json() == []
