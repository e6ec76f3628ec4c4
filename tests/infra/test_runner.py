"""The CDK CLI call for one stack, the step runner and the AWS session checks (infra/runner.py)."""

from __future__ import annotations

import io
import subprocess

import boto3
import pytest
from botocore.stub import Stubber
from infra.runner import CDK_BIN, Command, DeployError, Runner, cdk_command, check_session, require_tools


@pytest.fixture
def no_aws(monkeypatch, tmp_path):
    """Point every AWS client at nothing: an attempted call fails fast instead of reaching AWS."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_missing_profile_points_at_the_login_helper(no_aws):
    (no_aws / "config").write_text("[profile other]\nregion = us-east-1\n")
    with pytest.raises(DeployError, match=r"'city-sandbox' is not configured.*city-login city-sandbox"):
        check_session("city-sandbox", "111111111111", "us-east-1", boto3.Session)


def test_expired_sso_session_points_at_the_login_helper(no_aws):
    (no_aws / "config").write_text(
        "[profile city-sandbox]\nsso_session = city\nsso_account_id = 111111111111\n"
        "sso_role_name = Provisioners\nregion = us-east-1\n\n"
        "[sso-session city]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n"
    )
    with pytest.raises(
        DeployError, match=r"SSO session of profile 'city-sandbox' has expired.*city-login city-sandbox"
    ):
        check_session("city-sandbox", "111111111111", "us-east-1", boto3.Session)


def test_expired_keys_point_at_the_login_helper():
    def session(profile_name):
        class Session:
            def client(self, service, region_name):
                client = boto3.Session(
                    aws_access_key_id="old", aws_secret_access_key="old", region_name=region_name
                ).client(service)
                stubber = Stubber(client)
                stubber.add_client_error(
                    "get_caller_identity", "ExpiredToken", "The security token has expired"
                )
                stubber.activate()
                return client

        return Session()

    with pytest.raises(DeployError, match=r"expired or invalid \(ExpiredToken\).*city-login city-prod"):
        check_session("city-prod", "444444444444", "us-east-1", session)


def test_prod_deploy_asks_before_broadening_permissions(environments):
    command = cdk_command("deploy", environments["prod"], "Tasks")
    assert command.argv[command.argv.index("--require-approval") + 1] == "broadening"
    assert command.profile == "city-prod"
    sandbox = cdk_command("deploy", environments["sandbox"], "Idp")
    assert sandbox.argv[sandbox.argv.index("--require-approval") + 1] == "never"
    assert sandbox.profile == "city-security"


def test_a_dry_run_prints_numbered_steps_runs_nothing_and_names_unknown_outputs(tmp_path):
    calls: list[list[str]] = []
    out = io.StringIO()
    runner = Runner(dry_run=True, out=out, run=lambda argv, **_: calls.append(argv), cwd=tmp_path)
    outputs = runner.cdk("Deploy the IdP", Command(("cdk", "deploy", "Idp"), "p"), "CityTasks-Idp-dev")
    runner.action("Check", lambda: calls.append(["called"]))
    assert calls == []
    assert out.getvalue().splitlines() == [
        "1. Deploy the IdP",
        "   $ (cd infra && cdk deploy Idp)",
        "2. Check",
    ]
    assert outputs["Issuer"] == "<Issuer output of CityTasks-Idp-dev>"


def test_a_step_reads_its_stack_outputs_from_the_outputs_file(tmp_path):
    (tmp_path / "cdk.out" / "outputs").mkdir(parents=True)
    (tmp_path / "cdk.out" / "outputs" / "S.json").write_text('{"S": {"Issuer": "https://x", "Port": 443}}')

    def run(argv, **_):
        return subprocess.CompletedProcess(argv, 0)

    runner = Runner(dry_run=False, out=io.StringIO(), run=run, cwd=tmp_path)
    assert runner.cdk("Deploy", Command(("cdk", "deploy", "S"), "p"), "S") == {
        "Issuer": "https://x",
        "Port": "443",
    }


def test_on_a_pipeline_role_the_cli_is_called_without_a_profile(tmp_path):
    seen: list[list[str]] = []

    def run(argv, **_):
        seen.append(argv)
        return subprocess.CompletedProcess(argv, 0)

    runner = Runner(dry_run=False, out=io.StringIO(), run=run, cwd=tmp_path, ambient_credentials=True)
    runner.cdk("Diff", Command(("cdk", "diff", "S", "--profile", "city-dev", "--exclusively"), "city-dev"))
    assert seen == [["cdk", "diff", "S", "--exclusively"]]


def test_a_missing_cdk_cli_says_how_to_install_it(tmp_path):
    with pytest.raises(DeployError, match=r"npm ci` in infra/"):
        require_tools(Runner(dry_run=False, out=io.StringIO(), cwd=tmp_path))
    (tmp_path / CDK_BIN).parent.mkdir(parents=True)
    (tmp_path / CDK_BIN).touch()
    require_tools(Runner(dry_run=False, out=io.StringIO(), cwd=tmp_path))
