"""`make synth|diff|deploy|bootstrap ENV=pipelines`: the two pipeline stacks, each with its Deployments
account's profile (SDLC first: the prod stack's release bucket trusts the SDLC promoter role)."""

from __future__ import annotations

import sys

from infra.environments import AwsTarget, ConfigError, Pipelines, load_environments, load_pipelines
from infra.pipelines.app import PROD_STACK, SDLC_STACK, build_pipelines_app
from infra.runner import (
    CDK_BIN,
    INFRA_DIR,
    OUTPUTS_DIR,
    Command,
    DeployError,
    Runner,
    check_session,
    require_tools,
)
from infra.synth import Build, read_templates, synth_into

CONTEXT_ENV = "pipelines"


def stacks(pipelines: Pipelines) -> list[tuple[str, AwsTarget]]:
    return [(SDLC_STACK, pipelines.sdlc.deployments), (PROD_STACK, pipelines.prod.deployments)]


def cdk_command(verb: str, stack: str, target: AwsTarget) -> Command:
    argv = [CDK_BIN, verb, stack, "--exclusively", "--profile", target.profile, "-c", f"env={CONTEXT_ENV}"]
    if verb == "deploy":
        argv += ["--require-approval", "broadening", "--outputs-file", f"{OUTPUTS_DIR}/{stack}.json"]
    return Command(tuple(argv), target.profile)


def builder(pipelines: Pipelines, *, with_nag: bool = True) -> Build:
    """Adds both pipeline stacks to a CDK app (what `cdk -c env=pipelines` synthesizes)."""
    return lambda app: build_pipelines_app(pipelines, load_environments(), app=app, with_nag=with_nag)


def deploy(pipelines: Pipelines, runner: Runner, verb: str = "deploy") -> None:
    require_tools(runner)
    print(
        f"{verb.title()} the pipelines: SDLC in {pipelines.sdlc.deployments.account}, prod in "
        f"{pipelines.prod.deployments.account}"
        + (" -- DRY RUN: nothing is called" if runner.dry_run else ""),
        file=runner.out,
    )

    def check() -> None:
        import boto3

        for _, target in stacks(pipelines):
            check_session(target.profile, target.account, target.region, boto3.Session)

    runner.action("Check the AWS sessions of both Deployments accounts", check)
    for stack, _target in stacks(pipelines):
        runner.cdk(
            f"{verb.title()} {stack}", cdk_command(verb, stack, _target), stack if verb == "deploy" else None
        )


def bootstrap(pipelines: Pipelines, runner: Runner) -> None:
    """The Deployments accounts: deployed from a laptop, so they trust no other account."""
    from infra.pipelines.bootstrap import BootstrapTarget, bootstrap_targets

    templates = read_templates(CONTEXT_ENV, builder(pipelines, with_nag=False))
    targets = [BootstrapTarget(target, (stack,), ()) for stack, target in stacks(pipelines)]
    bootstrap_targets(targets, templates, runner, CONTEXT_ENV)


def main(command: str, dry_run: bool) -> int:
    try:
        pipelines = load_pipelines()
        if command == "synth":
            outdir = INFRA_DIR / "cdk.out" / CONTEXT_ENV
            for template in synth_into(outdir, CONTEXT_ENV, builder(pipelines)):
                print(template.relative_to(INFRA_DIR.parent))
        elif command == "bootstrap":
            bootstrap(pipelines, Runner(dry_run=dry_run))
        elif command == "destroy":
            # Their buckets and image repositories are retained on purpose (releases, rollbacks).
            raise DeployError(
                "make destroy does not remove the pipelines; delete their stacks in the Deployments "
                "accounts by hand if you mean it (the release bucket and image repositories are kept)"
            )
        else:
            deploy(pipelines, Runner(dry_run=dry_run), verb=command)
    except (DeployError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
