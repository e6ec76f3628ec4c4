"""The guardrail preflight: the organization's SCPs evaluated for the CDK execution role against every action
CloudFormation needs for the synthesized stacks."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from city_org.spec import load_spec
from infra.preflight import actions, check, table
from infra.preflight.policy import PolicyError, Request, parse_policy
from infra.preflight.scp import account_levels, evaluate

ORG_DIR = Path(__file__).resolve().parents[2] / "infra" / "org"
GUARDRAILS = "policies/guardrails-deny-list.json"


def _targets(synth) -> list[check.StackTarget]:
    return check.stack_targets(synth.outdir)


def _org_copy(tmp_path: Path, edit_guardrails=None) -> Path:
    target = tmp_path / "org"
    shutil.copytree(ORG_DIR, target)
    if edit_guardrails is not None:
        path = target / GUARDRAILS
        document = json.loads(path.read_text())
        edit_guardrails(document)
        path.write_text(json.dumps(document))
    return target / "organization.yaml"


def test_the_shipped_policies_let_every_environment_deploy(synth_env, env_name):
    synth = synth_env(env_name)
    spec = load_spec(ORG_DIR / "organization.yaml")
    findings = check.check_stacks(_targets(synth), spec, check.account_names_of(synth.config))
    assert findings == []


def test_the_principal_is_the_bootstrap_execution_role_of_each_account(synth_env):
    targets = {t.name: t for t in _targets(synth_env("prod"))}
    idp = targets["CityTasks-Idp-prod"]
    assert (
        idp.execution_role_arn
        == "arn:aws:iam::999999999999:role/cdk-hnb659fds-cfn-exec-role-999999999999-us-east-1"
    )
    tasks = targets["CityTasks-Tasks-prod"]
    assert tasks.execution_role_arn == check.execution_role_arn("444444444444", "us-east-1")


def _remove_deploy_role_exemption(document: dict) -> None:
    """The guardrail as it was: alarm and dashboard changes denied to every principal."""
    for statement in document["Statement"]:
        if statement.get("Sid") == "DenyCloudWatchAlarmAndDashboardTampering":
            statement.pop("Condition", None)


def test_a_policy_that_denies_a_needed_action_fails_naming_resource_action_policy_and_statement(
    synth_env, tmp_path
):
    synth = synth_env("sandbox")
    spec = load_spec(_org_copy(tmp_path, _remove_deploy_role_exemption))
    findings = check.check_stacks(_targets(synth), spec, check.account_names_of(synth.config))
    alarms = [f for f in findings if f.resource_type == "AWS::CloudWatch::Alarm"]
    assert {f.action for f in alarms} == {"cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"}
    put = next(f for f in alarms if f.action == "cloudwatch:PutMetricAlarm")
    assert put.stack == "CityTasks-Tasks-sandbox"
    assert put.logical_id.startswith("Alarms")
    assert put.operations == ("create", "update")
    assert put.reason == (
        "denied by SCP city-guardrails statement DenyCloudWatchAlarmAndDashboardTampering (OU Sandbox)"
    )
    text = str(put)
    assert put.logical_id in text
    assert "AWS::CloudWatch::Alarm" in text


def test_cli_reports_and_fails(synth_env, tmp_path, capsys):
    synth = synth_env("dev")
    spec_path = _org_copy(tmp_path, _remove_deploy_role_exemption)
    out = io.StringIO()
    assert check.run("dev", spec_path, out, assembly=synth.outdir) == 1
    report = out.getvalue()
    assert "refuse" in report
    assert "cloudwatch:PutMetricAlarm" in report
    assert "(OU Workloads" in report
    ok = io.StringIO()
    assert check.run("dev", ORG_DIR / "organization.yaml", ok, assembly=synth.outdir) == 0
    assert "allow every action" in ok.getvalue()


def test_an_allow_list_scp_must_also_allow(tmp_path):
    """An allow-list SCP at one OU must also allow the action, not only avoid denying it."""

    def allow_list(document: dict) -> None:
        document["Statement"][0]["Action"] = ["s3:*", "ec2:*"]

    spec = load_spec(_org_copy(tmp_path, allow_list))
    levels = account_levels(spec, "sandbox")
    verdict = evaluate(levels, Request("cognito-idp:CreateUserPool"))
    # FullAWSAccess still sits beside it at every level, as AWS attaches it: still allowed.
    assert verdict.allowed
    bare = [type(level)(level.name, level.policies[1:] or level.policies) for level in levels]
    refused = evaluate(bare, Request("cognito-idp:CreateUserPool"))
    assert not refused.allowed
    assert refused.reason.startswith("no SCP attached at OU Sandbox allows it")


def test_every_synthesized_resource_type_has_an_entry(synth_env, env_name):
    for template in synth_env(env_name).templates.values():
        for resource_type in actions.resource_types(template):
            entry = actions.actions_for_type(resource_type)  # raises for a type with no entry
            if resource_type != "AWS::CDK::Metadata":
                assert entry.all(), resource_type


def test_an_unknown_type_is_named_with_the_fix():
    with pytest.raises(actions.UnknownResourceType, match=r"AWS::Made::Up.*make preflight-table"):
        actions.required_actions({"Resources": {"X": {"Type": "AWS::Made::Up"}}})


def test_custom_resources_need_only_the_invoke_of_their_lambda():
    (resource,) = actions.required_actions({"Resources": {"M": {"Type": "Custom::DatabaseMigrations"}}})
    assert resource.actions.create == ("lambda:InvokeFunction",)


def test_the_table_matches_the_resource_schemas():
    schemas = table.schema_permissions()
    for name, entry in json.loads(actions.TABLE_FILE.read_text())["types"].items():
        if entry["source"] == "schema":
            assert {op: entry[op] for op in actions.OPERATIONS} == schemas[name], name


# --- the evaluator ----------------------------------------------------------------------------------------

ROLE = "arn:aws:iam::111111111111:role/cdk-hnb659fds-cfn-exec-role-111111111111-us-east-1"
PERSON = "arn:aws:iam::111111111111:role/AWSReservedSSO_provisioners_abc"


def _policy(*statements: dict) -> object:
    return parse_policy("p", {"Version": "2012-10-17", "Statement": list(statements)})


def test_action_and_notaction_wildcards_are_case_insensitive():
    policy = _policy({"Effect": "Deny", "NotAction": ["iam:*", "sts:Get*"], "Resource": "*"})
    assert policy.denying(Request("S3:PutObject"))
    assert not policy.denying(Request("IAM:CreateRole"))
    assert not policy.denying(Request("sts:GetCallerIdentity"))
    assert policy.denying(Request("sts:AssumeRole"))


def test_resource_patterns():
    policy = _policy({"Effect": "Deny", "Action": "*", "Resource": "arn:aws:s3:::logs-?/*"})
    assert policy.denying(Request("s3:PutObject", "arn:aws:s3:::logs-1/a/b"))
    assert not policy.denying(Request("s3:PutObject", "arn:aws:s3:::logs-12/a"))


@pytest.mark.parametrize(
    ("operator", "pattern", "principal", "denied"),
    [
        ("ArnNotLike", "arn:aws:iam::*:role/cdk-*-cfn-exec-role-*", ROLE, False),
        ("ArnNotLike", "arn:aws:iam::*:role/cdk-*-cfn-exec-role-*", PERSON, True),
        ("ArnLike", "arn:aws:iam::*:role/AWSReservedSSO_*", PERSON, True),
        ("StringLike", "*AWSReservedSSO_*", ROLE, False),
        ("StringNotLike", "*AWSReservedSSO_*", ROLE, True),
        ("StringEquals", ROLE, ROLE, True),
        ("StringNotEquals", ROLE, ROLE, False),
    ],
)
def test_principal_arn_conditions(operator, pattern, principal, denied):
    policy = _policy(
        {
            "Effect": "Deny",
            "Action": "cloudwatch:*",
            "Resource": "*",
            "Condition": {operator: {"aws:PrincipalARN": pattern}},
        }
    )
    request = Request("cloudwatch:PutMetricAlarm", context={"aws:PrincipalArn": principal})
    assert bool(policy.denying(request)) is denied


def test_missing_keys_follow_iam():
    def deny(condition: dict) -> bool:
        policy = _policy({"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": condition})
        return bool(policy.denying(Request("ram:CreateResourceShare")))

    assert not deny({"Bool": {"ram:RequestedAllowsExternalPrincipals": "true"}})
    assert deny({"StringNotEquals": {"aws:PrincipalTag/team": "ops"}})
    assert deny({"StringEqualsIfExists": {"aws:PrincipalTag/team": "ops"}})
    assert not deny({"ForAnyValue:StringLike": {"ram:Principal": ["arn:aws:organizations::*:ou/*"]}})
    assert deny({"ForAllValues:StringLike": {"ram:Principal": ["x"]}})


def test_an_unknown_operator_is_refused_not_guessed():
    with pytest.raises(PolicyError, match="NumericLessThan"):
        _policy(
            {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"NumericLessThan": {"k": "1"}}}
        )
