"""The public parts of the app in a real browser, served by devstack's web front (no API or IdP needed)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import screenshot
from tests.e2e.conftest import LOCAL_CONFIG
from tests.e2e.stack import web_front_alone

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}


def test_home_page_renders_without_console_errors(frontend_dist, chromium, console):
    with web_front_alone(frontend_dist, LOCAL_CONFIG) as web_url:
        context = chromium.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        console.watch(page)
        page.goto(f"{web_url}/", wait_until="networkidle")
        heading = page.get_by_role("heading", level=1)
        assert heading.inner_text() == "City Tasks"
        assert page.get_by_role("button", name="Sign in to manage your tasks").is_visible()
        # Focus starts on the page heading (focus management for keyboard and screen-reader users).
        expect(heading).to_be_focused()
        assert page.title() == "City Tasks · City Tasks"
        screenshot(page, "01-home")
        context.close()
    assert console.errors == []


def test_keyboard_moves_from_the_heading_to_the_main_action(frontend_dist, chromium, console):
    with web_front_alone(frontend_dist, LOCAL_CONFIG) as web_url:
        page = chromium.new_page()
        console.watch(page)
        page.goto(f"{web_url}/", wait_until="networkidle")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Sign in to manage your tasks"
        # Backwards from the content: the header's sign-in button, the brand link, then the skip link.
        for _ in range(3):
            page.keyboard.press("Shift+Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.close()
    assert console.errors == []


def test_unknown_page_shows_not_found_on_a_phone(frontend_dist, chromium, console):
    with web_front_alone(frontend_dist, LOCAL_CONFIG) as web_url:
        context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        page = context.new_page()
        console.watch(page)
        page.goto(f"{web_url}/no/such/page", wait_until="networkidle")
        assert page.get_by_role("heading", level=1).inner_text() == "Not found"
        assert page.get_by_role("link", name="Back to your tasks").is_visible()
        # Nothing wider than the phone's screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "02-not-found-phone")
        context.close()
    assert console.errors == []


def test_broken_runtime_config_is_explained(frontend_dist, chromium, console):
    broken = {**LOCAL_CONFIG, "authority": "not-a-url"}
    with web_front_alone(frontend_dist, broken) as web_url:
        page = chromium.new_page()
        console.watch(page)
        page.goto(f"{web_url}/", wait_until="networkidle")
        assert page.get_by_role("heading", level=1).inner_text() == "City Tasks could not start"
        assert "authority" in page.locator("main").inner_text()
        page.close()
    assert console.errors == []


def test_unreachable_idp_is_explained_not_thrown(frontend_dist, chromium, console):
    from devstack.net import free_port

    dead = f"http://localhost:{free_port()}"
    pool_id = LOCAL_CONFIG["authority"].rsplit("/", 1)[1]
    config = {**LOCAL_CONFIG, "authority": f"{dead}/{pool_id}", "hostedUiDomain": dead}
    with web_front_alone(frontend_dist, config) as web_url:
        page = chromium.new_page()
        console.watch(page)
        # A protected page: the app tries the IdP, cannot reach it, and says so with a retry.
        page.goto(f"{web_url}/tasks", wait_until="networkidle")
        page.get_by_role("heading", name="Sign-in is unavailable").wait_for(timeout=15_000)
        assert "cannot be reached" in page.get_by_role("alert").inner_text()
        assert page.get_by_role("button", name="Try again").is_visible()
        screenshot(page, "02b-idp-unreachable")
        page.close()
    # The browser reports the refused connection itself; the app adds no error of its own.
    assert [e for e in console.errors if "ERR_CONNECTION_REFUSED" not in e] == []
