"""make deploy: the ordered plan, values passed forward, dry runs that call nothing, login errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from infra.runner import CDK_BIN, DeployError, Runner

from infra import deploy
from tests.infra.conftest import make_without_aws

REPO_ROOT = Path(__file__).resolve().parents[2]
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1"
IDP_OUTPUTS = {
    "UserPoolId": "us-east-1_Pool1",
    "Issuer": ISSUER,
    "JwksUrl": f"{ISSUER}/.well-known/jwks.json",
    "WebClientId": "web123",
    "LoadTestClientId": "load456",
    "HostedUiDomain": "https://city-tasks-sandbox.auth.us-east-1.amazoncognito.com",
}
API_ORIGIN = {
    "ApiOriginId": "vo_0123456789",
    "ApiOriginDomain": "internal-city-alb.us-east-1.elb.amazonaws.com",
}
NEW_FRONTEND = "https://d222.cloudfront.net"


def test_make_deploy_dry_run_prints_the_ordered_plan_and_calls_nothing(tmp_path):
    result = make_without_aws(tmp_path, "deploy", "ENV=sandbox", "DRY_RUN=1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "DRY RUN" in out
    steps = [line for line in out.splitlines() if line[:2].rstrip(".").isdigit()]
    assert [s.split(". ", 1)[0] for s in steps] == [str(i) for i in range(1, 11)]
    # Local checks first: nothing is deployed before the arm64 build and the SCP preflight are known good.
    assert "image build prerequisites" in steps[0]
    assert "Preflight" in steps[1]
    commands = [line.strip().removeprefix("$ ") for line in out.splitlines() if line.strip().startswith("$ ")]
    assert commands[:2] == [
        "docker buildx inspect --bootstrap  (its platforms must include linux/arm64)",
        "make preflight ENV=sandbox",
    ]
    commands = commands[2:]
    stacks = [c.split()[5] for c in commands if "/cdk " in c]
    assert stacks == [
        "CityTasks-Idp-sandbox",
        "CityTasks-Tasks-sandbox",
        "CityTasks-Frontend-sandbox",
        "CityTasks-Idp-sandbox",
        "CityTasks-Tasks-sandbox",
    ]
    assert commands.pop(2) == "(cd frontend && npm ci --no-audit --no-fund && npm run build)"
    assert all(c.startswith("(cd infra && ./node_modules/.bin/cdk deploy ") for c in commands)
    assert "--profile city-security" in commands[0]
    assert "--profile city-sandbox" in commands[1]
    assert "'issuer=<Issuer output of CityTasks-Idp-sandbox>'" in commands[1]
    assert "'apiOriginId=<ApiOriginId output of CityTasks-Tasks-sandbox>'" in commands[2]
    assert "'apiOriginDomain=<ApiOriginDomain output of CityTasks-Tasks-sandbox>'" in commands[2]
    assert "'frontendUrl=<FrontendUrl output of CityTasks-Frontend-sandbox>'" in commands[3]


class FakeCdk:
    """Stands in for the CDK CLI process: records each call and writes the outputs file it would write."""

    def __init__(self, cwd: Path, outputs: dict[str, dict[str, str]], fail_on: str | None = None) -> None:
        self.cwd = cwd
        self.outputs = outputs
        self.fail_on = fail_on
        self.calls: list[list[str]] = []
        self.builds: list[tuple[Path, list[str]]] = []
        self.events: list[str] = []  # both kinds, in call order

    def __call__(self, argv, cwd, env, check):
        self.events.append(" ".join(argv[:3]))
        if argv[0] == "npm":  # the frontend build step
            self.builds.append((Path(cwd), argv))
            return subprocess.CompletedProcess(argv, 0)
        assert Path(cwd) == self.cwd
        self.calls.append(argv)
        stack = argv[2]
        if stack == self.fail_on:
            return subprocess.CompletedProcess(argv, 1)
        if "--outputs-file" in argv:
            target = self.cwd / argv[argv.index("--outputs-file") + 1]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps({stack: self.outputs[stack]}))
        return subprocess.CompletedProcess(argv, 0)

    def context(self, call: list[str]) -> dict[str, str]:
        pairs = [call[i + 1] for i, arg in enumerate(call) if arg == "-c"]
        return dict(pair.split("=", 1) for pair in pairs)


class StubbedSessions:
    """boto3 sessions whose STS/CloudFormation answers come from botocore's Stubber, per profile."""

    def __init__(self, accounts: dict[str, str], frontend_outputs: dict[str, str] | None) -> None:
        self.accounts = accounts
        self.frontend_outputs = frontend_outputs

    def __call__(self, profile_name: str):
        stubs = self

        class Session:
            def client(self, service: str, region_name: str):
                client = boto3.Session(
                    aws_access_key_id="test", aws_secret_access_key="test", region_name=region_name
                ).client(service)
                stubber = Stubber(client)
                if service == "sts":
                    stubber.add_response(
                        "get_caller_identity",
                        {
                            "Account": stubs.accounts[profile_name],
                            "Arn": "arn:aws:sts::111111111111:assumed-role/p/u",
                            "UserId": "AROAEXAMPLEID",
                        },
                    )
                elif stubs.frontend_outputs is None:
                    stubber.add_client_error(
                        "describe_stacks",
                        "ValidationError",
                        "Stack with id CityTasks-Frontend-sandbox does not exist",
                    )
                else:
                    outputs = [{"OutputKey": k, "OutputValue": v} for k, v in stubs.frontend_outputs.items()]
                    stubber.add_response(
                        "describe_stacks",
                        {
                            "Stacks": [
                                {
                                    "StackName": "CityTasks-Frontend-sandbox",
                                    "CreationTime": "2026-01-01T00:00:00Z",
                                    "StackStatus": "CREATE_COMPLETE",
                                    "Outputs": outputs,
                                }
                            ]
                        },
                    )
                stubber.activate()
                return client

        return Session()


