"""The differ is pure: spec + a hand-built live state in, typed changes out."""

from __future__ import annotations

import json
from pathlib import Path

from city_org.diff import Change, drift, plan
from city_org.printer import plan_json, render_plan
from city_org.spec import OrganizationSpec, load_spec
from city_org.state import (
    SUSPENDED_AT_TAG,
    LiveAccount,
    LiveAssignment,
    LiveGroup,
    LivePermissionSet,
    LivePolicy,
    LiveState,
    LiveUser,
)

from tests.org.conftest import SPEC_DIR

SPEC = load_spec(SPEC_DIR / "organization.yaml")


def converged(spec: OrganizationSpec = SPEC) -> LiveState:
    """A live state that already matches the shipped spec."""
    state = LiveState(root_id="r-1", management_account_id="000000000000", scp_enabled=True)
    state.ous = {path: f"ou-{i}" for i, path in enumerate(spec.ous)}
    for scp in spec.scps:
        state.scps[scp.name] = LivePolicy(f"p-{scp.name}", scp.name, scp.description, scp.content)
        state.attachments |= {(scp.name, target) for target in scp.targets}
    for i, account in enumerate(spec.accounts):
        state.accounts[account.name] = LiveAccount(
            f"1000000000{i:02d}", account.name, account.email, "ACTIVE", account.ou, dict(account.tags)
        )
    state.instance_arn, state.identity_store_id = "arn:aws:sso:::instance/ssoins-1", "d-1"
    for user in spec.users:
        state.users[user.username] = LiveUser(
            f"u-{user.username}",
            user.username,
            user.email,
            user.given_name,
            user.family_name,
            user.display_name,
            user.locale,
            user.timezone,
        )
    for group in spec.groups:
        state.groups[group.name] = LiveGroup(f"g-{group.name}", group.name, group.description)
        for member in group.members:
            state.memberships[(group.name, member)] = f"m-{member}"
    for ps in spec.permission_sets:
        state.permission_sets[ps.name] = LivePermissionSet(
            f"arn:ps-{ps.name}",
            ps.name,
            ps.description,
            ps.session_duration,
            ps.relay_state,
            ps.inline_policy,
            ps.managed_policies,
        )
    for account in state.accounts.values():
        state.assignments.add(
            LiveAssignment("GROUP", "g-provisioners", "provisioners", "provisioners", account.id)
        )
    return state


def test_a_converged_state_plans_nothing_and_has_no_drift() -> None:
    state = converged()
    assert plan(SPEC, state) == []
    assert drift(SPEC, state) == []
    assert render_plan([]) == "No changes. AWS matches the spec."
    assert json.loads(plan_json([])) == {"changes": []}


def test_key_order_and_whitespace_in_a_live_policy_are_not_a_change() -> None:
    state = converged()
    live = state.scps["city-deny-all"]
    document = json.loads(live.content)
    live.content = json.dumps({"Statement": document["Statement"], "Version": document["Version"]}, indent=3)
    assert plan(SPEC, state) == []


def test_ous_are_deleted_children_first_and_after_everything_else() -> None:
    state = converged()
    state.ous["Legacy"] = "ou-legacy"
    state.ous["Legacy/Old"] = "ou-legacy-old"
    state.assignments.add(LiveAssignment("USER", "u-x", "u-x", "provisioners", "100000000000"))
    changes = plan(SPEC, state)
    assert [(c.action, c.kind, c.key) for c in changes] == [
        ("delete", "assignment", "user:u-x / provisioners @ security-idp"),
        ("delete", "ou", "Legacy/Old"),
        ("delete", "ou", "Legacy"),
    ]
    assert changes[1].ids == {"ou_id": "ou-legacy-old"}


def test_a_suspended_account_stays_suspended_and_loses_access() -> None:
    state = converged()
    account = state.accounts["sandbox"]
    account.ou = "Suspended"
    account.tags[SUSPENDED_AT_TAG] = "2026-01-01T00:00:00Z"
    changes = plan(SPEC, state)
    assert [(c.action, c.kind, c.key) for c in changes] == [
        ("delete", "assignment", "group:provisioners / provisioners @ sandbox")
    ]


