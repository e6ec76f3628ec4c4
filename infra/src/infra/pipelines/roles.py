"""The CDK bootstrap roles a pipeline assumes in the accounts it deploys to (created by `make bootstrap`)."""

from __future__ import annotations

from infra.environments import AwsTarget, Environment

# deploy: CloudFormation changes; file-publishing: Lambda code and the web app's files to the asset bucket;
# lookup: read-only (stack outputs, the smoke test's client secret).
DEPLOY_ROLES = ("deploy", "file-publishing", "lookup")
SMOKE_ROLES = ("lookup",)


def bootstrap_role_arn(kind: str, target: AwsTarget, qualifier: str) -> str:
    return f"arn:aws:iam::{target.account}:role/cdk-{qualifier}-{kind}-role-{target.account}-{target.region}"


def targets_of(config: Environment) -> list[AwsTarget]:
    """The accounts one environment's stacks live in: Security (IdP) and the workload account."""
    return [config.security, config.workload]


def role_arns(configs: list[Environment], kinds: tuple[str, ...], qualifier: str) -> list[str]:
    """Every bootstrap role of `kinds` in the accounts of `configs`, and nothing in any other account."""
    arns = {bootstrap_role_arn(k, t, qualifier) for c in configs for t in targets_of(c) for k in kinds}
    return sorted(arns)