def _run_deploy(environments, tmp_path, frontend_outputs, new_frontend=NEW_FRONTEND, fail_on=None):
    config = environments["sandbox"]
    cdk = FakeCdk(
        tmp_path,
        {
            "CityTasks-Idp-sandbox": IDP_OUTPUTS,
            "CityTasks-Tasks-sandbox": API_ORIGIN,
            "CityTasks-Frontend-sandbox": {"FrontendUrl": new_frontend},
        },
        fail_on=fail_on,
    )
    out = io.StringIO()
    runner = Runner(dry_run=False, out=out, run=cdk, cwd=tmp_path, check_tools=False)
    sessions = StubbedSessions(
        {config.security.profile: config.security.account, config.workload.profile: config.workload.account},
        frontend_outputs,
    )
    deploy.deploy(config, runner, session_factory=sessions)
    return cdk, out.getvalue()


def test_first_deploy_passes_values_forward_and_then_registers_the_new_frontend_url(environments, tmp_path):
    cdk, out = _run_deploy(environments, tmp_path, frontend_outputs=None)
    stacks = [call[2] for call in cdk.calls]
    assert stacks == [
        "CityTasks-Idp-sandbox",
        "CityTasks-Tasks-sandbox",
        "CityTasks-Frontend-sandbox",
        "CityTasks-Idp-sandbox",
        "CityTasks-Tasks-sandbox",
    ]
    idp, tasks, frontend, idp_again, tasks_again = (cdk.context(c) for c in cdk.calls)
    assert "frontendUrl" not in idp
    assert tasks["issuer"] == ISSUER
    assert tasks["clientIds"] == "web123,load456"  # no LoadTestUserClientId output in this stand-in
    assert frontend["apiOriginId"] == API_ORIGIN["ApiOriginId"]
    assert frontend["apiOriginDomain"] == API_ORIGIN["ApiOriginDomain"]
    assert frontend["webClientId"] == "web123"
    assert idp_again["frontendUrl"] == NEW_FRONTEND
    assert tasks_again["frontendUrl"] == NEW_FRONTEND
    assert f"Done: {NEW_FRONTEND}" in out


def test_redeploy_with_an_unchanged_frontend_url_skips_the_callback_update(environments, tmp_path):
    cdk, out = _run_deploy(environments, tmp_path, frontend_outputs={"FrontendUrl": NEW_FRONTEND})
    assert [call[2] for call in cdk.calls] == [
        "CityTasks-Idp-sandbox",
        "CityTasks-Tasks-sandbox",
        "CityTasks-Frontend-sandbox",
    ]
    assert cdk.context(cdk.calls[0])["frontendUrl"] == NEW_FRONTEND
    assert "unchanged" in out


def test_a_failing_cdk_step_stops_the_deploy_and_names_the_login_helper(environments, tmp_path):
    with pytest.raises(DeployError, match=r"(?s)step 6 failed .*city-login city-sandbox"):
        _run_deploy(environments, tmp_path, frontend_outputs=None, fail_on="CityTasks-Tasks-sandbox")


def test_a_profile_for_the_wrong_account_is_refused(environments, tmp_path):
    config = environments["sandbox"]
    sessions = StubbedSessions(
        {config.security.profile: "999999999999", config.workload.profile: "555555555555"}, None
    )
    with pytest.raises(DeployError, match=r"signs in to account 555555555555.*expects 111111111111"):
        deploy.deploy(
            config, Runner(dry_run=False, out=io.StringIO(), cwd=tmp_path, check_tools=False), sessions
        )


def test_unknown_environment_is_a_clear_cli_error(capsys):
    with pytest.raises(SystemExit) as exc:
        deploy.main(["deploy", "--env", "staging", "--dry-run"])
    assert exc.value.code == 2
    assert "invalid choice: 'staging'" in capsys.readouterr().err


def test_bootstrap_dry_run_covers_both_accounts(environments):
    out = io.StringIO()
    deploy.bootstrap(environments["sandbox"], Runner(dry_run=True, out=out))
    text = out.getvalue()
    assert "cdk bootstrap aws://999999999999/us-east-1 --profile city-security" in text
    assert "cdk bootstrap aws://111111111111/us-east-1 --profile city-sandbox" in text


