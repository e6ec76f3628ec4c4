"""Expand/contract: the previous release's code serves on the newest schema (what a rollback runs on).

"Previous release" is the API source as it was just before the newest migration was added (read from git),
run as a real `tasks-api serve` process against a database that today's code migrated to head.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tasks_api.db import migrate

from tests.reliability.served import ServedApi, api_env, task_body
from tests.reliability.served import migrate as migrate_with_todays_code
from tests.support.tokens import JwksServer, TokenFactory

ROOT = Path(__file__).resolve().parents[3]
API_SOURCE = "services/tasks_api/src"

pytestmark = pytest.mark.slow


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def _previous_release_commit() -> str:
    """The parent of the commit that added the newest migration."""
    (head,) = migrate.head_revisions()
    script = migrate._scripts().get_revision(head)
    assert script is not None
    assert script.path
    relative = Path(script.path).resolve().relative_to(ROOT)
    try:
        if _git("rev-parse", "--is-shallow-repository").strip() == "true":
            pytest.skip("a shallow clone has no previous release; fetch the history to run this test")
        added = _git("log", "--diff-filter=A", "--format=%H", "-1", "--", str(relative)).strip()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the previous release's code cannot be read")
    assert added, (
        f"{relative} is not committed yet: commit it, then this test compares with the release before"
    )
    return f"{added}^"


@pytest.fixture(scope="module")
def previous_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    commit = _previous_release_commit()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, API_SOURCE], cwd=ROOT, capture_output=True, check=True
    ).stdout
    target = tmp_path_factory.mktemp("previous-release")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / API_SOURCE


@pytest.fixture
def previous_api(previous_source: Path, postgres_url: str, jwks_server: JwksServer) -> Iterator[ServedApi]:
    env = api_env(postgres_url, jwks_server.issuer, PYTHONPATH=str(previous_source), SCHEDULER_ENABLED="true")
    imported = subprocess.run(
        [sys.executable, "-c", "import tasks_api; print(tasks_api.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert imported.startswith(str(previous_source)), f"the process would import today's code: {imported}"
    api = ServedApi(env)
    yield api
    api.stop()


def test_previous_release_serves_on_the_head_schema(
    previous_api: ServedApi,
    previous_source: Path,
    postgres_url: str,
    jwks_server: JwksServer,
    tokens: TokenFactory,
) -> None:
    # Today's migrations: the schema a rollback leaves behind.
    migrate_with_todays_code(api_env(postgres_url, jwks_server.issuer))
    previous_api.start(wait_ready=False)

    headers = tokens.bearer("previous-release-user")
    with httpx.Client(base_url=previous_api.base_url, headers=headers, timeout=10) as client:
        created = client.post("/api/tasks", json=task_body())
        assert created.status_code == 201, created.text
        task = created.json()
        url = f"/api/tasks/{task['id']}"
        assert client.get(url).json()["name"] == task["name"]
        updated = client.put(
            url, json=task_body(name="Renamed"), headers={"If-Match": created.headers["etag"]}
        )
        assert updated.status_code == 200, updated.text
        assert [t["name"] for t in client.get("/api/tasks").json()] == ["Renamed"]
        assert client.get(f"{url}/executions").status_code == 200
        assert client.delete(url, headers={"If-Match": updated.headers["etag"]}).status_code == 204
        # Readiness at or ahead of head exists from this release on; older releases knew only "at head".
        if "SchemaState" in (previous_source / "tasks_api/db/migrate.py").read_text():
            assert client.get("/health/ready").status_code == 200
    log = previous_api.log()
    assert "Traceback" not in log, log
    assert '"level": "ERROR"' not in log, log
