"""The pure differ: spec + live state -> an ordered list of typed changes, and drift findings.

No AWS calls here. Changes name resources by their spec names (OU paths, account names, usernames...) so a
plan can refer to things that do not exist yet; the applier resolves names to ids as it goes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from city_org.spec import AccountSpec, OrganizationSpec
from city_org.state import LiveAccount, LiveState

Action = Literal["create", "update", "delete", "move"]
RESERVED_TAG_PREFIX = "city-org:"

# Apply order (the safe order); deletions run afterwards in the reverse of this order.
PHASES = (
    "ou",
    "policy",
    "policy_type",
    "attachment",
    "account",
    "user",
    "group",
    "membership",
    "permission_set",
    "assignment",
)


@dataclass(frozen=True)
class Change:
    action: Action
    kind: str
    key: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    # Extra facts the applier needs (ids of live resources); not part of the printed plan.
    ids: dict[str, str] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "kind": self.kind,
            "key": self.key,
            "before": self.before,
            "after": self.after,
        }

    @property
    def order(self) -> tuple[int, int, str]:
        phase = PHASES.index(self.kind)
        if self.action == "delete":
            # children before parents when deleting OUs: deeper paths first
            return (len(PHASES) * 2 - phase, -self.key.count("/"), self.key)
        move_after_create = 1 if self.action == "move" else 0
        return (phase, move_after_create, self.key)


@dataclass(frozen=True)
class DriftFinding:
    kind: str
    key: str
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "key": self.key, "detail": self.detail}


def _desired_account_ou(spec: OrganizationSpec, account: AccountSpec, live: LiveAccount | None) -> str:
    """A suspended account stays in the suspended OU until someone reinstates it on purpose."""
    if live is not None and live.suspended:
        return spec.suspended_ou
    return account.ou


def _desired_tags(account: AccountSpec, live: LiveAccount | None) -> dict[str, str]:
    kept = {k: v for k, v in (live.tags if live else {}).items() if k.startswith(RESERVED_TAG_PREFIX)}
    return {**account.tags, **kept}


def _plan_organization(spec: OrganizationSpec, state: LiveState) -> list[Change]:
    changes: list[Change] = []
    for path in spec.ous:
        if path not in state.ous:
            changes.append(Change("create", "ou", path, after={"path": path}))
    for path, ou_id in state.ous.items():
        if path not in spec.ous:
            changes.append(Change("delete", "ou", path, before={"path": path}, ids={"ou_id": ou_id}))

    for scp in spec.scps:
        live = state.scps.get(scp.name)
        after = {"description": scp.description, "content": json.loads(scp.content)}
        if live is None:
            changes.append(Change("create", "policy", scp.name, after=after))
        elif json.loads(live.content) != after["content"] or live.description != scp.description:
            before = {"description": live.description, "content": json.loads(live.content)}
            changes.append(Change("update", "policy", scp.name, before, after, ids={"policy_id": live.id}))
    wanted = {scp.name for scp in spec.scps}
    for name, live_policy in state.scps.items():
        if name not in wanted:
            changes.append(
                Change(
                    "delete",
                    "policy",
                    name,
                    before={"description": live_policy.description},
                    ids={"policy_id": live_policy.id},
                )
            )

    if spec.scps and not state.scp_enabled:
        changes.append(Change("create", "policy_type", "SERVICE_CONTROL_POLICY", after={"root": "enabled"}))

    desired_attachments = {(scp.name, target) for scp in spec.scps for target in scp.targets}
    for policy, target in sorted(desired_attachments - state.attachments):
        changes.append(
            Change(
                "create", "attachment", f"{policy} -> {target}", after={"policy": policy, "target": target}
            )
        )
    for policy, target in sorted(state.attachments - desired_attachments):
        changes.append(
            Change(
                "delete", "attachment", f"{policy} -> {target}", before={"policy": policy, "target": target}
            )
        )

    live_by_email = {a.email.lower(): a for a in state.accounts.values()}
    for account in spec.accounts:
        live_account = state.accounts.get(account.name)
        ou = _desired_account_ou(spec, account, live_account)
        tags = _desired_tags(account, live_account)
        if live_account is None:
            owner = live_by_email.get(account.email.lower())
            after = {"email": account.email, "ou": ou, "tags": tags}
            if owner is not None:
                after["email_in_use_by"] = owner.name  # the applier refuses this with a clear message
            changes.append(Change("create", "account", account.name, after=after))
            continue
        if live_account.ou != ou:
            changes.append(
                Change(
                    "move",
                    "account",
                    account.name,
                    {"ou": live_account.ou or "root"},
                    {"ou": ou},
                    ids={"account_id": live_account.id},
                )
            )
        if live_account.tags != tags:
            changes.append(
                Change(
                    "update",
                    "account",
                    account.name,
                    {"tags": live_account.tags},
                    {"tags": tags},
                    ids={"account_id": live_account.id},
                )
            )
    return changes


def _plan_identity_center(spec: OrganizationSpec, state: LiveState) -> list[Change]:
    changes: list[Change] = []
    for user in spec.users:
        after: dict[str, Any] = {
            "email": user.email,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "display_name": user.display_name,
            "locale": user.locale,
            "timezone": user.timezone,
        }
        live = state.users.get(user.username)
        if live is None:
            changes.append(Change("create", "user", user.username, after=after))
            continue
        before: dict[str, Any] = {key: getattr(live, key) for key in after}
        if before != after:
            changes.append(Change("update", "user", user.username, before, after, ids={"user_id": live.id}))
    for username, live_user in state.users.items():
        if username not in {u.username for u in spec.users}:
            changes.append(
                Change(
                    "delete",
                    "user",
                    username,
                    before={"email": live_user.email},
                    ids={"user_id": live_user.id},
                )
            )

    for group in spec.groups:
        live_group = state.groups.get(group.name)
        if live_group is None:
            changes.append(Change("create", "group", group.name, after={"description": group.description}))
        elif live_group.description != group.description:
            changes.append(
                Change(
                    "update",
                    "group",
                    group.name,
                    {"description": live_group.description},
                    {"description": group.description},
                    ids={"group_id": live_group.id},
                )
            )
    for name, live_group in state.groups.items():
        if name not in {g.name for g in spec.groups}:
            changes.append(
                Change(
                    "delete",
                    "group",
                    name,
                    before={"description": live_group.description},
                    ids={"group_id": live_group.id},
                )
            )

    desired_members = {(g.name, m) for g in spec.groups for m in g.members}
    for group_name, username in sorted(desired_members - set(state.memberships)):
        changes.append(
            Change(
                "create",
                "membership",
                f"{group_name}/{username}",
                after={"group": group_name, "user": username},
            )
        )
    for (group_name, username), membership_id in sorted(state.memberships.items()):
        if (group_name, username) not in desired_members:
            changes.append(
                Change(
                    "delete",
                    "membership",
                    f"{group_name}/{username}",
                    before={"group": group_name, "user": username},
                    ids={"membership_id": membership_id},
                )
            )

    for ps in spec.permission_sets:
        after = {
            "description": ps.description,
            "session_duration": ps.session_duration,
            "relay_state": ps.relay_state,
            "inline_policy": json.loads(ps.inline_policy) if ps.inline_policy else None,
            "managed_policies": list(ps.managed_policies),
        }
        live_ps = state.permission_sets.get(ps.name)
        if live_ps is None:
            changes.append(Change("create", "permission_set", ps.name, after=after))
            continue
        before = {
            "description": live_ps.description,
            "session_duration": live_ps.session_duration,
            "relay_state": live_ps.relay_state,
            "inline_policy": json.loads(live_ps.inline_policy) if live_ps.inline_policy else None,
            "managed_policies": list(live_ps.managed_policies),
        }
        if before != after:
            changes.append(
                Change("update", "permission_set", ps.name, before, after, ids={"arn": live_ps.arn})
            )
    for name, live_ps in state.permission_sets.items():
        if name not in {p.name for p in spec.permission_sets}:
            changes.append(
                Change(
                    "delete",
                    "permission_set",
                    name,
                    before={"description": live_ps.description},
                    ids={"arn": live_ps.arn},
                )
            )

    changes.extend(_plan_assignments(spec, state))
    return changes


def _account_locations(spec: OrganizationSpec, state: LiveState) -> dict[str, str]:
    """Account name -> the OU path it will be in after apply; suspended and inactive accounts excluded."""
    where: dict[str, str] = {}
    for account in spec.accounts:
        live = state.accounts.get(account.name)
        if live is not None and (live.suspended or live.status != "ACTIVE"):
            continue
        where[account.name] = account.ou
    for name, live in state.accounts.items():
        if (
            name not in where
            and spec.account(name) is None
            and not live.suspended
            and live.status == "ACTIVE"
        ):
            where[name] = live.ou
    return where


def _plan_assignments(spec: OrganizationSpec, state: LiveState) -> list[Change]:
    locations = _account_locations(spec, state)
    id_to_name = {a.id: a.name for a in state.accounts.values()}
    desired: set[tuple[str, str, str, str]] = set()  # (type, principal, permission set, account name)
    for assignment in spec.assignments:
        targets = {id_to_name.get(a, a) for a in assignment.accounts}
        for ou in assignment.ous:
            targets |= {name for name, path in locations.items() if path == ou or path.startswith(ou + "/")}
        for account in targets:
            if account in locations:
                desired.add(
                    (assignment.principal_type, assignment.principal, assignment.permission_set, account)
                )
    live = {
        (a.principal_type, a.principal, a.permission_set, id_to_name.get(a.account_id, a.account_id)): a
        for a in state.assignments
    }
    changes = []
    for kind, principal, ps, account in sorted(desired - set(live)):
        changes.append(
            Change(
                "create",
                "assignment",
                f"{kind.lower()}:{principal} / {ps} @ {account}",
                after={
                    "principal_type": kind,
                    "principal": principal,
                    "permission_set": ps,
                    "account": account,
                },
            )
        )
    for key in sorted(set(live) - desired):
        kind, principal, ps, account = key
        found = live[key]
        changes.append(
            Change(
                "delete",
                "assignment",
                f"{kind.lower()}:{principal} / {ps} @ {account}",
                before={
                    "principal_type": kind,
                    "principal": principal,
                    "permission_set": ps,
                    "account": account,
                },
                ids={"principal_id": found.principal_id, "account_id": found.account_id},
            )
        )
    return changes


def plan(spec: OrganizationSpec, state: LiveState) -> list[Change]:
    """Every change that would make AWS match the spec, in the order apply runs them. Deleting anything
    the spec's `protected:` list names is never planned."""
    changes = _plan_organization(spec, state)
    if state.instance_arn is not None and spec.manages_identity_center:
        changes.extend(_plan_identity_center(spec, state))
    kept = [c for c in changes if not (c.action == "delete" and is_protected(spec, c))]
    return sorted(kept, key=lambda change: change.order)


