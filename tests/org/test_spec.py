"""The spec loader and the policy validator: the shipped files pass, broken ones are explained precisely."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from city_org.cli import main
from city_org.errors import SpecError
from city_org.policies import SCP_MAX_CHARS, is_known_condition_operator, load_policy_file, minified
from city_org.spec import load_spec

from tests.org.conftest import SPEC_DIR


def problems_of(spec: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    return caught.value.problems


def test_the_shipped_spec_describes_the_whitepaper_organization() -> None:
    spec = load_spec(SPEC_DIR / "organization.yaml")
    assert spec.ous == (
        "Security",
        "Sandbox",
        "Workloads",
        "Workloads/SDLC",
        "Workloads/Prod",
        "Deployments",
        "Deployments/SDLC",
        "Deployments/Prod",
        "Suspended",
    )
    guardrails, deny_all = spec.scps
    assert "Suspended" not in guardrails.targets
    assert set(guardrails.targets) == set(spec.ous) - {"Suspended"}
    assert deny_all.targets == ("Suspended",)
    assert {a.name for a in spec.accounts} >= {"security-idp", "sandbox", "workloads-dev", "workloads-prod"}
    (ps,) = spec.permission_sets
    assert (ps.session_duration, ps.relay_state) == ("PT8H", "https://console.aws.amazon.com/console/home")


@pytest.mark.parametrize("name", ["guardrails-deny-list.json", "deny-all.json"])
def test_the_shipped_scps_are_valid_and_within_the_limit(name: str) -> None:
    text, problems = load_policy_file(SPEC_DIR / "policies" / name, is_scp=True)
    assert problems == []
    assert text is not None
    assert len(text) <= SCP_MAX_CHARS


def test_the_deny_list_keeps_every_item_of_the_original() -> None:
    policy = json.loads((SPEC_DIR / "policies" / "guardrails-deny-list.json").read_text())
    denied = set()
    for statement in policy["Statement"]:
        if statement["Effect"] == "Deny":
            actions = statement["Action"]
            denied |= {actions} if isinstance(actions, str) else set(actions)
    assert policy["Statement"][0] == {
        "Sid": "AllowEverythingNotDeniedBelow",
        "Effect": "Allow",
        "Action": "*",
        "Resource": "*",
    }
    for action in [
        "organizations:LeaveOrganization",
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:SetAlarmState",
        "config:StopConfigurationRecorder",
        "config:DeleteDeliveryChannel",
        "guardduty:DeleteDetector",
        "guardduty:StopMonitoringMembers",
        "guardduty:UpdateFindingsFeedback",
        "ram:UpdateResourceShare",
        "ram:AssociateResourceShare",
        "ec2:AcceptVpcPeeringConnection",
        "globalaccelerator:Create*",
    ]:
        assert action in denied
    conditions = [s.get("Condition") for s in policy["Statement"] if s.get("Condition")]
    assert {"Bool": {"ram:RequestedAllowsExternalPrincipals": "true"}} in conditions


def test_the_provisioners_policy_keeps_the_originals_shape() -> None:
    """The original's structure (escalation is covered by test_permission_set_escalation.py)."""
    text, problems = load_policy_file(
        SPEC_DIR / "policies" / "provisioners-permission-set.json", is_scp=False
    )
    assert problems == []
    statements = {s["Sid"]: s for s in json.loads(text or "{}")["Statement"]}
    assert statements["EverythingExceptIdentityAccountAndOrganizations"]["NotAction"] == [
        "iam:*",
        "account:*",
        "organizations:*",
    ]
    roles = statements["RolesOnlyUnderTheBoundary"]
    assert {"iam:CreateRole", "iam:PutRolePermissionsBoundary"} <= set(roles["Action"])
    assert "iam:PermissionsBoundary" in roles["Condition"]["ArnLike"]
    read_only = statements["ReadOnlyOrganizationsAndRegions"]["Action"]
    assert "account:ListRegions" in read_only
    assert all(a.split(":")[1].startswith(("Describe", "List")) for a in read_only)
    linked = statements["ServiceLinkedRolesForListedServicesOnly"]
    services = linked["Condition"]["StringLike"]["iam:AWSServiceName"]
    assert len(services) == 10
    assert "ops.apigateway.amazonaws.com" in services


