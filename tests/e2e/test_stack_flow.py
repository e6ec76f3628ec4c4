"""The whole app in headless Chromium against the real local stack: the local IdP (hosted UI, TOTP MFA), the
Tasks API on PostgreSQL, and the built frontend behind a web server that proxies /api.

One long scenario, because each step needs the state the previous one left: first login with MFA setup, task
create / find / edit, a validation error from the API, a stale edit from a second tab (412), the 5xx, 404 and
401 pages, delete, sign out, and a later login with password + TOTP. Screenshots land in test-artifacts/e2e/.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import expect

from devstack.config import StackConfig
from devstack.net import free_port
from devstack.processes import console_script, log_tail, run_once
from devstack.seed import SEED_FILE, Seed, read_seed
from tests.e2e.browser import screenshot
from tests.e2e.hosted_ui import Authenticator, read_totp_secret, submit_code, submit_login
from tests.e2e.stack import Service, web_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

PASSWORD = "Correct-Horse-42!"


@dataclass
class Stack:
    api: Service
    config: StackConfig
    work: Path

    @property
    def web_url(self) -> str:
        return self.config.web_url

    @property
    def idp_url(self) -> str:
        return self.config.idp_url

    @property
    def seed(self) -> Seed:
        return self.config.seed


def seed_with_origin(seed: Seed, origin: str, out: Path) -> None:
    """A copy of the IdP's seed whose web client also accepts ``origin``."""
    data = yaml.safe_load(SEED_FILE.read_text())
    client = next(c for c in data["clients"] if c["client_id"] == seed.web_client_id)
    client.setdefault("callback_urls", []).append(f"{origin}/auth/callback")
    client.setdefault("logout_urls", []).append(f"{origin}/")
    out.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("stack")
    seed = read_seed()
    config = StackConfig(
        seed=seed, state_dir=work, idp_port=free_port(), api_port=free_port(), web_port=free_port()
    )
    seed_file = work / "seed.yaml"
    seed_with_origin(seed, config.web_url, seed_file)
    idp_env = {**config.idp_env(), "IDP_SEED_FILE": str(seed_file)}
    with contextlib.ExitStack() as started:
        # The IdP first: when it cannot serve a browser app, fail before building or starting anything else.
        started.enter_context(
            Service([*console_script("idp"), "serve"], idp_env, work, work / "idp.log", config.idp_health_url)
        )
        if problem := browser_blockers(config):
            pytest.fail(f"the local IdP cannot serve a browser app: {problem}")
        frontend_dist = request.getfixturevalue("frontend_dist")
        postgres_server = request.getfixturevalue("postgres_server")
        database_url = postgres_server.create_database()
        started.callback(postgres_server.drop_database, database_url.rsplit("/", 1)[1])
        config = dataclasses.replace(config, database_url=database_url)
        api_env = config.api_env()
        run_once([*console_script("tasks-api"), "migrate"], {**os.environ, **api_env}, cwd=work)
        api = started.enter_context(
            Service(
                [*console_script("tasks-api"), "serve"],
                api_env,
                work,
                work / "api.log",
                config.api_health_url,
            )
        )
        started.enter_context(web_server(config, frontend_dist, work / "web.log"))
        yield Stack(api=api, config=config, work=work)


def browser_blockers(config: StackConfig) -> str | None:
    """What in the IdP's answers stops a browser app from logging in (Cognito does neither)."""
    web_url = config.web_url
    local = f"http://127.0.0.1:{config.idp_port}"
    discovery = httpx.get(config.idp_health_url, headers={"Origin": web_url})
    if discovery.headers.get("access-control-allow-origin") not in {"*", web_url}:
        return (
            "no CORS on the discovery document (and so on /oauth2/token): oidc-client-ts fetches both "
            f"from {web_url}; the IdP must send Access-Control-Allow-Origin for the clients' origins"
        )
    login = httpx.get(f"{local}/login")
    csp = login.headers.get("content-security-policy", "")
    if "form-action 'self'" in csp and web_url not in csp:
        return (
            "its hosted-UI pages send CSP \"form-action 'self'\", which makes Chromium block the redirect "
            "to the app's callback after the login/MFA form posts; allow the client's callback origins"
        )
    return None


