"""Carry a plan out against AWS, in the safe order, resolving names to ids as resources appear."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

from botocore.exceptions import ClientError

from city_org.aws import OrgClients
from city_org.diff import Change
from city_org.errors import AwsError
from city_org.spec import OrganizationSpec
from city_org.state import SCP, LiveState

_ACCOUNT_FAILURES = {
    "EMAIL_ALREADY_EXISTS": "the e-mail {email} is already used by another AWS account; pick another address",
    "ACCOUNT_LIMIT_EXCEEDED": "the organization has reached its account limit; ask AWS Support to raise it",
    "INVALID_EMAIL": "AWS rejected the e-mail {email} as invalid",
    "CONCURRENT_ACCOUNT_MODIFICATION": "another account change was running; run apply again",
}


_PAST = {"create": "created", "update": "updated", "delete": "deleted", "move": "moved"}


@dataclass
class Poller:
    """Bounded polling with an injectable sleep and clock, so tests never wait."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    interval: float = 5.0
    timeout: float = 1800.0

    def until(self, check: Callable[[], Any | None], what: str) -> Any:
        deadline = self.clock() + self.timeout
        while True:
            result = check()
            if result is not None:
                return result
            if self.clock() >= deadline:
                raise AwsError(
                    f"gave up waiting for {what} after {self.timeout:.0f} s; run apply again later"
                )
            self.sleep(self.interval)


@dataclass
class ApplyResult:
    applied: list[Change] = field(default_factory=list)
    skipped: list[Change] = field(default_factory=list)