def test_diff_dry_run_diffs_each_stack_with_its_own_profile(environments):
    out = io.StringIO()
    deploy.diff(environments["dev"], Runner(dry_run=True, out=out))
    commands = [line.strip() for line in out.getvalue().splitlines() if line.strip().startswith("$ ")]
    assert [c.split()[5:7] for c in commands] == [
        ["diff", "CityTasks-Idp-dev"],
        ["diff", "CityTasks-Tasks-dev"],
        ["diff", "CityTasks-Frontend-dev"],
    ]
    assert "--profile city-security" in commands[0]
    assert all("--profile city-dev" in c for c in commands[1:])


def test_context_values_reach_the_app():
    import aws_cdk as cdk
    from infra.app import DeployInputs

    app = cdk.App(context={"issuer": "https://issuer.example", "clientIds": "a, b,,c", "apiOriginId": ""})
    inputs = DeployInputs.from_context(app.node)
    assert inputs.issuer == "https://issuer.example"
    assert inputs.client_ids == ("a", "b", "c")
    assert inputs.api_origin_id is None  # empty means "not known yet"


def test_the_web_app_is_built_before_the_frontend_stack_deploys(environments, tmp_path, monkeypatch):
    frontend = tmp_path / "frontend"
    frontend.mkdir()
    (frontend / "package.json").write_text("{}")
    monkeypatch.setattr(deploy, "FRONTEND_DIR", frontend)
    cdk, _ = _run_deploy(environments, tmp_path, frontend_outputs={"FrontendUrl": NEW_FRONTEND})
    assert cdk.builds == [
        (frontend, ["npm", "ci", "--no-audit", "--no-fund"]),
        (frontend, ["npm", "run", "build"]),
    ]
    assert cdk.events[:5] == [
        "./node_modules/.bin/cdk deploy CityTasks-Idp-sandbox",
        "./node_modules/.bin/cdk deploy CityTasks-Tasks-sandbox",
        "npm ci --no-audit",
        "npm run build",
        "./node_modules/.bin/cdk deploy CityTasks-Frontend-sandbox",
    ]


def test_without_a_frontend_project_the_placeholder_is_announced(environments, tmp_path, monkeypatch):
    monkeypatch.setattr(deploy, "FRONTEND_DIR", tmp_path / "no-frontend")
    cdk, out = _run_deploy(environments, tmp_path, frontend_outputs={"FrontendUrl": NEW_FRONTEND})
    assert cdk.builds == []
    assert "placeholder page" in out


def test_the_api_accepts_the_load_test_people_client_when_the_idp_has_one():
    outputs = {**IDP_OUTPUTS, "LoadTestUserClientId": "people789"}
    assert deploy._client_ids(outputs) == "web123,load456,people789"
    assert deploy._client_ids(IDP_OUTPUTS) == "web123,load456"


def _probe(answers: dict[str, tuple[int, str]]):
    calls: list[list[str]] = []

    def probe(argv: list[str]) -> tuple[int, str]:
        calls.append(argv)
        return answers.get(" ".join(argv[:3]), (0, ""))

    probe.calls = calls  # type: ignore[attr-defined]
    return probe


def test_image_build_needs_an_arm64_builder_before_anything_is_deployed(environments, tmp_path):
    """A laptop without arm64 emulation stops at the first step, not after the IdP is live."""
    probe = _probe({"docker buildx inspect": (0, "Name: default\nPlatforms: linux/amd64, linux/386\n")})
    cdk = FakeCdk(tmp_path, {})
    runner = Runner(dry_run=False, out=io.StringIO(), run=cdk, cwd=tmp_path, probe=probe)
    (tmp_path / CDK_BIN).parent.mkdir(parents=True)
    (tmp_path / CDK_BIN).touch()
    with pytest.raises(DeployError, match=r"cannot build linux/arm64 .*tonistiigi/binfmt --install arm64"):
        deploy.deploy(environments["sandbox"], runner, session_factory=lambda **_: None)
    assert cdk.calls == []


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"docker version --format": (127, "docker: not found")}, "Docker is needed"),
        (
            {"docker buildx version": (1, "docker: unknown command: docker buildx")},
            "install the buildx plugin",
        ),
        ({"docker version --format": (1, "Cannot connect to the Docker daemon")}, "daemon does not answer"),
    ],
)
def test_image_build_prerequisites_name_what_is_missing(answers, message):
    with pytest.raises(DeployError, match=message):
        deploy.check_image_build(_probe(answers))


def test_image_build_prerequisites_pass_with_arm64():
    probe = _probe({"docker buildx inspect": (0, "Platforms: linux/amd64*, linux/arm64, linux/arm/v7\n")})
    assert "linux/arm64" in deploy.check_image_build(probe)


def test_an_error_from_a_subcommand_is_a_cli_message_under_python_m():
    """Under `python -m infra.deploy` the CLI module is __main__: the subcommands' DeployError (defined once,
    in infra.runner) must still be caught and printed, not end in a traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "infra.deploy", "destroy", "--env", "prod", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: prod holds production data"), result.stderr
    assert "Traceback" not in result.stderr