def create_user(stack: Stack, email: str, name: str) -> None:
    """A confirmed user with a permanent password and no MFA yet, through the IdP's cognito-idp API."""
    import boto3

    client = boto3.client(
        "cognito-idp",
        endpoint_url=f"http://127.0.0.1:{stack.config.idp_port}",
        region_name=stack.seed.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # the local IdP checks no signatures
    )
    client.admin_create_user(
        UserPoolId=stack.seed.pool_id,
        Username=email,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "name", "Value": name},
            {"Name": "email_verified", "Value": "true"},
        ],
        MessageAction="SUPPRESS",
    )
    client.admin_set_user_password(
        UserPoolId=stack.seed.pool_id, Username=email, Password=PASSWORD, Permanent=True
    )


RESOURCE_STATUS = re.compile(r"^Failed to load resource: the server responded with a status of (\d{3})")


class AppConsole:
    """Console errors of the app's own pages (the IdP's pages are not ours to judge here).

    Chromium logs every HTTP error answer to fetch() as a console error; the statuses this scenario
    provokes on purpose (401, 404, 412, 422, and 502 for a missing API) are collected apart; anything
    else is an error.
    """

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.errors: list[str] = []
        self.http_statuses: set[int] = set()

    def watch(self, page) -> None:
        def on_console(msg) -> None:
            url = (msg.location or {}).get("url", "") or page.url
            if msg.type != "error" or not page.url.startswith(self.origin):
                return
            status = RESOURCE_STATUS.match(msg.text)
            if status:
                self.http_statuses.add(int(status.group(1)))
            else:
                self.errors.append(f"{url}: {msg.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: page.url.startswith(self.origin) and self.errors.append(str(exc)))


def heading(page) -> str:
    return page.get_by_role("heading", level=1).inner_text()


def expect_heading(page, text: str | re.Pattern[str]) -> None:
    locator = page.get_by_role("heading", level=1)
    locator.filter(has_text=text).wait_for(timeout=15_000)


def stored_user_key(page) -> str | None:
    keys = page.evaluate("Object.keys(window.localStorage)")
    return next((k for k in keys if k.startswith("oidc.user:")), None)


def test_the_whole_app_against_the_local_stack(stack: Stack, chromium) -> None:
    email = f"e2e-{uuid.uuid4().hex[:8]}@example.com"
    name = "Erin Example"
    create_user(stack, email, name)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, timezone_id="America/Guayaquil")
    context.set_default_timeout(20_000)
    console = AppConsole(stack.web_url)
    page = context.new_page()
    console.watch(page)
    try:
        scenario(stack, context, page, console, email, name)
    except Exception as exc:
        shot = screenshot(page, "99-failure")
        raise AssertionError(
            f"failed at {page.url} (screenshot {shot}); app console errors: {console.errors}\n"
            f"--- idp log ---\n{log_tail(stack.work / 'idp.log')}\n"
            f"--- api log ---\n{log_tail(stack.work / 'api.log')}"
        ) from exc
    finally:
        context.close()
    assert console.errors == []
    assert console.http_statuses <= {401, 404, 412, 422, 502}


