"""`make bootstrap ENV=...`: each account of an environment trusts the Deployments account whose pipeline
deploys it, and CloudFormation there runs with an execution policy built from the templates, not
AdministratorAccess. `ENV=pipelines` bootstraps the two Deployments accounts themselves (no trust)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.environments import AwsTarget, Environment, Pipelines
from infra.pipelines import execution_policy
from infra.runner import CDK_BIN, Command, Runner, require_tools

Templates = Mapping[str, Mapping[str, Any]]  # stack name -> template


@dataclass(frozen=True)
class BootstrapTarget:
    target: AwsTarget
    stacks: tuple[str, ...]  # the stacks deployed into this account
    trusted: tuple[str, ...]  # Deployments accounts whose pipelines deploy here


def environment_targets(
    config: Environment, environments: Mapping[str, Environment], pipelines: Pipelines
) -> list[BootstrapTarget]:
    """The Security and workload accounts of `config`, each trusting every pipeline that deploys there
    (the Security account hosts every environment's IdP, so it trusts both Deployments accounts)."""
    result = []
    for target, kinds in ((config.security, ("Idp",)), (config.workload, ("Tasks", "Frontend"))):
        users = [
            e for e in environments.values() if target.account in (e.security.account, e.workload.account)
        ]
        trusted = sorted({pipelines.side_of(e.name).deployments.account for e in users})
        result.append(BootstrapTarget(target, tuple(config.stack_name(k) for k in kinds), tuple(trusted)))
    return result


def bootstrap_command(target: BootstrapTarget, policy_arns: list[str], context_env: str) -> Command:
    t = target.target
    argv = [
        CDK_BIN,
        "bootstrap",
        f"aws://{t.account}/{t.region}",
        "--profile",
        t.profile,
        "-c",
        f"env={context_env}",
    ]
    for account in target.trusted:
        argv += ["--trust", account, "--trust-for-lookup", account]
    argv += ["--cloudformation-execution-policies", ",".join(policy_arns)]
    return Command(tuple(argv), t.profile)


def bootstrap_targets(
    targets: list[BootstrapTarget],
    templates: Templates,
    runner: Runner,
    context_env: str,
    iam_for: Callable[[AwsTarget], Any] | None = None,
) -> None:
    require_tools(runner)
    for target in targets:
        t = target.target
        actions = execution_policy.required_actions(templates[name] for name in target.stacks)
        documents = execution_policy.policy_documents(actions)
        planned = [
            f"arn:aws:iam::{t.account}:policy/{n}" for n in execution_policy.policy_names(len(documents))
        ]

        def write(target: AwsTarget = t, documents: list[dict[str, Any]] = documents) -> list[str]:
            iam = (iam_for or _iam_client)(target)
            return execution_policy.upsert_policies(iam, target.account, documents)

        arns = runner.action(
            f"Write the CloudFormation execution policy in {t.account} ({len(actions)} actions for "
            f"{', '.join(target.stacks)})",
            write,
            f"{', '.join(planned)}: {' '.join(actions)}",
        )
        runner.cdk(
            f"Bootstrap {t.account} in {t.region}", bootstrap_command(target, arns or planned, context_env)
        )


def _iam_client(target: AwsTarget) -> Any:
    import boto3

    return boto3.Session(profile_name=target.profile).client("iam", region_name=target.region)
