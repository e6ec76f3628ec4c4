"""Read the live organization and Identity Center into plain values the differ can compare with the spec."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from city_org.aws import OrgClients, paginate
from city_org.errors import AwsError
from city_org.policies import minified

SUSPENDED_AT_TAG = "city-org:suspended-at"
SUSPENDED_REASON_TAG = "city-org:suspended-reason"
SCP = "SERVICE_CONTROL_POLICY"


@dataclass
class LivePolicy:
    id: str
    name: str
    description: str
    content: str  # minified JSON


@dataclass
class LiveAccount:
    id: str
    name: str
    email: str
    status: str
    ou: str  # OU path; "" for the root
    tags: dict[str, str]

    @property
    def suspended(self) -> bool:
        return SUSPENDED_AT_TAG in self.tags


@dataclass
class LiveUser:
    id: str
    username: str
    email: str
    given_name: str
    family_name: str
    display_name: str
    locale: str | None
    timezone: str | None


@dataclass
class LiveGroup:
    id: str
    name: str
    description: str


@dataclass
class LivePermissionSet:
    arn: str
    name: str
    description: str
    session_duration: str
    relay_state: str | None
    inline_policy: str | None
    managed_policies: tuple[str, ...]


@dataclass(frozen=True)
class LiveAssignment:
    principal_type: str
    principal_id: str
    principal: str  # name, or the id when the principal is unknown
    permission_set: str
    account_id: str


@dataclass
class LiveState:
    root_id: str
    management_account_id: str
    scp_enabled: bool
    ous: dict[str, str] = field(default_factory=dict)  # path -> id
    scps: dict[str, LivePolicy] = field(default_factory=dict)
    attachments: set[tuple[str, str]] = field(default_factory=set)  # (policy name, target label)
    accounts: dict[str, LiveAccount] = field(default_factory=dict)  # name -> account
    instance_arn: str | None = None
    identity_store_id: str | None = None
    users: dict[str, LiveUser] = field(default_factory=dict)
    groups: dict[str, LiveGroup] = field(default_factory=dict)
    memberships: dict[tuple[str, str], str] = field(
        default_factory=dict
    )  # (group, username) -> membership id
    permission_sets: dict[str, LivePermissionSet] = field(default_factory=dict)
    assignments: set[LiveAssignment] = field(default_factory=set)

    def account_by_id(self, account_id: str) -> LiveAccount | None:
        return next((a for a in self.accounts.values() if a.id == account_id), None)

    def target_label(self, target_id: str) -> str:
        """How an attachment target is named in plans: an OU path, `root`, or `account:<name>`."""
        if target_id == self.root_id:
            return "root"
        for path, ou_id in self.ous.items():
            if ou_id == target_id:
                return path
        account = self.account_by_id(target_id)
        return f"account:{account.name if account else target_id}"


def _read_tree(org: Any, state: LiveState) -> dict[str, str]:
    """Walk OUs breadth-first; return parent id -> path (the root is "")."""
    paths = {state.root_id: ""}
    queue = [state.root_id]
    while queue:
        parent = queue.pop(0)
        for ou in paginate(
            org, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent
        ):
            path = f"{paths[parent]}/{ou['Name']}" if paths[parent] else ou["Name"]
            state.ous[path] = ou["Id"]
            paths[ou["Id"]] = path
            queue.append(ou["Id"])
    return paths


def read_organization(org: Any, state: LiveState) -> None:
    paths = _read_tree(org, state)
    for parent_id, path in paths.items():
        for account in paginate(org, "list_accounts_for_parent", "Accounts", ParentId=parent_id):
            if account["Id"] == state.management_account_id:
                continue  # the management account is never managed by this tool
            tags = {
                t["Key"]: t["Value"]
                for t in paginate(org, "list_tags_for_resource", "Tags", ResourceId=account["Id"])
            }
            state.accounts[account["Name"]] = LiveAccount(
                account["Id"], account["Name"], account["Email"], account.get("Status", "ACTIVE"), path, tags
            )
    for summary in paginate(org, "list_policies", "Policies", Filter=SCP):
        if summary.get("AwsManaged"):
            continue  # FullAWSAccess and friends are AWS's, attached by default; not drift
        policy = org.describe_policy(PolicyId=summary["Id"])["Policy"]
        state.scps[summary["Name"]] = LivePolicy(
            summary["Id"],
            summary["Name"],
            summary.get("Description", ""),
            minified(json.loads(policy["Content"])),
        )
        for target in paginate(org, "list_targets_for_policy", "Targets", PolicyId=summary["Id"]):
            state.attachments.add((summary["Name"], state.target_label(target["TargetId"])))


def read_identity_center(sso: Any, ids: Any, state: LiveState) -> None:
    instances = list(paginate(sso, "list_instances", "Instances"))
    if not instances:
        return
    state.instance_arn = instances[0]["InstanceArn"]
    state.identity_store_id = store = instances[0]["IdentityStoreId"]
    for user in paginate(ids, "list_users", "Users", IdentityStoreId=store):
        emails = user.get("Emails") or []
        primary = next((e for e in emails if e.get("Primary")), emails[0] if emails else {})
        name = user.get("Name") or {}
        state.users[user["UserName"]] = LiveUser(
            user["UserId"],
            user["UserName"],
            primary.get("Value", ""),
            name.get("GivenName", ""),
            name.get("FamilyName", ""),
            user.get("DisplayName", ""),
            user.get("Locale"),
            user.get("Timezone"),
        )
    usernames = {u.id: u.username for u in state.users.values()}
    for group in paginate(ids, "list_groups", "Groups", IdentityStoreId=store):
        state.groups[group["DisplayName"]] = LiveGroup(
            group["GroupId"], group["DisplayName"], group.get("Description", "")
        )
        for membership in paginate(
            ids, "list_group_memberships", "GroupMemberships", IdentityStoreId=store, GroupId=group["GroupId"]
        ):
            user_id = membership.get("MemberId", {}).get("UserId", "")
            state.memberships[(group["DisplayName"], usernames.get(user_id, user_id))] = membership[
                "MembershipId"
            ]
    groupnames = {g.id: g.name for g in state.groups.values()}
    for arn in paginate(sso, "list_permission_sets", "PermissionSets", InstanceArn=state.instance_arn):
        described = sso.describe_permission_set(InstanceArn=state.instance_arn, PermissionSetArn=arn)[
            "PermissionSet"
        ]
        inline = sso.get_inline_policy_for_permission_set(
            InstanceArn=state.instance_arn, PermissionSetArn=arn
        ).get("InlinePolicy")
        managed = paginate(
            sso,
            "list_managed_policies_in_permission_set",
            "AttachedManagedPolicies",
            InstanceArn=state.instance_arn,
            PermissionSetArn=arn,
        )
        name = described["Name"]
        state.permission_sets[name] = LivePermissionSet(
            arn,
            name,
            described.get("Description", ""),
            described.get("SessionDuration", "PT1H"),
            described.get("RelayState") or None,
            minified(json.loads(inline)) if inline else None,
            tuple(sorted(p["Arn"] for p in managed)),
        )
        for account in state.accounts.values():
            for assignment in paginate(
                sso,
                "list_account_assignments",
                "AccountAssignments",
                InstanceArn=state.instance_arn,
                AccountId=account.id,
                PermissionSetArn=arn,
            ):
                kind, pid = assignment["PrincipalType"], assignment["PrincipalId"]
                names = groupnames if kind == "GROUP" else usernames
                state.assignments.add(LiveAssignment(kind, pid, names.get(pid, pid), name, account.id))


def read_state(clients: OrgClients) -> LiveState:
    """Everything the plan compares, read with paginated list calls."""
    org = clients.organizations
    organization = org.describe_organization()["Organization"]
    if organization.get("FeatureSet", "ALL") != "ALL":
        raise AwsError(
            "the organization has only consolidated billing; enable all features (SCPs need them) in the "
            "Organizations console or with `aws organizations enable-all-features`"
        )
    root = org.list_roots()["Roots"][0]
    enabled = any(p["Type"] == SCP and p["Status"] == "ENABLED" for p in root.get("PolicyTypes", []))
    state = LiveState(
        root_id=root["Id"], management_account_id=organization["MasterAccountId"], scp_enabled=enabled
    )
    read_organization(org, state)
    read_identity_center(clients.sso_admin, clients.identitystore, state)
    return state
