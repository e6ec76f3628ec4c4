"""`make preflight ENV=...`: would the organization's SCPs let CloudFormation deploy and delete these stacks?

For each stack of the synthesized cloud assembly: the target account (from the assembly), its name in
organization.yaml (`org_account` in environments.yaml), its OU chain and the SCPs along it; the principal
is the CDK bootstrap's CloudFormation execution role of that account and region, which is what creates,
updates and deletes every resource. Every action of every resource (actions.py) is evaluated (scp.py);
any that is not allowed is reported with the resource, its type, the action, the policy and statement.

The resource ARN of each request is predicted from the stack (service, region, account, the stack's
naming), since most physical names exist only after a deploy; policies that name resources more finely
than that are matched against the prediction.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from city_org.errors import SpecError
from city_org.spec import OrganizationSpec, load_spec

from infra.preflight.actions import OPERATIONS, UnknownResourceType, required_actions
from infra.preflight.policy import PolicyError, Request
from infra.preflight.scp import UnknownAccount, account_levels, evaluate

ORG_SPEC = Path(__file__).resolve().parents[3] / "org" / "organization.yaml"


@dataclass(frozen=True)
class StackTarget:
    """One stack of a cloud assembly and who deploys it where."""

    name: str
    template: Mapping[str, Any]
    account: str
    region: str
    execution_role_arn: str


@dataclass(frozen=True)
class Finding:
    stack: str
    logical_id: str
    resource_type: str
    action: str
    operations: tuple[str, ...]
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.stack}: {self.logical_id} ({self.resource_type}) needs {self.action} "
            f"to {'/'.join(self.operations)}: {self.reason}"
        )


class PreflightError(RuntimeError):
    """The preflight cannot run (an unmapped account, an unknown type...); the message says what to fix."""


def execution_role_arn(account: str, region: str, qualifier: str = "hnb659fds") -> str:
    return f"arn:aws:iam::{account}:role/cdk-{qualifier}-cfn-exec-role-{account}-{region}"


def stack_targets(assembly: Path) -> list[StackTarget]:
    """The stacks of a synthesized cloud assembly (its manifest.json), in the manifest's order."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    targets = []
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        account, region = artifact["environment"].removeprefix("aws://").split("/")
        props = artifact["properties"]
        role = props.get("cloudFormationExecutionRoleArn") or execution_role_arn(account, region)
        role = role.replace("${AWS::Partition}", "aws")
        template = json.loads((assembly / props["templateFile"]).read_text())
        targets.append(StackTarget(name, template, account, region, role))
    return targets


def _predicted_arn(target: StackTarget, resource_type: str, logical_id: str, action: str) -> str:
    service = action.split(":", 1)[0]
    kind = resource_type.split("::")[-1].lower()
    return f"arn:aws:{service}:{target.region}:{target.account}:{kind}/{target.name}-{logical_id}"


def check_stacks(
    targets: list[StackTarget], spec: OrganizationSpec, account_names: Mapping[str, str]
) -> list[Finding]:
    """Every (resource, action) the SCPs would refuse, over all stacks."""
    findings: list[Finding] = []
    for target in targets:
        name = account_names.get(target.account)
        if name is None:
            raise PreflightError(
                f"{target.name} deploys to account {target.account}, which has no org_account in "
                "infra/config/environments.yaml: name its account from infra/org/organization.yaml"
            )
        try:
            levels = account_levels(spec, name)
            resources = required_actions(target.template)
        except (UnknownAccount, UnknownResourceType) as exc:
            raise PreflightError(str(exc)) from None
        context = {
            "aws:PrincipalARN": target.execution_role_arn,
            "aws:PrincipalAccount": target.account,
            "aws:RequestedRegion": target.region,
        }
        for resource in resources:
            by_action: dict[str, list[str]] = {}
            for operation in OPERATIONS:
                for action in getattr(resource.actions, operation):
                    by_action.setdefault(action, []).append(operation)
            for action, operations in by_action.items():
                arn = _predicted_arn(target, resource.type, resource.logical_id, action)
                try:
                    verdict = evaluate(levels, Request(action, arn, context))
                except PolicyError as exc:
                    raise PreflightError(f"the organization's SCPs cannot be evaluated: {exc}") from None
                if not verdict.allowed:
                    findings.append(
                        Finding(
                            target.name,
                            resource.logical_id,
                            resource.type,
                            action,
                            tuple(operations),
                            verdict.reason,
                        )
                    )
    return findings


def account_names_of(config: Any) -> dict[str, str]:
    """account id -> organization.yaml name, from an Environment's targets."""
    names: dict[str, str] = {}
    for target in (config.security, config.workload):
        if target.org_account:
            names[target.account] = target.org_account
    return names


def run(env_name: str, spec_path: Path, out: TextIO, assembly: Path | None = None) -> int:
    from infra.environments import get_environment
    from infra.runner import INFRA_DIR
    from infra.synth import synth

    config = get_environment(env_name)
    spec = load_spec(spec_path)
    if assembly is None:
        assembly = INFRA_DIR / "cdk.out" / config.name
        synth(config, assembly)
    targets = stack_targets(assembly)
    findings = check_stacks(targets, spec, account_names_of(config))
    checked = sum(len(t.template.get("Resources", {})) for t in targets)
    if findings:
        print(f"preflight {env_name}: {len(findings)} action(s) the organization's SCPs refuse:", file=out)
        for finding in findings:
            print(f"  {finding}", file=out)
        print("Fix the SCP in infra/org/policies (or the stack), then run `make preflight` again.", file=out)
        return 1
    stacks = ", ".join(f"{t.name} ({t.account})" for t in targets)
    print(
        f"preflight {env_name}: the SCPs allow every action of {checked} resources in {stacks} "
        "for the CDK execution role",
        file=out,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    from infra.environments import ENVIRONMENT_NAMES, ConfigError

    parser = argparse.ArgumentParser(
        prog="python -m infra.preflight.check", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENT_NAMES)
    parser.add_argument("--spec", type=Path, default=ORG_SPEC, help="the organization spec")
    parser.add_argument("--assembly", type=Path, default=None, help="an already synthesized cloud assembly")
    args = parser.parse_args(argv)
    try:
        return run(args.env, args.spec, sys.stdout, args.assembly)
    except (PreflightError, ConfigError) as exc:
        print(f"preflight: {exc}", file=sys.stderr)
        return 2
    except SpecError as exc:
        print(f"preflight: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