def is_protected(spec: OrganizationSpec, change: Change) -> bool:
    """Does the change touch something on the spec's `protected:` list (directly or through a link)?"""
    kept = spec.protected
    before = change.before or {}
    if change.kind == "user":
        return change.key in kept.users
    if change.kind == "group":
        return change.key in kept.groups
    if change.kind == "permission_set":
        return change.key in kept.permission_sets
    if change.kind == "policy":
        return change.key in kept.policies
    if change.kind == "attachment":
        return before.get("policy") in kept.policies
    if change.kind == "membership":
        return before.get("group") in kept.groups or before.get("user") in kept.users
    if change.kind == "assignment":
        principals = kept.groups if before.get("principal_type") == "GROUP" else kept.users
        return before.get("principal") in principals or before.get("permission_set") in kept.permission_sets
    return False


_DRIFT_WORDS = {
    "delete": "in AWS but not in the spec",
    "update": "differs from the spec",
    "move": "moved outside the spec",
}


def drift(spec: OrganizationSpec, state: LiveState) -> list[DriftFinding]:
    """What exists in AWS but not in the spec, or differs from it (changes that are not mere creations)."""
    findings: list[DriftFinding] = []
    for change in plan(spec, state):
        if change.action == "create":
            continue
        detail = _DRIFT_WORDS[change.action]
        if change.action == "move" and change.before and change.after:
            detail = f"is in {change.before['ou']}, the spec says {change.after['ou']}"
        elif change.kind == "attachment" and change.action == "delete":
            detail = "SCP attached outside the spec"
        elif change.kind == "assignment" and change.action == "delete":
            detail = "assignment made outside the spec"
        findings.append(DriftFinding(change.kind, change.key, detail))
    for name, account in sorted(state.accounts.items()):
        if spec.account(name) is None:
            findings.append(
                DriftFinding(
                    "account", name, f"account {account.id} in {account.ou or 'root'} is not in the spec"
                )
            )
    return findings
