"""city-org end to end against a moto server: plan, apply, idempotence, drift, suspend, clear errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import boto3
import pytest
from city_org.aws import OrgClients
from city_org.cli import main
from city_org.state import SUSPENDED_AT_TAG, SUSPENDED_REASON_TAG, read_state

GUARDED_OUS = {
    "Security",
    "Sandbox",
    "Workloads",
    "Workloads/SDLC",
    "Workloads/Prod",
    "Deployments",
    "Deployments/SDLC",
    "Deployments/Prod",
}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err, stdin=io.StringIO(""))
    return code, out.getvalue(), err.getvalue()


def plan_changes(spec: Path) -> list[dict]:
    code, out, err = run("plan", "--spec", str(spec), "--json")
    assert code == 0, err
    return json.loads(out)["changes"]


def apply(spec: Path, *extra: str) -> str:
    code, out, err = run("apply", "--spec", str(spec), "--auto-approve", *extra)
    assert code == 0, err
    return out


def test_plan_on_an_empty_organization_lists_every_creation(
    organization: OrgClients, spec_copy: Path
) -> None:
    changes = plan_changes(spec_copy)

    by_kind: dict[str, list[str]] = {}
    for change in changes:
        assert change["action"] == "create"
        by_kind.setdefault(change["kind"], []).append(change["key"])
    assert len(by_kind["ou"]) == 9
    assert by_kind["policy"] == ["city-deny-all", "city-guardrails"]
    assert by_kind["policy_type"] == ["SERVICE_CONTROL_POLICY"]
    assert set(by_kind["attachment"]) == {f"city-guardrails -> {ou}" for ou in GUARDED_OUS} | {
        "city-deny-all -> Suspended"
    }
    assert len(by_kind["account"]) == 7
    assert by_kind["permission_set"] == ["provisioners"]
    assert len(by_kind["assignment"]) == 7
    # the safe order: every OU before any policy, policies before accounts, assignments last
    kinds = [c["kind"] for c in changes]
    assert kinds.index("policy") > max(i for i, k in enumerate(kinds) if k == "ou")
    assert kinds.index("account") > kinds.index("policy_type")
    assert kinds[-1] == "assignment"

    code, out, _ = run("plan", "--spec", str(spec_copy), "--detailed-exitcode")
    assert code == 2
    assert "+ create ou Workloads/SDLC" in out
    assert "Plan: 39 to create, 0 to update, 0 to move, 0 to delete." in out


def test_apply_builds_the_organization_and_a_second_plan_is_empty(
    organization: OrgClients, spec_copy: Path
) -> None:
    apply(spec_copy)

    state = read_state(organization)
    assert set(state.ous) == GUARDED_OUS | {"Suspended"}
    assert state.scp_enabled
    assert {(p, t) for p, t in state.attachments} == {("city-guardrails", ou) for ou in GUARDED_OUS} | {
        ("city-deny-all", "Suspended")
    }
    assert state.accounts["workloads-dev"].ou == "Workloads/SDLC"
    assert state.accounts["security-idp"].tags == {"environment": "security", "workload": "identity-provider"}
    denied = json.loads(state.scps["city-guardrails"].content)["Statement"][1]["Action"]
    assert denied == "organizations:LeaveOrganization"
    ps = state.permission_sets["provisioners"]
    assert ps.session_duration == "PT8H"
    assert ps.relay_state == "https://console.aws.amazon.com/console/home"
    assert json.loads(ps.inline_policy or "{}")["Statement"][0]["NotAction"] == [
        "iam:*",
        "account:*",
        "organizations:*",
    ]
    assert state.memberships.keys() == {("provisioners", "city-admin")}
    assert state.users["city-admin"].timezone == "America/Guayaquil"
    assigned = {state.account_by_id(a.account_id).name for a in state.assignments}  # type: ignore[union-attr]
    assert assigned == {
        "security-idp",
        "sandbox",
        "workloads-dev",
        "workloads-test",
        "workloads-prod",
        "deployments-dev",
        "deployments-prod",
    }

    assert plan_changes(spec_copy) == []
    code, out, _ = run("plan", "--spec", str(spec_copy), "--detailed-exitcode")
    assert (code, out.strip()) == (0, "No changes. AWS matches the spec.")
    code, out, _ = run("apply", "--spec", str(spec_copy), "--auto-approve")
    assert code == 0
    assert "No changes" in out


def test_drift_reports_a_manual_move_a_hand_attached_scp_and_a_console_assignment(
    organization: OrgClients, spec_copy: Path
) -> None:
    apply(spec_copy)
    state = read_state(organization)
    org = boto3.client("organizations")
    org.move_account(
        AccountId=state.accounts["workloads-dev"].id,
        SourceParentId=state.ous["Workloads/SDLC"],
        DestinationParentId=state.ous["Sandbox"],
    )
    extra = org.create_policy(
        Name="hand-made",
        Description="x",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}
        ),
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=extra, TargetId=state.ous["Security"])
    boto3.client("sso-admin").create_account_assignment(
        InstanceArn=state.instance_arn,
        TargetId=state.accounts["workloads-prod"].id,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=state.permission_sets["provisioners"].arn,
        PrincipalType="USER",
        PrincipalId=state.users["city-admin"].id,
    )

    code, out, _ = run("drift", "--spec", str(spec_copy), "--json", "--detailed-exitcode")
    assert code == 2
    found = {(d["kind"], d["key"]): d["detail"] for d in json.loads(out)["drift"]}
    assert found[("account", "workloads-dev")] == "is in Sandbox, the spec says Workloads/SDLC"
    assert found[("attachment", "hand-made -> Security")] == "SCP attached outside the spec"
    assert found[("policy", "hand-made")] == "in AWS but not in the spec"
    assert (
        found[("assignment", "user:city-admin / provisioners @ workloads-prod")]
        == "assignment made outside the spec"
    )
    code, text, _ = run("drift", "--spec", str(spec_copy))
    assert code == 0
    assert "! account workloads-dev: is in Sandbox" in text

    # apply without --allow-delete puts the account back but keeps what it would have to delete
    out = apply(spec_copy)
    assert "moved account workloads-dev" in out
    assert "skipped delete attachment hand-made -> Security (needs --allow-delete)" in out
    remaining = {(c["action"], c["kind"]) for c in plan_changes(spec_copy)}
    assert remaining == {("delete", "attachment"), ("delete", "policy"), ("delete", "assignment")}

    apply(spec_copy, "--allow-delete=3")
    assert plan_changes(spec_copy) == []
    code, out, _ = run("drift", "--spec", str(spec_copy), "--detailed-exitcode")
    assert (code, out.strip()) == (0, "No drift: AWS holds nothing the spec does not describe.")


def test_an_edited_policy_and_permission_set_are_updated_in_place(
    organization: OrgClients, spec_copy: Path
) -> None:
    apply(spec_copy)
    policy_file = spec_copy.parent / "policies" / "deny-all.json"
    policy = json.loads(policy_file.read_text())
    policy["Statement"][0]["Sid"] = "DenyAll"
    policy_file.write_text(json.dumps(policy))
    spec_copy.write_text(spec_copy.read_text().replace("session_duration: PT8H", "session_duration: PT4H"))

    changes = plan_changes(spec_copy)
    assert [(c["action"], c["kind"], c["key"]) for c in changes] == [
        ("update", "policy", "city-deny-all"),
        ("update", "permission_set", "provisioners"),
    ]
    assert changes[1]["before"]["session_duration"] == "PT8H"
    out = apply(spec_copy)
    assert "provisioned permission set provisioners" in out
    assert plan_changes(spec_copy) == []
    assert read_state(organization).permission_sets["provisioners"].session_duration == "PT4H"


def test_suspend_moves_tags_and_strips_assignments(organization: OrgClients, spec_copy: Path) -> None:
    apply(spec_copy)
    code, out, err = run(
        "suspend", "workloads-prod", "--reason", "Compromised keys (ticket 42)", "--spec", str(spec_copy)
    )
    assert code == 0, err
    assert "removed group:provisioners / provisioners" in out

    state = read_state(organization)
    account = state.accounts["workloads-prod"]
    assert account.ou == "Suspended"
    assert account.tags[SUSPENDED_REASON_TAG] == "Compromised keys ticket 42"
    assert account.tags[SUSPENDED_AT_TAG].endswith("Z")
    assert account.tags["environment"] == "prod"
    assert not [a for a in state.assignments if a.account_id == account.id]
    assert len(state.assignments) == 6
    # the suspension sticks: apply neither moves it back nor re-creates its access
    assert plan_changes(spec_copy) == []


def test_suspend_of_an_unknown_account_says_so(organization: OrgClients, spec_copy: Path) -> None:
    apply(spec_copy)
    code, _, err = run("suspend", "nobody", "--reason", "test", "--spec", str(spec_copy))
    assert code == 1
    assert err.strip() == "city-org: no account named or numbered 'nobody' in the organization"


def test_an_email_already_in_use_stops_apply_with_a_clear_message(
    organization: OrgClients, spec_copy: Path
) -> None:
    boto3.client("organizations").create_account(
        Email="aws+sandbox@city-tasks.example.com", AccountName="old-sandbox"
    )
    code, out, err = run("apply", "--spec", str(spec_copy), "--auto-approve")
    assert code == 1
    # OUs, SCPs, the policy type, attachments and two accounts went through; the rest waits for a fix
    assert "stopped at create account sandbox after 23 change(s)" in out
    assert "Traceback" not in err
    assert err.strip() == (
        "city-org: account sandbox: the e-mail aws+sandbox@city-tasks.example.com is already used by account "
        "old-sandbox; every account needs its own address"
    )


def test_apply_asks_and_does_nothing_without_yes(organization: OrgClients, spec_copy: Path) -> None:
    out = io.StringIO()
    code = main(["apply", "--spec", str(spec_copy)], out=out, err=io.StringIO(), stdin=io.StringIO("no\n"))
    assert code == 1
    assert "Nothing applied." in out.getvalue()
    assert read_state(organization).ous == {}


def test_outside_an_organization_the_message_says_how_to_create_one(aws_env: str, spec_copy: Path) -> None:
    code, _, err = run("plan", "--spec", str(spec_copy))
    assert code == 1
    assert "not in an organization" in err
    assert "create-organization --feature-set ALL" in err


def test_allow_delete_removes_what_was_made_by_hand(organization: OrgClients, spec_copy: Path) -> None:
    apply(spec_copy)
    state = read_state(organization)
    org = boto3.client("organizations")
    legacy = org.create_organizational_unit(ParentId=state.root_id, Name="Legacy")["OrganizationalUnit"]["Id"]
    org.create_organizational_unit(ParentId=legacy, Name="Old")
    ids = boto3.client("identitystore")
    store = state.identity_store_id
    user = ids.create_user(
        IdentityStoreId=store,
        UserName="intruder",
        DisplayName="In Truder",
        Name={"GivenName": "In", "FamilyName": "Truder"},
        Emails=[{"Value": "intruder@example.com", "Primary": True}],
    )["UserId"]
    group = ids.create_group(IdentityStoreId=store, DisplayName="console-admins")["GroupId"]
    ids.create_group_membership(IdentityStoreId=store, GroupId=group, MemberId={"UserId": user})
    boto3.client("sso-admin").create_permission_set(
        InstanceArn=state.instance_arn, Name="AdministratorAccess"
    )

    code, out, _ = run("drift", "--spec", str(spec_copy), "--json")
    assert code == 0
    assert {(d["kind"], d["key"]) for d in json.loads(out)["drift"]} == {
        ("ou", "Legacy"),
        ("ou", "Legacy/Old"),
        ("user", "intruder"),
        ("group", "console-admins"),
        ("membership", "console-admins/intruder"),
        ("permission_set", "AdministratorAccess"),
    }
    out = apply(spec_copy)
    assert out.count("needs --allow-delete") == 6
    out = apply(spec_copy, "--allow-delete=6")
    assert "deleted ou Legacy/Old" in out
    assert out.index("deleted ou Legacy/Old") < out.index("deleted ou Legacy\n")
    assert out.index("deleted membership console-admins/intruder") < out.index("deleted group console-admins")
    assert plan_changes(spec_copy) == []
    after = read_state(organization)
    assert "intruder" not in after.users
    assert set(after.permission_sets) == {"provisioners"}


def test_reinstate_lifts_the_suspension_and_apply_restores_access(
    organization: OrgClients, spec_copy: Path
) -> None:
    apply(spec_copy)
    assert run("suspend", "sandbox", "--reason", "audit", "--spec", str(spec_copy))[0] == 0
    code, out, _ = run("reinstate", "sandbox", "--spec", str(spec_copy))
    assert code == 0
    assert "Reinstated sandbox" in out
    assert [(c["action"], c["kind"], c["key"]) for c in plan_changes(spec_copy)] == [
        ("move", "account", "sandbox"),
        ("create", "assignment", "group:provisioners / provisioners @ sandbox"),
    ]
    apply(spec_copy)
    assert plan_changes(spec_copy) == []
    code, _, err = run("reinstate", "sandbox", "--spec", str(spec_copy))
    assert (code, err.strip()) == (1, "city-org: account sandbox is not suspended")


def _hand_made_identity_center(organization: OrgClients) -> None:
    state = read_state(organization)
    ids = boto3.client("identitystore")
    store = state.identity_store_id
    user = ids.create_user(
        IdentityStoreId=store,
        UserName="break-glass",
        DisplayName="Break Glass",
        Name={"GivenName": "Break", "FamilyName": "Glass"},
        Emails=[{"Value": "break-glass@example.com", "Primary": True}],
    )["UserId"]
    group = ids.create_group(IdentityStoreId=store, DisplayName="emergency")["GroupId"]
    ids.create_group_membership(IdentityStoreId=store, GroupId=group, MemberId={"UserId": user})
    boto3.client("sso-admin").create_permission_set(InstanceArn=state.instance_arn, Name="Emergency")
    org = boto3.client("organizations")
    policy = org.create_policy(
        Name="customer-scp",
        Description="made by the security team",
        Type="SERVICE_CONTROL_POLICY",
        Content=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "ec2:*", "Resource": "*"}]}
        ),
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=policy, TargetId=state.ous["Security"])
    org.create_organizational_unit(ParentId=state.root_id, Name="Legacy")


def test_protected_things_are_never_deleted_whatever_the_flags(
    organization: OrgClients, spec_copy: Path
) -> None:
    apply(spec_copy)
    _hand_made_identity_center(organization)
    spec_copy.write_text(
        spec_copy.read_text()
        + "\nprotected:\n  users: [break-glass]\n  groups: [emergency]\n  permission_sets: [Emergency]\n"
        "  policies: [customer-scp]\n"
    )
    planned = {(c["action"], c["kind"], c["key"]) for c in plan_changes(spec_copy)}
    assert planned == {("delete", "ou", "Legacy")}  # the only unprotected thing made by hand
    out = apply(spec_copy, "--allow-delete=1")
    assert "deleted ou Legacy" in out
    after = read_state(organization)
    assert "break-glass" in after.users
    assert "emergency" in after.groups
    assert "Emergency" in after.permission_sets
    assert ("customer-scp", "Security") in after.attachments


def test_an_unattended_apply_deletes_only_when_the_count_is_confirmed(
    organization: OrgClients, spec_copy: Path
) -> None:
    apply(spec_copy)
    _hand_made_identity_center(organization)
    # break-glass, emergency, its membership, Emergency, customer-scp, its attachment and Legacy
    code, out, err = run("apply", "--spec", str(spec_copy), "--auto-approve", "--allow-delete")
    assert code == 1
    assert "would delete 7 thing(s) unattended" in err
    assert "--allow-delete=7" in err
    code, out, err = run("apply", "--spec", str(spec_copy), "--auto-approve", "--allow-delete=2")
    assert code == 1
    assert "--allow-delete=2, but the plan deletes 7" in err
    assert "deleted" not in out
    assert "break-glass" in read_state(organization).users  # nothing was applied
    with pytest.raises(SystemExit) as usage_error:  # argparse: usage and exit 2, before any AWS call
        run("apply", "--spec", str(spec_copy), "--auto-approve", "--allow-delete=x")
    assert usage_error.value.code == 2
    out = apply(spec_copy, "--allow-delete=7")
    assert "deleted user break-glass" in out
    assert plan_changes(spec_copy) == []