def test_an_oversized_scp_is_refused_with_its_size(tmp_path: Path) -> None:
    actions = [f"ec2:Action{i:04d}" for i in range(400)]
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": actions, "Resource": "*"}],
    }
    path = tmp_path / "big.json"
    path.write_text(json.dumps(document, indent=4))  # whitespace does not count, characters do
    text, problems = load_policy_file(path, is_scp=True)
    assert text is None
    size = len(minified(document))
    assert size > SCP_MAX_CHARS
    assert problems == [
        f"{path}: policy is {size} characters once whitespace is removed; an SCP may have at most 5120. "
        "Split it into two policies or use wildcards."
    ]


def test_indentation_alone_does_not_make_a_policy_oversized(tmp_path: Path) -> None:
    actions = [f"ec2:Action{i:03d}" for i in range(250)]
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": actions, "Resource": "*"}],
    }
    path = tmp_path / "wide.json"
    path.write_text(json.dumps(document, indent=12))
    assert len(path.read_text()) > SCP_MAX_CHARS
    assert load_policy_file(path, is_scp=True)[1] == []


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "Version": "2012-10-17",\n  "Statement": [\n}\n')
    assert load_policy_file(path, is_scp=True) == (
        None,
        [f"{path}: invalid JSON at line 4 column 1: Expecting value"],
    )


def test_unknown_condition_operators_and_bad_statements_are_listed(tmp_path: Path) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"StringEqualz": {"aws:x": "y"}},
            },
            {"Effect": "Maybe", "Action": "s3:*", "NotAction": "ec2:*", "Principal": "*"},
        ],
    }
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(document))
    _, problems = load_policy_file(path, is_scp=True)
    assert problems == [
        f"{path}: Statement[0].Condition: unknown condition operator 'StringEqualz'",
        f'{path}: Statement[1].Effect must be "Allow" or "Deny", not \'Maybe\'',
        f'{path}: Statement[1] needs exactly one of "Action" or "NotAction"',
        f"{path}: Statement[1]: an SCP cannot name a Principal",
    ]


@pytest.mark.parametrize(
    ("operator", "known"),
    [
        ("StringEquals", True),
        ("ForAnyValue:StringLike", True),
        ("ForAllValues:ArnNotLikeIfExists", True),
        ("Null", True),
        ("BoolIfExists", True),
        ("NullIfExists", False),
        ("StringEqualz", False),
        ("ForSomeValues:StringLike", False),
        ("", False),
    ],
)
def test_condition_operators(operator: str, known: bool) -> None:
    assert is_known_condition_operator(operator) is known


def test_spec_problems_name_the_file_and_the_field(spec_copy: Path) -> None:
    text = spec_copy.read_text()
    text = text.replace("ou: Workloads/SDLC", "ou: Workloads/Dev", 1)
    text = text.replace(
        "email: aws+sandbox@city-tasks.example.com", "email: aws+security-idp@city-tasks.example.com"
    )
    text = text.replace("session_duration: PT8H", "session_duration: PT13H")
    text = text.replace("members: [city-admin]", "members: [ghost]")
    text = text.replace("suspended_ou: Suspended", "suspended_ou: Suspended\nbogus: 1")
    spec_copy.write_text(text)
    problems = problems_of(spec_copy)
    assert "organization.yaml: (top level).bogus: unknown field" in problems[0]
    assert (
        "organization.yaml: accounts[2].ou: unknown OU 'Workloads/Dev' (known: Security, Sandbox, Workloads, "
        "Workloads/SDLC, Workloads/Prod, Deployments, Deployments/SDLC, Deployments/Prod, Suspended)"
    ) in problems
    assert (
        "organization.yaml: accounts: e-mail 'aws+security-idp@city-tasks.example.com' appears more than once"
        in problems
    )
    assert "organization.yaml: identity_center.groups[0].members[0]: unknown user 'ghost'" in problems
    assert (
        "organization.yaml: identity_center.permission_sets[0].session_duration: 'PT13H' must be an ISO-8601 "
        "duration from PT1H to PT12H"
    ) in problems
    assert len(problems) == 5


