"""One synth per environment for the whole session: jsii synths are slow, so every test shares them."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk.assertions import Template
from infra.app import CityTasksStacks, DeployInputs, build_app
from infra.environments import ENVIRONMENT_NAMES, Environment, load_environments

KINDS = ("Idp", "Tasks", "Frontend")
REPO_ROOT = Path(__file__).resolve().parents[2]


def make_without_aws(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`make ARGS` with no AWS profiles or keys and a dead proxy: any AWS call would fail. HOME stays
    (uv lives there)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# The values deploy.py passes forward after the IdP and Tasks stacks are deployed.
DEPLOYED_INPUTS = DeployInputs(
    issuer="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123",
    client_ids=("webclient123", "loadclient456"),
    web_client_id="webclient123",
    hosted_ui_domain="https://city-tasks-sandbox.auth.us-east-1.amazoncognito.com",
    api_origin_id="vo_0123456789abcdef",
    api_origin_domain="internal-city-alb-123.us-east-1.elb.amazonaws.com",
    frontend_url="https://d111111abcdef8.cloudfront.net",
)


@dataclass
class Synth:
    """One synthesized app: its stacks, output directory and parsed templates (Template built on demand)."""

    config: Environment
    stacks: CityTasksStacks
    outdir: Path
    templates: dict[str, dict] = field(default_factory=dict)
    _assertions: dict[str, Template] = field(default_factory=dict)

    def stack(self, kind: str) -> cdk.Stack:
        return getattr(self.stacks, kind.lower())

    def template(self, kind: str) -> Template:
        if kind not in self._assertions:
            self._assertions[kind] = Template.from_json(self.templates[kind])
        return self._assertions[kind]

    def resources(self, kind: str, cfn_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.templates[kind]["Resources"].items() if v["Type"] == cfn_type}

    def template_path(self, kind: str) -> Path:
        return self.outdir / f"{self.config.stack_name(kind)}.template.json"


def synthesize(config: Environment, outdir: Path, **kwargs: object) -> Synth:
    app = cdk.App(outdir=str(outdir))
    stacks = build_app(config, app=app, **kwargs)  # type: ignore[arg-type]
    app.synth()
    synth = Synth(config=config, stacks=stacks, outdir=outdir)
    for kind in KINDS:
        synth.templates[kind] = json.loads(synth.template_path(kind).read_text())
    return synth


@pytest.fixture(scope="session")
def environments() -> dict[str, Environment]:
    return load_environments()


@pytest.fixture(scope="session")
def synth_env(
    environments: dict[str, Environment], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Synth]:
    """`synth_env("prod")`: that environment synthesized once (no context: a first deploy's view)."""
    cache: dict[str, Synth] = {}

    def get(name: str) -> Synth:
        if name not in cache:
            cache[name] = synthesize(
                environments[name],
                tmp_path_factory.mktemp(f"cdk-{name}"),
                inputs=DeployInputs(),
                frontend_dist=tmp_path_factory.mktemp(f"no-dist-{name}"),
            )
        return cache[name]

    return get


@pytest.fixture(scope="session")
def sandbox_deployed(environments: dict[str, Environment], tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Sandbox as the final deploy step sees it: IdP/API/frontend values in context and a built frontend."""
    dist = tmp_path_factory.mktemp("dist")
    (dist / "index.html").write_text("<!doctype html><title>City Tasks</title><div id=app></div>")
    (dist / "assets").mkdir()
    (dist / "assets" / "app-1234.js").write_text("console.log('city tasks')")
    return synthesize(
        environments["sandbox"],
        tmp_path_factory.mktemp("cdk-sandbox-deployed"),
        inputs=DEPLOYED_INPUTS,
        frontend_dist=dist,
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "env_name" in metafunc.fixturenames:
        metafunc.parametrize("env_name", ENVIRONMENT_NAMES)
