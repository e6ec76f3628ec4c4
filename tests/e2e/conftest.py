"""Fixtures for the browser tests: the built app, Chromium, and (in test_stack_flow) the real local stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.config import REPO, StackConfig
from devstack.seed import read_seed
from tests.e2e.browser import CHROMIUM_FLAGS, ConsoleLog, chromium_path
from tests.e2e.build import ensure_built

# The app's /config.json as `make dev` serves it on its default ports.
LOCAL_CONFIG = StackConfig(seed=read_seed(), state_dir=REPO / ".dev").web_config()


@pytest.fixture(scope="session")
def frontend_dist() -> Path:
    return ensure_built()


# Per module, not per session: Playwright's sync API keeps an event loop of its own, which must be gone
# before the suite's asyncio tests run.
@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium_path()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()
