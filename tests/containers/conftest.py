"""The container tests (`make test-containers`): podman, arm64 under emulation, the stand-ins when no registry
answers. Not part of `make test`; here a missing engine is an error, never a skip."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.net import port_is_free
from tests.containers import stack
from tests.containers.standins.build import prepare
from tests.stack.dockerfile import REPO

ARTIFACTS = REPO / "test-artifacts" / "containers"
IMAGES = ("api", "idp", "web")


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = [tool for tool in ("podman", "mmdebstrap") if shutil.which(tool) is None]
    if missing:
        raise pytest.UsageError(
            f"the container tests need {', '.join(missing)}: run them with `make test-containers`, "
            "which installs what is missing (tests/containers/setup-host.sh)"
        )


@pytest.fixture(scope="session")
def results() -> Iterator[dict[str, Any]]:
    """Figures for docs/performance.md ("Containers"), written to test-artifacts/containers/results.json."""
    figures: dict[str, Any] = {}
    yield figures
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
    (ARTIFACTS / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\ncontainers: figures in {ARTIFACTS / 'results.json'}: {json.dumps(figures)}")


@pytest.fixture(scope="session")
def base_images(results: dict[str, Any]) -> str:
    """The upstream base images, real (their registry answers) or their stand-ins (built once per recipe);
    the pull policy for `make images` that goes with them."""
    lines: list[str] = []
    real = prepare(lines.append)
    results["base_images"] = lines
    return "missing" if real else "never"


@pytest.fixture(scope="session")
def images(base_images: str, results: dict[str, Any]) -> dict[str, str]:
    """`make images` for podman, one target at a time to time each (emulated RUN steps are slow)."""
    seconds = {}
    for target in IMAGES:
        log = ARTIFACTS / f"build-{target}.log"
        seconds[target] = round(
            stack.make("images", f"IMAGE_TARGETS={target}", f"IMAGE_PULL={base_images}", log=log), 1
        )
    results["build_seconds"] = seconds
    return {target: f"localhost/city-tasks-{target}:local" for target in IMAGES}


@pytest.fixture(scope="session")
def compose_stack(images: dict[str, str], results: dict[str, Any]) -> Iterator[None]:
    """`make up` on fresh volumes, every healthcheck run until it passes; `make down V=1` at the end."""
    stack.make("down", "V=1", log=ARTIFACTS / "down-before.log", timeout=300)
    busy = [port for port in stack.PORTS if not port_is_free(port)]
    if busy:
        pytest.fail(f"ports {busy} are in use here; the compose stack publishes them: free them first")
    try:
        results["up_seconds"] = round(stack.make("up", log=ARTIFACTS / "up.log", timeout=900), 1)
        yield
    finally:
        stack.make("down", "V=1", log=ARTIFACTS / "down.log", timeout=300)
        left = stack.containers()
        assert left == [], f"containers left after make down: {left}"


# Per module: Playwright's sync API keeps an event loop of its own (see tests/e2e/conftest.py).
@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    from tests.e2e.browser import CHROMIUM_FLAGS, chromium_path

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
