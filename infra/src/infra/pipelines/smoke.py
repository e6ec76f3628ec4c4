"""`make smoke ENV=...`: after a deploy, prove the environment works end to end, as a client would.

Through the public entry (CloudFront): `/health/ready` answers 200 (retried for a bounded time while the
new tasks come up), the list of tasks refuses a request without a token (401), a machine token from the
IdP's client_credentials client is issued, and the list answers 200 with it. The same checks run against a
local stack (`--api-url/--token-url/--client-id` and SMOKE_CLIENT_SECRET), which is how they are tested.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HEALTH_PATH = "/health/ready"
LIST_PATH = "/api/tasks"
SCOPE = "city-tasks-api/tasks.read"
SECRET_VARIABLE = "SMOKE_CLIENT_SECRET"  # noqa: S105 (the name of a variable, not a secret)


class SmokeFailure(RuntimeError):
    """A check failed; the message names the URL and what came back (never a token or a secret)."""


@dataclass(frozen=True)
class SmokeTarget:
    api_url: str  # where the browser reaches the API: the CloudFront URL, or the API's own HTTPS name
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)  # never in a log line or a traceback's locals
    scope: str = SCOPE


def _request(
    url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {})  # noqa: S310 (https/http only)
    if not url.startswith(("https://", "http://")):
        raise SmokeFailure(f"{url}: not an http(s) URL")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        return 0, str(getattr(exc, "reason", exc)).encode()


def _is_up(body: bytes) -> bool:
    """The API's readiness document, not a page that merely answers 200 (a CDN's SPA fallback)."""
    try:
        return json.loads(body).get("status") == "UP"
    except (ValueError, AttributeError):
        return False


def wait_ready(
    url: str, deadline_s: float, interval_s: float = 5.0, clock: Callable[[], float] = time.monotonic
) -> None:
    """GET `url` until it answers 200 with `{"status": "UP"}`, or `deadline_s` has passed."""
    end = clock() + deadline_s
    while True:
        status, body = _request(url)
        if status == 200 and _is_up(body):
            return
        if clock() >= end:
            what = "a page that is not the API's readiness JSON" if status == 200 else (status or "nothing")
            raise SmokeFailure(f"{url} answered {what} for {deadline_s:.0f} s: {body[:200]!r}")
        time.sleep(interval_s)


def machine_token(target: SmokeTarget) -> str:
    """client_credentials with HTTP basic client authentication, as Cognito's token endpoint expects."""
    basic = base64.b64encode(f"{target.client_id}:{target.client_secret}".encode()).decode()
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": target.scope}).encode()
    status, body = _request(
        target.token_url,
        data=form,
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    if status != 200:
        raise SmokeFailure(f"POST {target.token_url} (client_credentials) answered {status}: {body[:200]!r}")
    token = json.loads(body).get("access_token")
    if not token:
        raise SmokeFailure(f"POST {target.token_url} answered 200 without an access_token")
    return str(token)


def check_list_refuses_anonymous(base: str) -> None:
    status, _ = _request(f"{base}{LIST_PATH}")
    if status != 401:
        raise SmokeFailure(f"GET {base}{LIST_PATH} without a token answered {status}, expected 401")


def check_list_with_token(base: str, token: str) -> None:
    status, body = _request(f"{base}{LIST_PATH}", headers={"Authorization": f"Bearer {token}"})
    if status != 200:
        raise SmokeFailure(f"GET {base}{LIST_PATH} with a machine token answered {status}: {body[:200]!r}")
    try:
        json.loads(body)
    except ValueError:
        raise SmokeFailure(f"GET {base}{LIST_PATH} answered 200 but not JSON: {body[:200]!r}") from None


def run_smoke(target: SmokeTarget, ready_deadline_s: float = 300, log: Callable[[str], None] = print) -> None:
    base = target.api_url.rstrip("/")
    wait_ready(f"{base}{HEALTH_PATH}", ready_deadline_s)
    log(f"ok  GET {base}{HEALTH_PATH} -> 200 UP")
    check_list_refuses_anonymous(base)
    log(f"ok  GET {base}{LIST_PATH} without a token -> 401")
    token = machine_token(target)
    log(f"ok  POST {target.token_url} client_credentials -> a token")
    check_list_with_token(base, token)
    log(f"ok  GET {base}{LIST_PATH} with the machine token -> 200")


def deployed_target(config: Any, session_factory: Callable[..., Any]) -> SmokeTarget:
    """The deployed environment's URLs, machine client and its secret (read, never printed)."""
    from infra.runner import stack_outputs

    sec, work = config.security, config.workload
    idp = stack_outputs(sec.profile, sec.region, config.stack_name("Idp"), session_factory) or {}
    tasks = stack_outputs(work.profile, work.region, config.stack_name("Tasks"), session_factory) or {}
    front = stack_outputs(work.profile, work.region, config.stack_name("Frontend"), session_factory) or {}
    missing = [n for n, v in (("Idp", idp), ("Tasks", tasks), ("Frontend", front)) if not v]
    if missing:
        raise SmokeFailure(f"{', '.join(missing)} stack(s) of {config.name} not deployed")
    api_url = tasks.get("ApiUrl", "")
    if not api_url.startswith("https://"):
        api_url = front["FrontendUrl"]  # a plain-HTTP origin is only reachable through CloudFront
    cognito = session_factory(profile_name=sec.profile).client("cognito-idp", region_name=sec.region)
    client = cognito.describe_user_pool_client(UserPoolId=idp["UserPoolId"], ClientId=idp["LoadTestClientId"])
    return SmokeTarget(
        api_url=api_url,
        token_url=f"{idp['HostedUiDomain'].rstrip('/')}/oauth2/token",
        client_id=idp["LoadTestClientId"],
        client_secret=client["UserPoolClient"]["ClientSecret"],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.pipelines.smoke", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--env", help="a deployed environment (reads its stacks' outputs)")
    parser.add_argument(
        "--pipeline", action="store_true", help="on a pipeline's role: assume the lookup roles"
    )
    parser.add_argument("--api-url", help="instead of --env: the API's base URL")
    parser.add_argument("--token-url", help="instead of --env: the IdP's token endpoint")
    parser.add_argument(
        "--client-id", help=f"instead of --env: a client_credentials client ({SECRET_VARIABLE})"
    )
    parser.add_argument("--ready-timeout", type=float, default=300, help="seconds to wait for /health/ready")
    args = parser.parse_args(argv)
    try:
        if args.env:
            from infra.environments import get_environment

            config = get_environment(args.env)
            if args.pipeline:
                from infra.pipelines.credentials import AssumedRoleSessions

                sessions: Callable[..., Any] = AssumedRoleSessions.for_environment(config, "lookup")
            else:
                import boto3

                sessions = boto3.Session
            target = deployed_target(config, sessions)
        elif args.api_url and args.token_url and args.client_id and os.environ.get(SECRET_VARIABLE):
            target = SmokeTarget(args.api_url, args.token_url, args.client_id, os.environ[SECRET_VARIABLE])
        else:
            parser.error(f"give --env, or --api-url, --token-url, --client-id and {SECRET_VARIABLE}")
        run_smoke(target, args.ready_timeout)
    except SmokeFailure as exc:
        print(f"smoke test failed: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # AWS and config errors: one clear line, no stack trace
        print(f"smoke test could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
