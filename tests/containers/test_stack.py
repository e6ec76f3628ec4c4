"""docker-compose.yml on podman: the stack comes up and is healthy, a person signs in through the IdP
container's hosted UI with TOTP and manages a task through the web container, Locust's smoke passes against
the API container, the data survives `make down` / `make up`, and the API's cold start is measured.

The tests run in file order and share the stack (and the signed-in person's state).
"""

from __future__ import annotations

import re
import statistics
import time
import uuid
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.seed import read_seed
from loadtests.locust.run_local import create_pool, locust_settings
from loadtests.locust.runner import RunSpec, run_locust
from loadtests.locust.thresholds import Thresholds
from tests.containers import stack
from tests.containers.engine import podman
from tests.e2e.browser import screenshot
from tests.e2e.hosted_ui import Authenticator, submit_code, submit_login

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600), pytest.mark.usefixtures("compose_stack")]

SERVICES = ("postgres", "migrate", "idp", "tasks-api", "frontend")
# The runtime user of each service's image, by uid and name (Dockerfile.arm64's USER 10001 "app";
# nginx-unprivileged's 101 "nginx").
RUNS_AS = {"idp": {"10001", "app"}, "tasks-api": {"10001", "app"}, "frontend": {"101", "nginx"}}


@dataclass
class Person:
    """The seed's demo user, signing in with the authenticator app that holds its TOTP secret."""

    email: str
    password: str
    authenticator: Authenticator
    task_name: str = ""
    task_path: str = ""


@pytest.fixture(scope="module")
def person() -> Person:
    seed = read_seed()
    assert seed.demo_totp_secret, "the seed's demo user needs a fixed totp_secret for this test"
    return Person(seed.demo_username, seed.demo_password, Authenticator(seed.demo_totp_secret))


def test_every_service_is_up_and_healthy_and_runs_as_its_user(results: dict[str, Any]) -> None:
    found = {c.service: c for c in stack.containers()}
    assert set(found) == set(SERVICES)
    assert stack.wait_exited(found["migrate"].name) == 0
    healthy_after = {}
    for service in ("postgres", "idp", "tasks-api", "frontend"):
        name = found[service].name
        assert stack.has_healthcheck(name), f"{service} has no healthcheck"
        healthy_after[service] = stack.wait_healthy(name)
        status = podman("inspect", "--format", "{{.State.Health.Status}}", name).stdout.strip()
        assert status == "healthy", f"{service}: {status}"
    for service, user in RUNS_AS.items():
        # The server's own processes (as the container's /etc/passwd names them), not a new `exec`.
        users = podman("top", found[service].name, "user").stdout.split()[1:]
        assert users, f"no process in {service}"
        assert set(users) <= user, f"{service} runs as {users}"
    # The web container serves the app and proxies /api to the API container over the compose network.
    assert httpx.get(f"{stack.WEB_URL}/healthz").status_code == 200
    config = httpx.get(f"{stack.WEB_URL}/config.json").json()
    assert config["authority"] == "http://localhost:9229/us-east-1_LocalPool"
    # Through nginx to the API, which refuses a request without a token.
    assert httpx.get(f"{stack.WEB_URL}/api/tasks").status_code == 401
    results["healthcheck_runs"] = healthy_after


def _by_service() -> dict[str, stack.Container]:
    return {c.service: c for c in stack.containers()}


def _sign_in(page: Any, person: Person) -> None:
    page.goto(f"{stack.WEB_URL}/")
    page.get_by_role("button", name="Sign in to manage your tasks").click()
    page.wait_for_url(f"{stack.IDP_URL}/**")
    submit_login(page, person.email, person.password)
    page.locator("input[autocomplete=one-time-code], input[name*=code i]").first.wait_for()
    submit_code(page, person.authenticator.code())
    page.wait_for_url(f"{stack.WEB_URL}/tasks")
    page.get_by_role("heading", level=1).filter(has_text="Your tasks").wait_for()


def _browse(chromium: Any, name: str, steps: Any) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, timezone_id="America/Guayaquil")
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        steps(page)
    except Exception as exc:
        shot = screenshot(page, f"containers-{name}-failure")
        logs = {
            s: podman("logs", "--tail", "20", c.name, check=False).stdout for s, c in _by_service().items()
        }
        raise AssertionError(f"failed at {page.url} (screenshot {shot}); container logs: {logs}") from exc
    finally:
        context.close()