def test_a_policy_problem_blocks_the_spec_before_any_aws_call(spec_copy: Path) -> None:
    (spec_copy.parent / "policies" / "deny-all.json").write_text('{"Version": "2012-10-17", "Statement": [')
    err = io.StringIO()
    # no moto server and no credentials here: validation must fail first
    code = main(["plan", "--spec", str(spec_copy)], out=io.StringIO(), err=err)
    assert code == 1
    lines = err.getvalue().splitlines()
    assert lines[0] == "city-org: the spec has 1 problem(s):"
    assert lines[1].endswith("deny-all.json: invalid JSON at line 1 column 41: Expecting value")


def test_validate_command(spec_copy: Path) -> None:
    out = io.StringIO()
    assert main(["validate", "--spec", str(spec_copy)], out=out, err=io.StringIO()) == 0
    assert out.getvalue() == f"{spec_copy}: valid (9 OUs, 2 SCPs, 7 accounts)\n"


def test_a_missing_spec_file_is_reported(tmp_path: Path) -> None:
    err = io.StringIO()
    assert main(["validate", "--spec", str(tmp_path / "nope.yaml")], out=io.StringIO(), err=err) == 1
    assert "nope.yaml: cannot read the spec (No such file or directory)" in err.getvalue()


def test_validate_refuses_an_oversized_scp_and_an_unknown_operator(spec_copy: Path) -> None:
    policies = spec_copy.parent / "policies"
    guardrails = json.loads((policies / "guardrails-deny-list.json").read_text())
    guardrails["Statement"].append(
        {"Effect": "Deny", "Action": [f"ec2:Denied{i:04d}" for i in range(200)], "Resource": "*"}
    )
    (policies / "guardrails-deny-list.json").write_text(json.dumps(guardrails, indent=2))
    deny_all = json.loads((policies / "deny-all.json").read_text())
    deny_all["Statement"][0]["Condition"] = {"StringEqualsMaybe": {"aws:PrincipalTag/team": "x"}}
    (policies / "deny-all.json").write_text(json.dumps(deny_all))
    err = io.StringIO()
    assert main(["validate", "--spec", str(spec_copy)], out=io.StringIO(), err=err) == 1
    lines = err.getvalue().splitlines()
    assert lines[0] == "city-org: the spec has 2 problem(s):"
    assert "guardrails-deny-list.json: policy is" in lines[1]
    assert "an SCP may have at most 5120" in lines[1]
    assert lines[2].endswith(
        "deny-all.json: Statement[0].Condition: unknown condition operator 'StringEqualsMaybe'"
    )
    assert "Traceback" not in err.getvalue()


def test_aws_name_limits_are_checked(spec_copy: Path) -> None:
    text = spec_copy.read_text()
    text = text.replace("- name: sandbox\n", f"- name: {'s' * 51}\n", 1)
    text = text.replace(
        "    - name: provisioners\n      description: Deploys",
        "    - name: provisioners team\n      description: Deploys",
    )
    spec_copy.write_text(text.replace("permission_set: provisioners", "permission_set: provisioners team"))
    assert problems_of(spec_copy) == [
        "organization.yaml: accounts[1].name: at most 50 characters (AWS limit), got 51",
        "organization.yaml: identity_center.permission_sets[0].name: "
        "use 1-32 letters, digits or +=,.@- (an AWS limit)",
    ]


def test_more_scps_on_one_ou_than_aws_allows_is_refused(spec_copy: Path) -> None:
    extra = "".join(
        f"  - name: extra-{i}\n    file: policies/deny-all.json\n    targets: [Sandbox]\n" for i in range(4)
    )
    text = spec_copy.read_text().replace("\naccounts:\n", f"{extra}\naccounts:\n", 1)
    spec_copy.write_text(text)
    assert problems_of(spec_copy) == [
        "organization.yaml: service_control_policies: OU Sandbox would get 5 SCPs (city-guardrails, extra-0, "
        "extra-1, extra-2, extra-3); AWS allows 5 per target including FullAWSAccess"
    ]
