"""`make smoke`: the checks the pipelines run after each deploy, run here against the real local stack
(the local IdP and the Tasks API on PostgreSQL, as processes), and against what a broken deploy looks like."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from infra.pipelines import smoke as smoke_module
from infra.pipelines.smoke import SmokeFailure, SmokeTarget, deployed_target, run_smoke, wait_ready

from devstack.headless import HeadlessConfig, HeadlessStack
from devstack.net import free_port
from tests.support.moto import client, moto_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def stack(postgres_server, tmp_path_factory):
    url = postgres_server.create_database()
    config = HeadlessConfig(
        database_url=url, workdir=tmp_path_factory.mktemp("smoke-stack"), cheap_password_hashing=True
    )
    with HeadlessStack(config) as running:
        yield running


def _target(stack: HeadlessStack, **changes: str) -> SmokeTarget:
    seed = stack.seed
    assert seed.machine_client_id
    assert seed.machine_client_secret
    values = {
        "api_url": stack.api_url,
        "token_url": f"{stack.idp_url}/oauth2/token",
        "client_id": seed.machine_client_id,
        "client_secret": seed.machine_client_secret,
        **changes,
    }
    return SmokeTarget(**values)


def test_a_working_stack_passes_every_check(stack):
    lines: list[str] = []
    run_smoke(_target(stack), ready_deadline_s=30, log=lines.append)
    assert [line.split(" ", 3)[2] for line in lines] == ["GET", "GET", "POST", "GET"]
    assert lines[-1].endswith("with the machine token -> 200")


def test_a_wrong_client_secret_fails_at_the_token_and_never_prints_the_secret(stack):
    with pytest.raises(SmokeFailure, match="client_credentials\\) answered 40") as failure:
        run_smoke(_target(stack, client_secret="not-the-secret"), ready_deadline_s=30, log=lambda _: None)
    assert "not-the-secret" not in str(failure.value)


def test_an_api_that_never_gets_ready_fails_after_the_deadline():
    nothing = f"http://127.0.0.1:{free_port()}/health/ready"
    with pytest.raises(SmokeFailure, match="answered nothing for 1 s"):
        wait_ready(nothing, deadline_s=1, interval_s=0.2)


class _OpenDoor(BaseHTTPRequestHandler):
    """A server that answers 200 to everything: what a mis-routed CloudFront (SPA fallback) looks like."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<!doctype html><div id=app></div>")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def open_door():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OpenDoor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_that_answers_200_is_not_mistaken_for_a_ready_api(stack, open_door):
    # What CloudFront answers when /health/* is not routed to the API: the app shell, with 200.
    with pytest.raises(SmokeFailure, match="answered a page that is not the API's readiness JSON"):
        run_smoke(_target(stack, api_url=open_door), ready_deadline_s=0.5, log=lambda _: None)


def test_a_list_that_answers_without_a_token_fails(stack, open_door):
    smoke_module.check_list_refuses_anonymous(stack.api_url)  # the real API says 401
    with pytest.raises(SmokeFailure, match="without a token answered 200, expected 401"):
        smoke_module.check_list_refuses_anonymous(open_door)


def test_the_command_line_runs_the_same_checks(stack):
    target = _target(stack)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.pipelines.smoke",
            "--api-url",
            target.api_url,
            "--token-url",
            target.token_url,
            "--client-id",
            target.client_id,
            "--ready-timeout",
            "30",
        ],
        env={"SMOKE_CLIENT_SECRET": target.client_secret, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("smoke test passed")
    assert target.client_secret not in result.stdout + result.stderr


def test_the_command_line_explains_what_it_needs():
    result = subprocess.run(
        [sys.executable, "-m", "infra.pipelines.smoke", "--api-url", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "give --env, or --api-url, --token-url, --client-id and SMOKE_CLIENT_SECRET" in result.stderr


def _stack_with_outputs(cfn, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))


class _MotoSessions:
    """`session_factory(profile_name=...)` whose clients all talk to one moto server."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, profile_name: str) -> _MotoSessions:
        return self

    def client(self, service: str, region_name: str):
        return client(service, self.url)


@pytest.fixture
def aws():
    with moto_server() as url:
        httpx.post(f"{url}/moto-api/reset")
        yield _MotoSessions(url)


CLOUDFRONT = "https://d111.cloudfront.net"


@pytest.mark.parametrize(
    ("api_url", "expected"),
    [
        ("http://city-alb-1.us-east-1.elb.amazonaws.com", CLOUDFRONT),  # a plain-HTTP origin: via CloudFront
        ("https://api.city-tasks.example.com", "https://api.city-tasks.example.com"),
    ],
)
def test_a_deployed_environment_is_found_from_its_stack_outputs(environments, aws, api_url, expected):
    config = environments["dev"]
    cognito = aws.client("cognito-idp", "us-east-1")
    pool = cognito.create_user_pool(PoolName="city-tasks-dev")["UserPool"]["Id"]
    machine = cognito.create_user_pool_client(UserPoolId=pool, ClientName="load", GenerateSecret=True)
    machine = machine["UserPoolClient"]
    cfn = aws.client("cloudformation", "us-east-1")
    hosted_ui = "https://city-tasks-dev.auth.us-east-1.amazoncognito.com"
    idp = {"UserPoolId": pool, "LoadTestClientId": machine["ClientId"], "HostedUiDomain": hosted_ui}
    _stack_with_outputs(cfn, config.stack_name("Idp"), idp)
    _stack_with_outputs(cfn, config.stack_name("Tasks"), {"ApiUrl": api_url})
    _stack_with_outputs(cfn, config.stack_name("Frontend"), {"FrontendUrl": CLOUDFRONT})

    target = deployed_target(config, aws)
    assert target.api_url == expected
    assert target.token_url == f"{hosted_ui}/oauth2/token"
    assert target.client_id == machine["ClientId"]
    assert target.client_secret == machine["ClientSecret"]
    assert machine["ClientSecret"] not in repr(target)


def test_an_environment_that_is_not_deployed_is_named(environments, aws):
    with pytest.raises(SmokeFailure, match="Idp, Tasks, Frontend stack\\(s\\) of test not deployed"):
        deployed_target(environments["test"], aws)