def test_sign_in_with_totp_create_a_task_see_it_listed_and_open_it(chromium: Any, person: Person) -> None:
    person.task_name = f"Container lights {uuid.uuid4().hex[:6]}"

    def steps(page: Any) -> None:
        _sign_in(page, person)
        page.get_by_role("link", name="New task").click()
        page.get_by_label("Name").fill(person.task_name)
        page.get_by_label("Time", exact=True).fill("18:45")
        page.get_by_role("checkbox", name="Monday").check()
        page.get_by_label("Device id").fill("lamp-compose-1")
        page.get_by_role("button", name="Create task").click()
        page.get_by_role("heading", level=1).filter(has_text=person.task_name).wait_for()
        assert re.fullmatch(rf"{stack.WEB_URL}/tasks/\d+", page.url)
        person.task_path = page.url.removeprefix(stack.WEB_URL)
        page.get_by_role("link", name="Tasks", exact=True).click()
        page.get_by_role("heading", level=1).filter(has_text="Your tasks").wait_for()
        row = page.locator("table.task-table tbody tr").filter(has_text=person.task_name)
        row.wait_for()
        assert "18:45" in row.inner_text()
        page.get_by_role("link", name=person.task_name).click()
        page.get_by_role("heading", level=1).filter(has_text=person.task_name).wait_for()
        assert page.url == f"{stack.WEB_URL}{person.task_path}"
        details = page.locator("dl.details").inner_text()
        assert "lamp-compose-1" in details
        assert "18:45" in details
        screenshot(page, "containers-task-details")

    _browse(chromium, "create", steps)


class _ContainerStack:
    """What the load-test helpers need of a stack: here the containers' published ports."""

    idp_url = "http://127.0.0.1:9229"
    api_url = stack.API_URL
    seed = read_seed()

    def cognito(self) -> Any:
        from loadtests.locust.users import cognito_client

        return cognito_client(self.idp_url, self.seed.pool_id.split("_", 1)[0])


def test_locust_smoke_against_the_api_container(tmp_path: Path, results: dict[str, Any]) -> None:
    target = _ContainerStack()
    pool_file = tmp_path / "pool.json"
    create_pool(target, 3, pool_file)  # type: ignore[arg-type]
    # People only: the compose API trusts the web client (AUTH_CLIENT_IDS), not the load-test machine one.
    options = Namespace(think_min=0.1, think_max=0.3, shape=None, machine_weight=0)
    spec = RunSpec(
        host=target.api_url,
        csv_prefix=tmp_path / "smoke",
        users=3,
        spawn_rate=3,
        duration_s=20,
        # Under emulation (qemu, 7-12x slower than native) and on a shared 2-core machine: generous bounds.
        thresholds=Thresholds(max_failures=0, p95_ms=5000, auth_p95_ms=30_000),
        settings=locust_settings(target, pool_file, options),  # type: ignore[arg-type]
    )
    result = run_locust(spec, grace_s=90)
    assert result.broken == [], result.table
    assert result.exit_code == 0, result.table
    results["locust_smoke"] = result.table


def test_cold_start_of_the_api_container(results: dict[str, Any]) -> None:
    """Container start to /health/ready 200, three times (the image is local; the process starts cold)."""
    name = stack.container("tasks-api").name
    samples = []
    for _ in range(3):
        podman("stop", "--time", "10", name, timeout=60)
        started = time.monotonic()
        podman("start", name)
        stack.seconds_until_ready()
        samples.append(round(time.monotonic() - started, 2))
    results["api_cold_start_seconds"] = {"samples": samples, "median": statistics.median(samples)}
    assert statistics.median(samples) < 120


def test_the_task_survives_down_and_up(chromium: Any, person: Person, results: dict[str, Any]) -> None:
    assert person.task_path, "the browser test did not create a task"
    stack.make("down", log=stack.REPO / "test-artifacts" / "containers" / "down-keep.log", timeout=300)
    assert [c for c in stack.containers() if c.state == "running"] == []
    results["up_again_seconds"] = round(
        stack.make("up", log=stack.REPO / "test-artifacts" / "containers" / "up-again.log", timeout=900), 1
    )

    def steps(page: Any) -> None:
        _sign_in(page, person)  # the IdP's volume kept the person and the TOTP setup too
        page.locator("table.task-table tbody tr").filter(has_text=person.task_name).wait_for()
        page.goto(f"{stack.WEB_URL}{person.task_path}")
        page.get_by_role("heading", level=1).filter(has_text=person.task_name).wait_for()

    _browse(chromium, "after-up", steps)
