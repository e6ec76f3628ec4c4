"""City Tasks load test: people who sign in with TOTP MFA and use the app, and optional machine clients.

Run headless against the local stack with ``make load ENV=local`` (see docs/load-testing.md). Every
setting is a ``LOAD_*`` environment variable so that masters and workers share one configuration:

- ``LOAD_POOL_FILE``: the user pool written by ``python -m loadtests.locust.users create``;
  ``LOAD_IDP_ENDPOINT`` (the local IdP; empty for Cognito), ``LOAD_USER_POOL_ID``, ``LOAD_CLIENT_ID``,
  ``LOAD_CLIENT_SECRET`` (only for clients with a secret).
- ``LOAD_M2M_TOKEN_URL``, ``LOAD_M2M_CLIENT_ID``, ``LOAD_M2M_CLIENT_SECRET``, ``LOAD_M2M_SCOPE``,
  ``LOAD_M2M_WEIGHT``: machine users with the client_credentials grant (off unless configured).
- ``LOAD_THINK_MIN`` / ``LOAD_THINK_MAX``: think time between a user's calls, in seconds.
- ``LOAD_SHAPE``: steady | step | spike | soak (otherwise Locust's -u/-r/-t drive the run).
- ``LOAD_P95_MS`` / ``LOAD_MAX_FAILURES``: thresholds; when set, a broken one makes Locust exit 1.
- ``LOAD_WORKERS``: how many workers share the pool in a distributed run.
- ``LOAD_TOKEN_MAX_AGE_S``: renew tokens at this age even when they would live longer.
- ``LOAD_REQUEST_LOG``: append one JSON line per API request to this file (``request_log.py``).
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

# Locust imports this file by path: make the repository root importable for the loadtests package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import requests
from locust import HttpUser, between, events
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from loadtests.locust import mix, request_log, shapes
from loadtests.locust.auth import LEDGER, CognitoLogin, LoginError, Token, client_credentials_token
from loadtests.locust.thresholds import (
    AFTER_SIGN_IN,
    Thresholds,
    format_table,
    stats_from_environment,
    violations,
)
from loadtests.locust.users import PoolUser, load_pool, pool_index

log = logging.getLogger("loadtests")
ENV = os.environ
THINK_MIN = float(ENV.get("LOAD_THINK_MIN", "1"))
THINK_MAX = float(ENV.get("LOAD_THINK_MAX", "3"))
# Renew tokens at this age even if they live longer (unset: only shortly before they expire).
TOKEN_MAX_AGE_S = float(ENV["LOAD_TOKEN_MAX_AGE_S"]) if ENV.get("LOAD_TOKEN_MAX_AGE_S") else None
_user_numbers = itertools.count()  # which pool account the next person takes
_task_serials = itertools.count()  # names of created tasks
_pool: list[PoolUser] | None = None


def _the_pool() -> list[PoolUser]:
    global _pool
    if _pool is None:
        _pool = load_pool(Path(ENV.get("LOAD_POOL_FILE", "loadtests/reports/pool.json")))
    return _pool


@functools.cache
def _cognito_client() -> Any:
    """One boto3 client per load process: building one costs far more CPU than a request, and while it
    is built no other simulated user runs (gevent), which would inflate every response time measured."""
    from loadtests.locust.users import cognito_client

    pool_id = ENV["LOAD_USER_POOL_ID"]
    region = ENV.get("LOAD_REGION") or pool_id.split("_", 1)[0]
    return cognito_client(ENV.get("LOAD_IDP_ENDPOINT") or None, region, ENV.get("LOAD_AWS_PROFILE") or None)


# --- the calls, weighted like the app's traffic -----------------------------------------------------


def list_tasks(user: ApiUser, name: str | None = None) -> None:
    with user.call("GET", "/api/tasks", "list", name=name) as response:
        if response.status_code != 200:
            response.failure(f"list answered {response.status_code}")


def get_task(user: ApiUser) -> None:
    if mix.operation_for("get", len(user.etags)) == "create":
        return create_task(user)
    task_id = user.pick_task()
    with user.call("GET", f"/api/tasks/{task_id}", "get") as response:
        if response.status_code == 200:
            user.etags[task_id] = response.headers.get("ETag")
        else:
            response.failure(f"get answered {response.status_code}")


def create_task(user: ApiUser) -> None:
    body = mix.task_body(user.rng, next(_task_serials))
    with user.call("POST", "/api/tasks", "create", json=body) as response:
        if response.status_code != 201:
            response.failure(f"create answered {response.status_code}")
            return
        task_id = int(response.json()["id"])
        user.etags[task_id] = response.headers.get("ETag")


def update_task(user: ApiUser) -> None:
    if mix.operation_for("update", len(user.etags)) == "create":
        return create_task(user)
    task_id = user.pick_task()
    body = mix.task_body(user.rng, task_id)
    with user.call("PUT", f"/api/tasks/{task_id}", "update", json=body, etag=user.etags.get(task_id)) as r:
        if r.status_code == 200:
            user.etags[task_id] = r.headers.get("ETag")
        else:
            r.failure(f"update answered {r.status_code}")


def delete_task(user: ApiUser) -> None:
    if mix.operation_for("delete", len(user.etags)) == "create":
        return create_task(user)
    task_id = user.pick_task()
    with user.call("DELETE", f"/api/tasks/{task_id}", "delete", etag=user.etags.pop(task_id, None)) as r:
        if r.status_code != 204:
            r.failure(f"delete answered {r.status_code}")


CALLS = {
    "list": list_tasks,
    "get": get_task,
    "create": create_task,
    "update": update_task,
    "delete": delete_task,
}


class ApiUser(HttpUser):
    """What every simulated client does once signed in; subclasses say how they sign in."""

    abstract = True
    wait_time = between(THINK_MIN, THINK_MAX)
    # Locust takes {callable: weight}; its annotation only names the list form.
    tasks = {CALLS[name]: weight for name, weight in mix.TASK_MIX.items()}  # type: ignore[assignment]

    def on_start(self) -> None:
        self.rng = random.Random()
        # Only tasks this simulated user created: two users sharing an identity never race on one task.
        self.etags: dict[int, str | None] = {}
        self.token = self._timed_auth("sign in", self.sign_in)
        # The app opens on the task list; the API sees this token for the first time (sign-in path).
        list_tasks(self, name=f"{mix.ENDPOINT_NAMES['list']} {AFTER_SIGN_IN}")

    def pick_task(self) -> int:
        return self.rng.choice(list(self.etags))

    def sign_in(self) -> Token:
        raise NotImplementedError

    def renew(self, token: Token) -> Token:
        return self.sign_in()

    def _timed_auth(self, name: str, action: Any, *args: Any) -> Token:
        started = time.perf_counter()
        try:
            token = action(*args)
        except Exception as exc:
            self._report_auth(name, started, exc)
            raise StopUser from exc
        self._report_auth(name, started, None)
        return token

    def _report_auth(self, name: str, started: float, exc: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="AUTH",
            name=f"{self.auth_label} {name}",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=exc,
            context={},
        )

    auth_label = "idp"

    def call(
        self,
        method: str,
        path: str,
        operation: str,
        etag: str | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if self.token.needs_renewal(time.time(), TOKEN_MAX_AGE_S):
            self.token = self._timed_auth("renew", self.renew, self.token)
        headers = {"Authorization": f"Bearer {self.token.access_token}"}
        if etag:
            headers["If-Match"] = etag
        return self.client.request(
            method,
            path,
            name=name or mix.ENDPOINT_NAMES[operation],
            headers=headers,
            catch_response=True,
            **kwargs,
        )


class PersonUser(ApiUser):
    """A person from the pre-created pool: password + TOTP, then refresh tokens."""

    abstract = False
    weight = 10
    auth_label = "cognito"

    def on_start(self) -> None:
        runner = self.environment.runner
        worker_index = runner.worker_index if isinstance(runner, WorkerRunner) else 0
        pool = _the_pool()
        number = next(_user_numbers)
        self.person = pool[pool_index(number, worker_index, int(ENV.get("LOAD_WORKERS", "1")), len(pool))]
        if self.person.totp_last_step is not None:
            LEDGER.mark_used(self.person.username, self.person.totp_last_step)
        self.login = CognitoLogin(
            _cognito_client(),
            ENV["LOAD_CLIENT_ID"],
            ENV.get("LOAD_CLIENT_SECRET") or None,
            drift=int(ENV.get("LOAD_TOTP_DRIFT", "1")),
        )
        super().on_start()

    def sign_in(self) -> Token:
        p = self.person
        return self.login.login(p.username, p.password, p.totp_secret)

    def renew(self, token: Token) -> Token:
        try:
            return self.login.refresh(token, self.person.username)
        except LoginError:
            return self.sign_in()


class MachineUser(ApiUser):
    """A machine client with the client_credentials grant (only when LOAD_M2M_CLIENT_ID is set)."""

    abstract = not ENV.get("LOAD_M2M_CLIENT_ID")
    weight = int(ENV.get("LOAD_M2M_WEIGHT", "1"))
    auth_label = "oauth2"

    def on_start(self) -> None:
        self.token_session = requests.Session()
        super().on_start()

    def sign_in(self) -> Token:
        # A plain session: the token call is reported once, as an AUTH line, not as an API request.
        return client_credentials_token(
            self.token_session,
            ENV["LOAD_M2M_TOKEN_URL"],
            ENV["LOAD_M2M_CLIENT_ID"],
            ENV["LOAD_M2M_CLIENT_SECRET"],
            ENV.get("LOAD_M2M_SCOPE") or None,
        )


if ENV.get("LOAD_REQUEST_LOG"):
    events.request.add_listener(request_log.RequestLog(Path(ENV["LOAD_REQUEST_LOG"])))

# Exactly one shape (or none) must be visible here: Locust takes the first shape class it finds.
if ENV.get("LOAD_SHAPE"):
    LoadShape = shapes.shape_class(ENV["LOAD_SHAPE"])


@events.quitting.add_listener
def enforce_thresholds(environment: Any, **_: Any) -> None:
    """Turn broken thresholds into a non-zero exit code (on the master or a standalone run)."""
    if isinstance(environment.runner, WorkerRunner) or not ENV.get("LOAD_P95_MS"):
        return
    limits = Thresholds(max_failures=int(ENV.get("LOAD_MAX_FAILURES", "0")), p95_ms=float(ENV["LOAD_P95_MS"]))
    rows = stats_from_environment(environment.stats)
    broken = violations(rows, limits)
    log.info("load test figures:\n%s", format_table(rows))
    for line in broken:
        log.error("THRESHOLD BROKEN: %s", line)
    if broken:
        environment.process_exit_code = 1
    elif not isinstance(environment.runner, MasterRunner):
        log.info("thresholds met")