def scenario(stack: Stack, context, page, console: AppConsole, email: str, name: str) -> None:

    # --- first login: password, then MFA setup with the secret the IdP shows -----------------------------
    page.goto(f"{stack.web_url}/")
    page.get_by_role("button", name="Sign in to manage your tasks").click()
    page.wait_for_url(f"{stack.idp_url}/**")
    screenshot(page, "03-idp-login")
    submit_login(page, email, PASSWORD)
    page.locator("text=/otpauth|authenticator|secret/i").first.wait_for()
    screenshot(page, "04-idp-mfa-setup")
    authenticator = Authenticator(read_totp_secret(page))
    submit_code(page, authenticator.code())
    page.wait_for_url(f"{stack.web_url}/tasks")
    expect_heading(page, "Your tasks")
    assert page.get_by_test_id("user-name").inner_text() == name
    page.get_by_text("You have no tasks yet").wait_for()

    # --- create ------------------------------------------------------------------------------------------
    page.get_by_role("link", name="New task").click()
    expect_heading(page, "New task")
    assert page.get_by_label("Time zone").input_value() == "America/Guayaquil"  # the browser's zone
    page.get_by_label("Name").fill("Street lights on")
    page.get_by_label("Description").fill("Evening lights on the main square")
    page.get_by_label("Time", exact=True).fill("18:45")
    for day in ("Monday", "Wednesday", "Friday"):
        page.get_by_role("checkbox", name=day).check()
    page.get_by_label("Until").fill("2031-12-31")
    page.get_by_label("Device id").fill("lamp-square-1")
    page.get_by_label("Device operation").select_option("ACTIVATE")
    screenshot(page, "05-task-form-new")
    page.get_by_role("button", name="Create task").click()
    expect_heading(page, "Street lights on")
    task_url = page.url
    assert re.fullmatch(rf"{stack.web_url}/tasks/\d+", task_url)
    details = page.locator("dl.details").inner_text()
    for expected in ("18:45", "Mon, Wed, Fri", "America/Guayaquil", "lamp-square-1", "Activate", "Active"):
        assert expected in details
    assert "2031" in details
    page.get_by_role("status").filter(has_text="created").wait_for()
    screenshot(page, "06-task-details")

    # --- a second task, then find both in the list -------------------------------------------------------
    page.goto(f"{stack.web_url}/tasks/new")
    page.get_by_label("Name").fill("Fountain")
    page.get_by_label("Time", exact=True).fill("07:05")
    page.get_by_role("button", name="Weekends").click()
    page.get_by_role("button", name="Create task").click()
    expect_heading(page, "Fountain")
    page.get_by_role("link", name="Tasks", exact=True).click()
    expect_heading(page, "Your tasks")
    rows = page.locator("table.task-table tbody tr")
    rows.nth(1).wait_for()
    assert rows.count() == 2
    # Sorted by time: 07:05 before 18:45.
    assert rows.nth(0).locator("td.time").inner_text() == "07:05"
    assert rows.nth(1).inner_text().startswith("18:45")
    assert "no end" in rows.nth(0).inner_text()
    assert "Weekends" in rows.nth(0).inner_text()
    screenshot(page, "07-task-list")
    search = page.get_by_label("Search by name, day or hour")
    searches = [("lights", ["Street lights on"]), ("sat", ["Fountain"]), ("18", ["Street lights on"])]
    for query, names in searches:
        search.fill(query)
        page.get_by_text(f"{len(names)} of 2 tasks match").wait_for()
        assert page.locator("table.task-table tbody th").all_inner_texts() == names
    search.fill("wednesday")
    page.get_by_text("1 of 2 tasks match").wait_for()
    screenshot(page, "08-task-list-search")
    search.fill("")

    # --- edit --------------------------------------------------------------------------------------------
    page.get_by_role("link", name="Street lights on").click()
    page.get_by_role("link", name="Edit").click()
    expect_heading(page, "Edit “Street lights on”")
    page.get_by_label("Name").fill("Street lights on (square)")
    page.get_by_label("Time", exact=True).fill("19:15")
    page.get_by_role("button", name="Save changes").click()
    expect_heading(page, "Street lights on (square)")
    assert "19:15" in page.locator("dl.details").inner_text()

    # --- a bad value: the API's field error shows next to the field --------------------------------------
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Time zone").fill("Mars/Olympus_Mons")
    page.get_by_role("button", name="Save changes").click()
    zone_error = page.locator("#error-timeZone")
    zone_error.wait_for()
    assert zone_error.inner_text().strip()
    assert page.get_by_label("Time zone").get_attribute("aria-invalid") == "true"
    # Focus moves in an effect after the error renders: expect() retries until it has (bounded).
    expect(page.get_by_label("Time zone")).to_be_focused()
    screenshot(page, "09-task-form-validation-error")

    # --- a stale edit from a second tab: the API answers 412 and the form says so ------------------------
    edit_url = f"{task_url}/edit"
    page.goto(edit_url)
    expect_heading(page, re.compile("Edit"))
    other = context.new_page()
    console.watch(other)
    other.goto(edit_url)
    expect_heading(other, re.compile("Edit"))
    other.get_by_label("Description").fill("Changed in the other tab")
    other.get_by_role("button", name="Save changes").click()
    expect_heading(other, "Street lights on (square)")
    other.close()
    page.get_by_label("Description").fill("Changed in the first tab")
    page.get_by_role("button", name="Save changes").click()
    conflict = page.locator("#form-error")
    conflict.wait_for()
    assert "changed elsewhere" in conflict.inner_text()
    screenshot(page, "10-task-form-conflict")
    page.get_by_role("button", name="Load the latest version").click()
    expect(page.get_by_label("Description")).to_have_value("Changed in the other tab")
    expect(page.locator("#form-error")).to_have_count(0)

    # --- 5xx with a retry: the API goes away (the web server answers 502), then comes back ---------------
    stack.api.stop()
    page.goto(f"{stack.web_url}/tasks")
    expect_heading(page, "Something went wrong on our side")
    screenshot(page, "11-error-5xx")
    stack.api.start()
    page.get_by_role("button", name="Try again").click()
    expect_heading(page, "Your tasks")
    page.locator("table.task-table tbody tr").first.wait_for()

    # --- 404: a task that does not exist (or is not ours) ------------------------------------------------
    page.goto(f"{stack.web_url}/tasks/987654321")
    expect_heading(page, "Not found")
    screenshot(page, "12-error-404")

    # --- 401: a token the API refuses --------------------------------------------------------------------
    key = stored_user_key(page)
    assert key is not None
    saved = page.evaluate("k => window.localStorage.getItem(k)", key)
    tampered = json.loads(saved)
    tampered["access_token"] = tampered["access_token"][:-6] + "AAAAAA"
    page.evaluate("([k, v]) => window.localStorage.setItem(k, v)", [key, json.dumps(tampered)])
    page.goto(f"{stack.web_url}/tasks")
    expect_heading(page, "Please sign in again")
    screenshot(page, "13-error-401")
    page.evaluate("([k, v]) => window.localStorage.setItem(k, v)", [key, saved])

    # --- renewal: an expired access token is replaced through the refresh token, without a new login -----
    expired = json.loads(saved)
    expired["expires_at"] = int(time.time()) - 60
    page.evaluate("([k, v]) => window.localStorage.setItem(k, v)", [key, json.dumps(expired)])
    page.goto(f"{stack.web_url}/tasks")
    expect_heading(page, "Your tasks")
    page.locator("table.task-table tbody tr").first.wait_for()
    renewed = json.loads(page.evaluate("k => window.localStorage.getItem(k)", key))
    assert renewed["access_token"] != expired["access_token"]
    assert renewed["expires_at"] > time.time()
    assert page.url == f"{stack.web_url}/tasks"  # no trip through the hosted UI

    # --- delete, with confirmation -----------------------------------------------------------------------
    page.goto(task_url)
    expect_heading(page, "Street lights on (square)")
    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete this task?")
    dialog.wait_for()
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice first
    screenshot(page, "14-delete-confirmation")
    dialog.get_by_role("button", name="Delete task").click()
    expect_heading(page, "Your tasks")
    page.get_by_role("status").filter(has_text="deleted").first.wait_for()
    page.locator("table.task-table tbody tr").first.wait_for()
    assert page.locator("table.task-table tbody th").all_inner_texts() == ["Fountain"]

    # --- phone-sized screen ------------------------------------------------------------------------------
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "15-task-list-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # --- sign out through the IdP's /logout --------------------------------------------------------------
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{stack.web_url}/")
    expect_heading(page, "City Tasks")
    assert stored_user_key(page) is None
    assert page.get_by_role("button", name="Sign in to manage your tasks").is_visible()

    # --- a later login: password, then the TOTP challenge ------------------------------------------------
    page.get_by_role("button", name="Sign in to manage your tasks").click()
    page.wait_for_url(f"{stack.idp_url}/**")
    submit_login(page, email, PASSWORD)
    page.locator("input[autocomplete=one-time-code], input[name*=code i]").first.wait_for()
    screenshot(page, "16-idp-totp-challenge")
    submit_code(page, authenticator.code())
    page.wait_for_url(f"{stack.web_url}/tasks")
    expect_heading(page, "Your tasks")
    assert page.get_by_test_id("user-name").inner_text() == name
    expect(page.locator("table.task-table tbody th")).to_have_text(["Fountain"])
