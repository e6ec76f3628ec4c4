"""`pipelines:` in environments.yaml, the pipeline's AWS sessions, and `make ... ENV=pipelines`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from infra.environments import CONFIG_FILE, ConfigError, load_pipelines
from infra.pipelines.credentials import AssumedRoleSessions
from infra.pipelines.deploy import deploy as deploy_pipelines
from infra.runner import Runner, check_session

from tests.support.moto import moto_server


def _with(tmp_path: Path, **changes: object) -> Path:
    raw = yaml.safe_load(CONFIG_FILE.read_text())
    for dotted, value in changes.items():
        node = raw["pipelines"]
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        if value is None:
            node.pop(leaf)
        else:
            node[leaf] = value
    path = tmp_path / "environments.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_the_shipped_pipelines_config_loads():
    pipelines = load_pipelines()
    assert pipelines.sdlc.environments == ("dev", "test")
    assert pipelines.prod.environments == ("prod",)
    assert pipelines.sdlc.deployments.region == "us-east-1"
    assert pipelines.side_of("sandbox") is pipelines.sdlc


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"connection_arn": "arn:aws:iam::1:role/x"}, "connection_arn must be a CodeStar/CodeConnections"),
        ({"repository": "no-owner"}, "repository must be owner/name"),
        ({"sdlc__environments": ["dev", "prod"]}, "must not include prod"),
        ({"sdlc__environments": ["dev", "staging"]}, "unknown staging"),
        ({"prod__environments": ["test"]}, "prod.environments must be \\[prod\\]"),
        ({"sdlc__deployments__account": "666666666666"}, "different Deployments accounts"),
        ({"sdlc__deployments__account": 555}, "account must be 12 digits"),
        ({"colour": "blue"}, "unknown key\\(s\\) colour"),
        ({"repository": None}, "repository"),
    ],
)
def test_a_wrong_pipelines_config_names_the_key(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message):
        load_pipelines(_with(tmp_path, **changes))


def test_a_file_without_pipelines_says_what_is_missing(tmp_path):
    path = tmp_path / "environments.yaml"
    path.write_text("environments: {}\n")
    with pytest.raises(ConfigError, match="needs a top-level 'pipelines' mapping"):
        load_pipelines(path)


def test_pipeline_sessions_assume_the_cdk_role_of_each_profiles_account(environments, monkeypatch):
    config = environments["dev"]
    with moto_server() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        sessions = AssumedRoleSessions.for_environment(config, "deploy")
        for target in (config.security, config.workload):
            # deploy.py's own check: the session signs in to the account the config names.
            check_session(target.profile, target.account, target.region, sessions)
            identity = sessions(profile_name=target.profile).client("sts").get_caller_identity()
            assert f"assumed-role/cdk-hnb659fds-deploy-role-{target.account}-us-east-1/" in identity["Arn"]


def test_deploying_the_pipelines_goes_sdlc_first_each_with_its_profile(capfd):
    deploy_pipelines(load_pipelines(), Runner(dry_run=True))
    out = capfd.readouterr().out
    sdlc = "cdk deploy CityTasks-Pipeline-sdlc --exclusively --profile city-deployments-sdlc -c env=pipelines"
    prod = "cdk deploy CityTasks-Pipeline-prod --exclusively --profile city-deployments-prod -c env=pipelines"
    assert sdlc in out
    assert prod in out
    assert out.index(sdlc) < out.index(prod)
    assert "--require-approval broadening" in out


def test_the_organization_spec_holds_every_account_the_pipelines_use():
    """Nothing the pipelines need is created by hand: `city-org apply` makes these accounts in these OUs."""
    spec = yaml.safe_load((Path(CONFIG_FILE).parents[1] / "org" / "organization.yaml").read_text())
    accounts = spec["accounts"]
    pipelines = load_pipelines()
    deployments = {
        a["tags"]["environment"]: a["ou"] for a in accounts if a["tags"].get("workload") == "pipelines"
    }
    assert deployments == {"dev": "Deployments/SDLC", "prod": "Deployments/Prod"}
    workloads = {
        a["tags"]["environment"]: a["ou"] for a in accounts if a["tags"].get("workload") == "tasks-api"
    }
    for name in (*pipelines.sdlc.environments, *pipelines.prod.environments):
        assert name in workloads, f"no account for {name} in infra/org/organization.yaml"
    assert workloads["prod"] == "Workloads/Prod"
    assert {workloads[name] for name in pipelines.sdlc.environments} == {"Workloads/SDLC"}


def test_destroying_the_pipelines_is_refused_with_a_reason(capfd):
    from infra.deploy import main

    assert main(["destroy", "--env", "pipelines", "--dry-run"]) == 2
    assert "make destroy does not remove the pipelines" in capfd.readouterr().err
