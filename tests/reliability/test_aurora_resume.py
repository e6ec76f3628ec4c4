"""Aurora resume: while the database refuses connections for a few seconds, reads retry with bounded backoff
and succeed once it is back; writes are not retried and answer 503 with Retry-After."""

from __future__ import annotations

import threading
import time

import httpx
import psycopg
import pytest

from tests.reliability.served import task_body
from tests.support.postgres import with_driver
from tests.support.tokens import TokenFactory

READ_RETRY_SECONDS = 4.0
PAUSE_SECONDS = 1.5  # shorter than the read retry budget: reads ride it out


def _restart_later(server, delay: float) -> threading.Thread:
    def restart() -> None:
        time.sleep(delay)
        server.pg_start()

    thread = threading.Thread(target=restart, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_reads_ride_out_a_resume_and_writes_answer_503(own_postgres, serve_api, tokens: TokenFactory) -> None:
    database_url = own_postgres.create_database()
    api = serve_api(database_url, DB_READ_RETRY_SECONDS=str(READ_RETRY_SECONDS), DB_POOL_TIMEOUT_SECONDS="2")
    headers = tokens.bearer("resume-user")
    with httpx.Client(base_url=api.base_url, timeout=20) as client:
        created = client.post("/api/tasks", json=task_body("before the pause"), headers=headers)
        assert created.status_code == 201
        task_id = created.json()["id"]

        # Pause 1: a write while the database is away is a 503 at once, and is not stored.
        own_postgres.pg_stop()
        write = client.post("/api/tasks", json=task_body("during the pause"), headers=headers)
        assert write.status_code == 503
        assert int(write.headers["retry-after"]) > 0
        assert write.headers["content-type"] == "application/problem+json"

        # A read issued during the pause succeeds once the database is back, by retrying.
        restarter = _restart_later(own_postgres, PAUSE_SECONDS)
        started = time.monotonic()
        read = client.get(f"/api/tasks/{task_id}", headers=headers)
        read_took = time.monotonic() - started
        restarter.join(timeout=60)
        assert read.status_code == 200, read.text
        assert read.json()["name"] == "before the pause"

        # The list is a read too.
        own_postgres.pg_stop()
        restarter = _restart_later(own_postgres, PAUSE_SECONDS)
        listed = client.get("/api/tasks", headers=headers)
        restarter.join(timeout=60)
        assert listed.status_code == 200
        assert [t["id"] for t in listed.json()] == [task_id]

        # Pause 2, longer than the retry budget: the read gives up, bounded, with a 503.
        own_postgres.pg_stop()
        started = time.monotonic()
        given_up = client.get(f"/api/tasks/{task_id}", headers=headers)
        gave_up_after = time.monotonic() - started
        assert given_up.status_code == 503
        assert int(given_up.headers["retry-after"]) > 0
        assert gave_up_after < READ_RETRY_SECONDS + 3  # the budget plus one connect timeout, not a hang
        own_postgres.pg_start()

    with psycopg.connect(with_driver(database_url, "postgresql"), autocommit=True) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM tasks WHERE owner_sub = 'resume-user'")]
    assert names == ["before the pause"]
    retried = api.log().count("retrying")
    print(
        f"\nresume: read during a {PAUSE_SECONDS} s pause answered 200 after {read_took:.2f} s "
        f"({retried} retries logged); past the {READ_RETRY_SECONDS} s budget: "
        f"503 after {gave_up_after:.2f} s"
    )
    assert retried >= 2