class Applier:
    def __init__(
        self,
        clients: OrgClients,
        spec: OrganizationSpec,
        state: LiveState,
        *,
        allow_delete: bool = False,
        out: TextIO | None = None,
        poller: Poller | None = None,
    ) -> None:
        self.org = clients.organizations
        self.sso = clients.sso_admin
        self.ids = clients.identitystore
        self.spec = spec
        self.state = state
        self.allow_delete = allow_delete
        self.out = out
        self.poller = poller or Poller()
        self.ou_ids = dict(state.ous)
        self.policy_ids = {name: p.id for name, p in state.scps.items()}
        self.account_ids = {name: a.id for name, a in state.accounts.items()}
        self.user_ids = {name: u.id for name, u in state.users.items()}
        self.group_ids = {name: g.id for name, g in state.groups.items()}
        self.ps_arns = {name: p.arn for name, p in state.permission_sets.items()}
        self.to_provision: list[str] = []

    # -- orchestration ---------------------------------------------------------------------------------------
    def apply(self, changes: Sequence[Change]) -> ApplyResult:
        result = ApplyResult()
        provisioned = False
        for change in sorted(changes, key=lambda c: c.order):
            if change.action == "delete" and not self.allow_delete:
                result.skipped.append(change)
                self._say(f"  skipped delete {change.kind} {change.key} (needs --allow-delete)")
                continue
            if not provisioned and change.kind == "assignment":
                self._provision()
                provisioned = True
            try:
                getattr(self, f"_{change.action}_{change.kind}")(change)
            except Exception:
                # what succeeded is real; say so before the error message, so nobody guesses
                done = len(result.applied)
                self._say(f"  stopped at {change.action} {change.kind} {change.key} after {done} change(s)")
                raise
            result.applied.append(change)
            self._say(f"  {_PAST[change.action]} {change.kind} {change.key}")
        if not provisioned:
            self._provision()
        return result

    def _say(self, line: str) -> None:
        if self.out is not None:
            print(line, file=self.out, flush=True)

    # -- organizations ---------------------------------------------------------------------------------------
    def _target_id(self, label: str) -> str:
        if label == "root":
            return self.state.root_id
        if label.startswith("account:"):
            name = label.removeprefix("account:")
            return self.account_ids.get(name, name)
        return self.ou_ids[label]

    def _create_ou(self, change: Change) -> None:
        parent, _, name = change.key.rpartition("/")
        parent_id = self.ou_ids[parent] if parent else self.state.root_id
        ou = self.org.create_organizational_unit(ParentId=parent_id, Name=name)["OrganizationalUnit"]
        self.ou_ids[change.key] = ou["Id"]

    def _delete_ou(self, change: Change) -> None:
        self.org.delete_organizational_unit(OrganizationalUnitId=change.ids["ou_id"])

    def _create_policy(self, change: Change) -> None:
        scp = next(s for s in self.spec.scps if s.name == change.key)
        policy = self.org.create_policy(
            Content=scp.content, Description=scp.description, Name=scp.name, Type=SCP
        )
        self.policy_ids[scp.name] = policy["Policy"]["PolicySummary"]["Id"]

    def _update_policy(self, change: Change) -> None:
        scp = next(s for s in self.spec.scps if s.name == change.key)
        self.org.update_policy(
            PolicyId=change.ids["policy_id"], Content=scp.content, Description=scp.description
        )

    def _delete_policy(self, change: Change) -> None:
        self.org.delete_policy(PolicyId=change.ids["policy_id"])

    def _create_policy_type(self, change: Change) -> None:
        self.org.enable_policy_type(RootId=self.state.root_id, PolicyType=SCP)

        def enabled() -> bool | None:
            root = self.org.list_roots()["Roots"][0]
            ok = any(p["Type"] == SCP and p["Status"] == "ENABLED" for p in root.get("PolicyTypes", []))
            return True if ok else None

        self.poller.until(enabled, "the SCP policy type to be enabled on the root")

    def _create_attachment(self, change: Change) -> None:
        after = change.after or {}
        self.org.attach_policy(
            PolicyId=self.policy_ids[after["policy"]], TargetId=self._target_id(after["target"])
        )

    def _delete_attachment(self, change: Change) -> None:
        before = change.before or {}
        self.org.detach_policy(
            PolicyId=self.policy_ids[before["policy"]], TargetId=self._target_id(before["target"])
        )

    def _create_account(self, change: Change) -> None:
        after = change.after or {}
        if after.get("email_in_use_by"):
            raise AwsError(
                f"account {change.key}: the e-mail {after['email']} is already used by account "
                f"{after['email_in_use_by']}; every account needs its own address"
            )
        tags = [{"Key": k, "Value": v} for k, v in after.get("tags", {}).items()]
        try:
            request = self.org.create_account(Email=after["email"], AccountName=change.key, Tags=tags)
        except ClientError as error:
            if error.response["Error"]["Code"] == "DuplicateAccountException":
                raise AwsError(
                    f"account {change.key}: an account with this name or e-mail already exists"
                ) from None
            raise
        request_id = request["CreateAccountStatus"]["Id"]

        def finished() -> dict[str, Any] | None:
            status = self.org.describe_create_account_status(CreateAccountRequestId=request_id)[
                "CreateAccountStatus"
            ]
            return status if status["State"] != "IN_PROGRESS" else None

        status = self.poller.until(finished, f"account {change.key} to be created")
        if status["State"] == "FAILED":
            reason = status.get("FailureReason", "UNKNOWN")
            message = _ACCOUNT_FAILURES.get(reason, "AWS could not create it ({reason})")
            raise AwsError(f"account {change.key}: " + message.format(email=after["email"], reason=reason))
        account_id = status["AccountId"]
        self.account_ids[change.key] = account_id
        if after["ou"]:
            self.org.move_account(
                AccountId=account_id,
                SourceParentId=self.state.root_id,
                DestinationParentId=self.ou_ids[after["ou"]],
            )

    def _move_account(self, change: Change) -> None:
        before, after = change.before or {}, change.after or {}
        source = self.state.root_id if before["ou"] == "root" else self.ou_ids[before["ou"]]
        self.org.move_account(
            AccountId=change.ids["account_id"],
            SourceParentId=source,
            DestinationParentId=self.ou_ids[after["ou"]],
        )

    def _update_account(self, change: Change) -> None:
        before, after = (change.before or {}).get("tags", {}), (change.after or {}).get("tags", {})
        gone = [k for k in before if k not in after]
        if gone:
            self.org.untag_resource(ResourceId=change.ids["account_id"], TagKeys=gone)
        changed = [{"Key": k, "Value": v} for k, v in after.items() if before.get(k) != v]
        if changed:
            self.org.tag_resource(ResourceId=change.ids["account_id"], Tags=changed)

    # -- identity center -------------------------------------------------------------------------------------
    @property
    def _store(self) -> str:
        assert self.state.identity_store_id is not None
        return self.state.identity_store_id

    @property
    def _instance(self) -> str:
        assert self.state.instance_arn is not None
        return self.state.instance_arn

    def _create_user(self, change: Change) -> None:
        a = change.after or {}
        extra = {k: v for k, v in (("Locale", a.get("locale")), ("Timezone", a.get("timezone"))) if v}
        user = self.ids.create_user(
            IdentityStoreId=self._store,
            UserName=change.key,
            DisplayName=a["display_name"],
            Name={"GivenName": a["given_name"], "FamilyName": a["family_name"]},
            Emails=[{"Value": a["email"], "Type": "work", "Primary": True}],
            **extra,
        )
        self.user_ids[change.key] = user["UserId"]

    def _update_user(self, change: Change) -> None:
        before, after = change.before or {}, change.after or {}
        paths = {
            "email": "emails",
            "given_name": "name.givenName",
            "family_name": "name.familyName",
            "display_name": "displayName",
            "locale": "locale",
            "timezone": "timezone",
        }
        operations = []
        for key, path in paths.items():
            if before.get(key) == after.get(key):
                continue
            value: Any = after.get(key)
            if key == "email":
                value = [{"value": value, "type": "work", "primary": True}]
            operations.append({"AttributePath": path, "AttributeValue": value})
        self.ids.update_user(IdentityStoreId=self._store, UserId=change.ids["user_id"], Operations=operations)

    def _delete_user(self, change: Change) -> None:
        self.ids.delete_user(IdentityStoreId=self._store, UserId=change.ids["user_id"])

    def _create_group(self, change: Change) -> None:
        description = (change.after or {}).get("description")
        extra = {"Description": description} if description else {}
        group = self.ids.create_group(IdentityStoreId=self._store, DisplayName=change.key, **extra)
        self.group_ids[change.key] = group["GroupId"]

    def _update_group(self, change: Change) -> None:
        self.ids.update_group(
            IdentityStoreId=self._store,
            GroupId=change.ids["group_id"],
            Operations=[
                {"AttributePath": "description", "AttributeValue": (change.after or {})["description"]}
            ],
        )

    def _delete_group(self, change: Change) -> None:
        self.ids.delete_group(IdentityStoreId=self._store, GroupId=change.ids["group_id"])

    def _create_membership(self, change: Change) -> None:
        after = change.after or {}
        self.ids.create_group_membership(
            IdentityStoreId=self._store,
            GroupId=self.group_ids[after["group"]],
            MemberId={"UserId": self.user_ids[after["user"]]},
        )

    def _delete_membership(self, change: Change) -> None:
        self.ids.delete_group_membership(
            IdentityStoreId=self._store, MembershipId=change.ids["membership_id"]
        )

    def _permission_set_fields(self, after: dict[str, Any]) -> dict[str, Any]:
        fields = {"SessionDuration": after["session_duration"]}
        if after.get("description"):
            fields["Description"] = after["description"]
        if after.get("relay_state"):
            fields["RelayState"] = after["relay_state"]
        return fields

    def _sync_policies(self, arn: str, before: dict[str, Any], after: dict[str, Any]) -> None:
        if before.get("inline_policy") != after.get("inline_policy"):
            if after.get("inline_policy"):
                self.sso.put_inline_policy_to_permission_set(
                    InstanceArn=self._instance,
                    PermissionSetArn=arn,
                    InlinePolicy=json.dumps(after["inline_policy"], separators=(",", ":")),
                )
            else:
                self.sso.delete_inline_policy_from_permission_set(
                    InstanceArn=self._instance, PermissionSetArn=arn
                )
        old, new = set(before.get("managed_policies") or []), set(after.get("managed_policies") or [])
        for policy_arn in sorted(new - old):
            self.sso.attach_managed_policy_to_permission_set(
                InstanceArn=self._instance, PermissionSetArn=arn, ManagedPolicyArn=policy_arn
            )
        for policy_arn in sorted(old - new):
            self.sso.detach_managed_policy_from_permission_set(
                InstanceArn=self._instance, PermissionSetArn=arn, ManagedPolicyArn=policy_arn
            )

    def _create_permission_set(self, change: Change) -> None:
        after = change.after or {}
        created = self.sso.create_permission_set(
            Name=change.key, InstanceArn=self._instance, **self._permission_set_fields(after)
        )
        arn = created["PermissionSet"]["PermissionSetArn"]
        self.ps_arns[change.key] = arn
        self._sync_policies(arn, {}, after)

    def _update_permission_set(self, change: Change) -> None:
        before, after = change.before or {}, change.after or {}
        arn = change.ids["arn"]
        keys = ("description", "session_duration", "relay_state")
        if any(before.get(k) != after.get(k) for k in keys):
            self.sso.update_permission_set(
                InstanceArn=self._instance, PermissionSetArn=arn, **self._permission_set_fields(after)
            )
        self._sync_policies(arn, before, after)
        self.to_provision.append(change.key)

    def _delete_permission_set(self, change: Change) -> None:
        self.sso.delete_permission_set(InstanceArn=self._instance, PermissionSetArn=change.ids["arn"])

    def _provision(self) -> None:
        """Push changed permission sets to the accounts that already use them."""
        for name in self.to_provision:
            status = self.sso.provision_permission_set(
                InstanceArn=self._instance,
                PermissionSetArn=self.ps_arns[name],
                TargetType="ALL_PROVISIONED_ACCOUNTS",
            )["PermissionSetProvisioningStatus"]
            if status["Status"] == "IN_PROGRESS":
                request_id = status["RequestId"]

                def done(request_id: str = request_id) -> dict[str, Any] | None:
                    current = self.sso.describe_permission_set_provisioning_status(
                        InstanceArn=self._instance, ProvisionPermissionSetRequestId=request_id
                    )["PermissionSetProvisioningStatus"]
                    return current if current["Status"] != "IN_PROGRESS" else None

                status = self._ic_poller.until(done, f"permission set {name} to be provisioned")
            if status["Status"] == "FAILED":
                raise AwsError(
                    f"permission set {name}: provisioning failed: {status.get('FailureReason', 'unknown')}"
                )
            self._say(f"  provisioned permission set {name}")
        self.to_provision = []

    def _principal_id(self, kind: str, name: str) -> str:
        return (self.group_ids if kind == "GROUP" else self.user_ids)[name]

    def _wait_assignment(self, status: dict[str, Any], describe: str, key: str, what: str) -> None:
        if status["Status"] == "IN_PROGRESS":
            request_id = status["RequestId"]

            def done() -> dict[str, Any] | None:
                current = getattr(self.sso, describe)(
                    InstanceArn=self._instance, AccountAssignmentCreationRequestId=request_id
                )
                current = current[key]
                return current if current["Status"] != "IN_PROGRESS" else None

            status = self._ic_poller.until(done, what)
        if status["Status"] == "FAILED":
            raise AwsError(f"{what} failed: {status.get('FailureReason', 'unknown reason')}")

    @property
    def _ic_poller(self) -> Poller:
        # Identity Center requests finish in seconds; accounts take minutes.
        return replace(self.poller, interval=min(self.poller.interval, 2.0))

    def _create_assignment(self, change: Change) -> None:
        a = change.after or {}
        status = self.sso.create_account_assignment(
            InstanceArn=self._instance,
            TargetId=self.account_ids.get(a["account"], a["account"]),
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=self.ps_arns[a["permission_set"]],
            PrincipalType=a["principal_type"],
            PrincipalId=self._principal_id(a["principal_type"], a["principal"]),
        )["AccountAssignmentCreationStatus"]
        self._wait_assignment(
            status,
            "describe_account_assignment_creation_status",
            "AccountAssignmentCreationStatus",
            f"assignment {change.key}",
        )

    def _delete_assignment(self, change: Change) -> None:
        b = change.before or {}
        delete_assignment(
            self.sso,
            self._instance,
            account_id=change.ids["account_id"],
            permission_set_arn=self.ps_arns[b["permission_set"]],
            principal_type=b["principal_type"],
            principal_id=change.ids["principal_id"],
            poller=self._ic_poller,
        )


def delete_assignment(
    sso: Any,
    instance_arn: str,
    *,
    account_id: str,
    permission_set_arn: str,
    principal_type: str,
    principal_id: str,
    poller: Poller,
) -> None:
    """Delete one account assignment and wait for AWS to finish."""
    status = sso.delete_account_assignment(
        InstanceArn=instance_arn,
        TargetId=account_id,
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=permission_set_arn,
        PrincipalType=principal_type,
        PrincipalId=principal_id,
    )["AccountAssignmentDeletionStatus"]
    if status["Status"] == "IN_PROGRESS":
        request_id = status["RequestId"]

        def done() -> dict[str, Any] | None:
            current = sso.describe_account_assignment_deletion_status(
                InstanceArn=instance_arn, AccountAssignmentDeletionRequestId=request_id
            )["AccountAssignmentDeletionStatus"]
            return current if current["Status"] != "IN_PROGRESS" else None

        status = poller.until(done, f"assignment on account {account_id} to be removed")
    if status["Status"] == "FAILED":
        raise AwsError(
            f"removing an assignment on account {account_id} failed: {status.get('FailureReason', 'unknown')}"
        )
