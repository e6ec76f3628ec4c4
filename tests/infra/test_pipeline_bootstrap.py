"""`make bootstrap`: trust the right Deployments account; an execution policy built from the templates."""

from __future__ import annotations

import io
import json

import pytest
from infra.environments import load_pipelines
from infra.pipelines import execution_policy
from infra.pipelines.bootstrap import bootstrap_targets, environment_targets
from infra.runner import Runner

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


def test_the_execution_policy_is_the_preflight_table_of_the_accounts_own_templates(synth_env):
    synth = synth_env("sandbox")
    tasks = set(execution_policy.required_actions([synth.templates["Tasks"], synth.templates["Frontend"]]))
    assert {"rds:CreateDBCluster", "ecs:CreateService", "cloudfront:CreateDistribution"} <= tasks
    assert "cognito-idp:CreateUserPool" not in tasks  # the IdP lives in another account
    idp = set(execution_policy.required_actions([synth.templates["Idp"]]))
    assert "cognito-idp:CreateUserPool" in idp
    assert not {a for a in idp if a.startswith("rds:")}
    for actions in (tasks, idp):
        # Exact actions, not AdministratorAccess nor a service's every action.
        assert not [a for a in actions if "*" in a]
        assert "ssm:GetParameters" in actions  # the bootstrap version parameter


def test_the_same_table_the_preflight_checks(synth_env):
    from infra.preflight.actions import required_actions as preflight_actions

    template = synth_env("sandbox").templates["Tasks"]
    checked = {a for r in preflight_actions(template) for a in r.actions.all()}
    assert checked | {"ssm:GetParameters"} == set(execution_policy.required_actions([template]))


def test_the_pipeline_stacks_types_are_covered_too(pipeline_synth):
    for template in pipeline_synth.templates.values():
        actions = execution_policy.required_actions([template])
        assert {"codepipeline:CreatePipeline", "codebuild:CreateProject"} & set(actions)


def test_a_type_nobody_knows_is_refused_not_guessed():
    from infra.preflight.actions import UnknownResourceType

    with pytest.raises(UnknownResourceType, match="AWS::Made::Up"):
        execution_policy.required_actions([{"Resources": {"X": {"Type": "AWS::Made::Up"}}}])


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
