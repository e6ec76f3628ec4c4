"""`city-org suspend`: quarantine one account without deleting anything."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TextIO

from city_org.apply import Poller, delete_assignment
from city_org.aws import OrgClients
from city_org.errors import AwsError
from city_org.spec import OrganizationSpec
from city_org.state import SUSPENDED_AT_TAG, SUSPENDED_REASON_TAG, LiveState

MAX_TAG_VALUE = 256


def suspend_account(
    clients: OrgClients,
    spec: OrganizationSpec,
    state: LiveState,
    account_ref: str,
    reason: str,
    *,
    now: datetime | None = None,
    poller: Poller | None = None,
    out: TextIO | None = None,
) -> int:
    """Move the account to the suspended OU, tag when and why, remove its assignments. Returns how many."""
    reason = reason.strip()
    if not reason:
        raise AwsError("suspend needs a --reason that says why")
    account = state.accounts.get(account_ref) or state.account_by_id(account_ref)
    if account is None:
        raise AwsError(f"no account named or numbered {account_ref!r} in the organization")
    target = state.ous.get(spec.suspended_ou)
    if target is None:
        raise AwsError(
            f"the suspended OU {spec.suspended_ou!r} does not exist yet; run `city-org apply` first"
        )
    org = clients.organizations
    if account.ou != spec.suspended_ou:
        source = state.ous[account.ou] if account.ou else state.root_id
        org.move_account(AccountId=account.id, SourceParentId=source, DestinationParentId=target)
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Tag values allow letters, digits, spaces and _.:/=+-@ only; keep the reason readable within that.
    allowed = "".join(c if c.isalnum() or c in " _.:/=+-@" else " " for c in reason)
    cleaned = " ".join(allowed.split())[:MAX_TAG_VALUE]
    org.tag_resource(
        ResourceId=account.id,
        Tags=[{"Key": SUSPENDED_AT_TAG, "Value": stamp}, {"Key": SUSPENDED_REASON_TAG, "Value": cleaned}],
    )
    removed = 0
    poller = poller or Poller()
    for assignment in sorted(state.assignments, key=lambda a: (a.permission_set, a.principal)):
        if assignment.account_id != account.id or state.instance_arn is None:
            continue
        delete_assignment(
            clients.sso_admin,
            state.instance_arn,
            account_id=account.id,
            permission_set_arn=state.permission_sets[assignment.permission_set].arn,
            principal_type=assignment.principal_type,
            principal_id=assignment.principal_id,
            poller=poller,
        )
        removed += 1
        if out is not None:
            print(
                f"  removed {assignment.principal_type.lower()}:{assignment.principal}"
                f" / {assignment.permission_set}",
                file=out,
            )
    if out is not None:
        print(
            f"Suspended {account.name} ({account.id}) in {spec.suspended_ou}: {stamp}, {cleaned!r}", file=out
        )
    return removed


def reinstate_account(
    clients: OrgClients, state: LiveState, account_ref: str, *, out: TextIO | None = None
) -> None:
    """Remove the suspension tags; the next apply moves the account back and restores its assignments."""
    account = state.accounts.get(account_ref) or state.account_by_id(account_ref)
    if account is None:
        raise AwsError(f"no account named or numbered {account_ref!r} in the organization")
    if not account.suspended:
        raise AwsError(f"account {account.name} is not suspended")
    clients.organizations.untag_resource(
        ResourceId=account.id, TagKeys=[SUSPENDED_AT_TAG, SUSPENDED_REASON_TAG]
    )
    if out is not None:
        print(
            f"Reinstated {account.name}; run `city-org apply` to restore its place and access.",
            file=out,
        )
