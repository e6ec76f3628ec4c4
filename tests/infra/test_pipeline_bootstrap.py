"""`make bootstrap`: trust the right Deployments account; an execution policy built from the templates."""

from __future__ import annotations

import io
import json
import re

import pytest
from infra.deploy import Runner
from infra.environments import load_pipelines
from infra.pipelines import execution_policy
from infra.pipelines.bootstrap import bootstrap_targets, environment_targets

from tests.support.moto import client, moto_server

PIPELINES = load_pipelines()
SDLC = PIPELINES.sdlc.deployments.account
PROD = PIPELINES.prod.deployments.account


def _templates(synth) -> dict[str, dict]:
    return {synth.config.stack_name(kind): template for kind, template in synth.templates.items()}


def test_each_account_trusts_the_deployments_account_that_deploys_it(environments):
    by_account = {
        t.target.account: t.trusted
        for name in environments
        for t in environment_targets(environments[name], environments, PIPELINES)
    }
    assert by_account[environments["dev"].workload.account] == (SDLC,)
    assert by_account[environments["test"].workload.account] == (SDLC,)
    assert by_account[environments["prod"].workload.account] == (PROD,)
    # The Security account hosts every environment's IdP, so both pipelines deploy there.
    assert by_account[environments["prod"].security.account] == tuple(sorted((SDLC, PROD)))


def test_bootstrap_dry_run_passes_trust_and_the_scoped_execution_policy(environments, synth_env):
    out = io.StringIO()
    config = environments["prod"]
    targets = environment_targets(config, environments, PIPELINES)
    bootstrap_targets(targets, _templates(synth_env("prod")), Runner(dry_run=True, out=out), "prod")
    text = out.getvalue()
    workload = config.workload.account
    assert (
        f"cdk bootstrap aws://{workload}/us-east-1 --profile city-prod -c env=prod --trust {PROD} "
        f"--trust-for-lookup {PROD} --cloudformation-execution-policies "
        f"arn:aws:iam::{workload}:policy/city-tasks-cdk-execution-1"
    ) in text
    assert f"--trust {SDLC}" in text  # the Security account's line
    assert "AdministratorAccess" not in text


def test_the_execution_policy_covers_exactly_the_services_of_the_templates(synth_env):
    synth = synth_env("sandbox")
    tasks = execution_policy.required_actions([synth.templates["Tasks"]])
    assert {
        "rds:*",
        "ecs:*",
        "ec2:*",
        "elasticloadbalancing:*",
        "application-autoscaling:*",
        "logs:*",
    } <= set(tasks)
    assert "cognito-idp:*" not in tasks  # the IdP lives in another account
    idp = execution_policy.required_actions([synth.templates["Idp"]])
    assert "cognito-idp:*" in idp
    assert "rds:*" not in idp
    for actions in (tasks, idp):
        assert "*" not in actions
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z*]+", a) for a in actions)


def test_custom_resources_need_their_handler_invoked_and_metadata_needs_nothing():
    template = {
        "Resources": {
            "A": {"Type": "Custom::CDKBucketDeployment"},
            "B": {"Type": "AWS::CDK::Metadata"},
            "C": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer"},
        }
    }
    assert execution_policy.required_actions([template]) == [
        "elasticloadbalancing:*",
        "lambda:InvokeFunction",
        "ssm:GetParameters",
    ]


def test_long_action_lists_split_into_policies_under_the_iam_size_limit():
    actions = [f"service{n:03d}:Action{n:04d}" for n in range(600)]
    documents = execution_policy.policy_documents(actions)
    assert len(documents) > 1
    assert [a for d in documents for a in d["Statement"][0]["Action"]] == actions
    assert all(
        len(json.dumps(d, separators=(",", ":"))) <= execution_policy.MAX_POLICY_CHARS for d in documents
    )


@pytest.fixture(scope="module")
def moto_url():
    with moto_server() as url:
        yield url


def test_policies_are_created_then_versioned_and_old_versions_pruned(moto_url):
    iam = client("iam", moto_url)
    documents = execution_policy.policy_documents(["ec2:*", "rds:*"])
    (arn,) = execution_policy.upsert_policies(iam, "123456789012", documents)
    assert arn == "arn:aws:iam::123456789012:policy/city-tasks-cdk-execution-1"
    for round_ in range(6):
        documents = execution_policy.policy_documents(["ec2:*", "rds:*", f"s3:Get{round_}"])
        execution_policy.upsert_policies(iam, "123456789012", documents)
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert len(versions) == 5  # IAM's maximum: the oldest went
    default = next(v for v in versions if v["IsDefaultVersion"])
    document = iam.get_policy_version(PolicyArn=arn, VersionId=default["VersionId"])["PolicyVersion"][
        "Document"
    ]
    if isinstance(document, str):
        document = json.loads(document)
    assert document["Statement"][0]["Action"] == ["ec2:*", "rds:*", "s3:Get5"]
