"""The provisioners permission set cannot make its holder an administrator.

The escalation paths through IAM: create (or change) a role without a permissions boundary and give it
administrator rights, strip a role's boundary, rewrite the boundary policy itself, or pass an existing
powerful role to a service. The policy is evaluated with the same IAM evaluator as the SCP preflight.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from infra.preflight.policy import Request, load_policy

POLICY = load_policy(
    Path(__file__).resolve().parents[2] / "infra" / "org" / "policies" / "provisioners-permission-set.json"
)
ACCOUNT = "111111111111"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/city-tasks-permissions-boundary"
OWN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/city-tasks-report-builder"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"


def allowed(action: str, resource: str, **context: str) -> bool:
    request = Request(action, resource, context)
    return bool(POLICY.allowing(request)) and not POLICY.denying(request)


@pytest.mark.parametrize(
    "action",
    ["iam:CreateRole", "iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"],
)
def test_roles_are_created_and_changed_only_under_the_boundary(action):
    assert not allowed(action, OWN_ROLE)  # no boundary on the request / the role
    assert not allowed(
        action, OWN_ROLE, **{"iam:PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/other"}
    )
    assert allowed(action, OWN_ROLE, **{"iam:PermissionsBoundary": BOUNDARY})
    # Other roles (the organization's, CloudFormation's) are not theirs to change, boundary or not.
    assert not allowed(action, ADMIN_ROLE, **{"iam:PermissionsBoundary": BOUNDARY})


def test_the_boundary_cannot_be_removed_or_rewritten():
    assert not allowed("iam:DeleteRolePermissionsBoundary", OWN_ROLE, **{"iam:PermissionsBoundary": BOUNDARY})
    for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"):
        assert not allowed(action, BOUNDARY)
    assert allowed("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/city-tasks-reports")


def test_powerful_roles_cannot_be_passed_or_have_their_trust_changed():
    assert not allowed("iam:PassRole", ADMIN_ROLE)
    assert allowed("iam:PassRole", OWN_ROLE)
    assert not allowed("iam:UpdateAssumeRolePolicy", ADMIN_ROLE)
    assert not allowed("iam:UpdateAssumeRolePolicy", OWN_ROLE)
    assert not allowed("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/me")
    assert not allowed("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/me")


def test_deploys_still_work():
    """What `cdk deploy` does with these credentials: assume the CDK roles and read."""
    assert allowed(
        "sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-deploy-role-{ACCOUNT}-us-east-1"
    )
    assert allowed("cloudformation:DescribeStacks", "*")
    assert allowed("iam:GetRole", ADMIN_ROLE)
