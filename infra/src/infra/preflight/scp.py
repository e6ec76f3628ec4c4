"""Service control policies as AWS applies them to one account: its OU chain, from the root down.

A request is allowed only when no SCP anywhere on the chain denies it and, at every level (root, each OU,
the account), at least one attached SCP allows it. AWS attaches FullAWSAccess to the root, every OU and
every account by default, and city-org never detaches AWS-managed policies, so each level starts with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from city_org.spec import OrganizationSpec

from infra.preflight.policy import Policy, Request, parse_policy

FULL_AWS_ACCESS = parse_policy(
    "FullAWSAccess",
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
)


@dataclass(frozen=True)
class Level:
    name: str  # "root", "OU Workloads/SDLC", "account workloads-dev"
    policies: tuple[Policy, ...]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str  # which policy and statement decided, for the report


class UnknownAccount(LookupError):
    """The account is not in organization.yaml."""


def account_levels(spec: OrganizationSpec, account_name: str) -> list[Level]:
    """The SCP levels that apply to an account of the spec, root first."""
    account = spec.account(account_name)
    if account is None:
        known = ", ".join(a.name for a in spec.accounts)
        raise UnknownAccount(f"account {account_name!r} is not in the organization spec (known: {known})")
    scps = {s.name: parse_policy(s.name, s.content) for s in spec.scps}
    levels = [Level("root", (FULL_AWS_ACCESS,))]
    parts = account.ou.split("/")
    for depth in range(1, len(parts) + 1):
        path = "/".join(parts[:depth])
        attached = tuple(scps[s.name] for s in spec.scps if path in s.targets)
        levels.append(Level(f"OU {path}", (FULL_AWS_ACCESS, *attached)))
    levels.append(Level(f"account {account.name}", (FULL_AWS_ACCESS,)))
    return levels


def evaluate(levels: list[Level], request: Request) -> Verdict:
    for level in levels:
        for policy in level.policies:
            for statement in policy.denying(request):
                return Verdict(False, f"denied by SCP {policy.name} statement {statement.sid} ({level.name})")
    for level in levels:
        if not any(policy.allowing(request) for policy in level.policies):
            names = ", ".join(p.name for p in level.policies)
            return Verdict(False, f"no SCP attached at {level.name} allows it ({names})")
    return Verdict(True, "allowed")