def test_a_moved_account_and_a_changed_tag_are_planned_and_drift() -> None:
    state = converged()
    state.accounts["workloads-dev"].ou = ""
    state.accounts["workloads-dev"].tags["environment"] = "qa"
    state.accounts["workloads-dev"].tags["city-org:note"] = "kept"
    changes = plan(SPEC, state)
    assert [c.to_json() for c in changes] == [
        {
            "action": "update",
            "kind": "account",
            "key": "workloads-dev",
            "before": {"tags": {"environment": "qa", "workload": "tasks-api", "city-org:note": "kept"}},
            "after": {"tags": {"environment": "dev", "workload": "tasks-api", "city-org:note": "kept"}},
        },
        {
            "action": "move",
            "kind": "account",
            "key": "workloads-dev",
            "before": {"ou": "root"},
            "after": {"ou": "Workloads/SDLC"},
        },
    ]
    text = render_plan(changes)
    assert "> move account workloads-dev\n      from root to Workloads/SDLC" in text
    assert '~ update account workloads-dev\n      tags: {"city-org:note": "kept", "environment": "qa"' in text
    details = {(d.kind, d.detail) for d in drift(SPEC, state)}
    assert ("account", "is in root, the spec says Workloads/SDLC") in details
    assert ("account", "differs from the spec") in details


def test_unmanaged_accounts_are_drift_and_get_ou_assignments_but_are_never_deleted() -> None:
    state = converged()
    state.accounts["experiment"] = LiveAccount(
        "999999999999", "experiment", "x@example.com", "ACTIVE", "Sandbox", {}
    )
    changes = plan(SPEC, state)
    assert [(c.action, c.kind, c.key) for c in changes] == [
        ("create", "assignment", "group:provisioners / provisioners @ experiment")
    ]
    findings = drift(SPEC, state)
    assert [f.to_json() for f in findings] == [
        {
            "kind": "account",
            "key": "experiment",
            "detail": "account 999999999999 in Sandbox is not in the spec",
        }
    ]


def test_an_email_used_by_another_account_is_flagged_in_the_plan() -> None:
    state = converged()
    taken = state.accounts.pop("sandbox")
    taken.name = "legacy-sandbox"
    state.accounts["legacy-sandbox"] = taken
    create = next(c for c in plan(SPEC, state) if c.kind == "account" and c.action == "create")
    assert create.after is not None
    assert create.after["email_in_use_by"] == "legacy-sandbox"


def test_an_edited_permission_set_is_one_update_with_the_differences() -> None:
    state = converged()
    ps = state.permission_sets["provisioners"]
    ps.session_duration = "PT1H"
    ps.managed_policies = ("arn:aws:iam::aws:policy/ReadOnlyAccess",)
    (change,) = plan(SPEC, state)
    assert (change.action, change.kind, change.key) == ("update", "permission_set", "provisioners")
    assert change.before is not None
    assert change.after is not None
    assert (change.before["session_duration"], change.after["session_duration"]) == ("PT1H", "PT8H")
    assert (change.before["managed_policies"], change.after["managed_policies"]) == (
        ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        [],
    )
    assert 'session_duration: "PT1H" -> "PT8H"' in render_plan([change])


def test_without_the_scp_policy_type_the_plan_enables_it_before_attaching() -> None:
    state = converged()
    state.scp_enabled = False
    state.attachments.clear()
    changes = plan(SPEC, state)
    assert changes[0] == Change("create", "policy_type", "SERVICE_CONTROL_POLICY", after={"root": "enabled"})
    assert {c.kind for c in changes[1:]} == {"attachment"}
    assert len(changes) == 10


def test_an_edited_policy_is_shown_as_a_json_diff() -> None:
    state = converged()
    live = state.scps["city-deny-all"]
    document = json.loads(live.content)
    document["Statement"][0]["Action"] = "s3:*"
    live.content = json.dumps(document)
    (change,) = plan(SPEC, state)
    text = render_plan([change])
    assert "~ update policy city-deny-all\n      content:\n        @@" in text
    assert '-      "Action": "s3:*",\n' in text
    assert '+      "Action": "*",\n' in text
    assert "Plan: 0 to create, 1 to update, 0 to move, 0 to delete." in text


def test_without_an_identity_center_section_identity_center_is_left_alone(tmp_path: Path) -> None:
    text = (SPEC_DIR / "organization.yaml").read_text()
    (tmp_path / "policies").mkdir()
    for policy in (SPEC_DIR / "policies").iterdir():
        (tmp_path / "policies" / policy.name).write_text(policy.read_text())
    (tmp_path / "organization.yaml").write_text(text[: text.index("identity_center:")])
    spec = load_spec(tmp_path / "organization.yaml")
    assert not spec.manages_identity_center
    assert plan(spec, converged()) == []
