"""`make synth|diff|deploy ENV=...`: one command across the Security and workload accounts.

The deploy, in order: local checks (the arm64 image build can work; the SCP preflight passes) -> check both
AWS sessions -> read the frontend URL already live (if any) -> IdP stack
(Security profile) -> Tasks stack (workload profile, with the IdP's issuer and client ids) -> Frontend stack
(with the API URL and the IdP values for config.json) -> when the CloudFront URL is new, the IdP again (web
client callback/logout URLs) and the Tasks stack again (CORS). Values move between steps through the CDK
CLI's `--outputs-file`; `--dry-run` prints the same plan with placeholders and calls nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from infra.environments import ENVIRONMENT_NAMES, ConfigError, Environment, get_environment
from infra.runner import (
    FRONTEND_DIR,
    INFRA_DIR,
    DeployError,
    Runner,
    cdk_command,
    check_session,
    require_tools,
    stack_outputs,
)
from infra.synth import environment_builder, read_templates, synth

BINFMT_HINT = (
    "install arm64 emulation once with `docker run --privileged --rm tonistiigi/binfmt --install arm64` "
    "(QEMU binfmt), or deploy from an arm64 machine"
)


def check_image_build(probe: Callable[[list[str]], tuple[int, str]]) -> str:
    """The Tasks API image is built for linux/arm64 during the Tasks stack's deploy: make sure that can
    work before anything is deployed. Returns the builder's arm64 platform line."""
    code, output = probe(["docker", "version", "--format", "{{.Server.Version}}"])
    if code == 127:
        raise DeployError("Docker is needed to build the Tasks API image (linux/arm64); install it first.")
    if code != 0:
        raise DeployError(f"Docker is installed but its daemon does not answer: {output.strip()[:300]}")
    code, output = probe(["docker", "buildx", "version"])
    if code != 0:
        raise DeployError(
            "Docker buildx is needed to build the linux/arm64 image; install the buildx plugin "
            "(Debian: docker-buildx, Docker Desktop has it)."
        )
    code, output = probe(["docker", "buildx", "inspect", "--bootstrap"])
    platforms = next((line for line in output.splitlines() if line.strip().startswith("Platforms:")), "")
    if code != 0 or "linux/arm64" not in platforms:
        raise DeployError(
            f"The current buildx builder cannot build linux/arm64 ({platforms.strip() or 'no platforms'}): "
            + BINFMT_HINT
            + "."
        )
    return platforms.strip()


def run_preflight(config: Environment, out: TextIO) -> None:
    """The SCP preflight (infra/preflight/check.py) on a fresh offline synth of this environment."""
    from infra.preflight.check import ORG_SPEC, PreflightError
    from infra.preflight.check import run as preflight

    try:
        failed = preflight(config.name, ORG_SPEC, out)
    except PreflightError as exc:
        raise DeployError(f"preflight: {exc}") from None
    if failed:
        raise DeployError(
            "the organization's SCPs would refuse the actions listed above; nothing was deployed"
        )


def _local_checks(config: Environment, runner: Runner, builds_image: bool = True) -> None:
    """Everything that can fail on this machine, checked before the first stack is touched."""
    if builds_image:  # not when the API image comes by digest from a pipeline's release
        runner.action(
            "Check the image build prerequisites (Docker, buildx, a linux/arm64 builder or emulation)",
            lambda: check_image_build(runner.probe) if runner.check_tools else None,
            "$ docker buildx inspect --bootstrap  (its platforms must include linux/arm64)",
        )
    runner.action(
        "Preflight: the organization's SCPs allow every action CloudFormation needs for these stacks",
        lambda: run_preflight(config, runner.out) if runner.check_tools else None,
        f"$ make preflight ENV={config.name}",
    )


def deploy(
    config: Environment,
    runner: Runner,
    session_factory: Callable[..., Any] | None = None,
    api_image: str | None = None,
) -> None:
    """The whole ordered deploy of one environment (see the module docstring). With `api_image` (an ECR
    image by digest, from a pipeline's release.json) the Tasks stack runs that image: nothing is built."""
    require_tools(runner)
    image_context = {"apiImage": api_image} if api_image else {}
    if session_factory is None and not runner.dry_run:
        import boto3

        session_factory = boto3.Session
    sec, work = config.security, config.workload
    print(
        f"Deploy {config.name}: IdP in {sec.account} ({sec.region}, profile {sec.profile}); "
        f"API and frontend in {work.account} ({work.region}, profile {work.profile})"
        + (" -- DRY RUN: nothing is called" if runner.dry_run else ""),
        file=runner.out,
    )
    _local_checks(config, runner, builds_image=api_image is None)

    def check_both() -> None:
        assert session_factory is not None
        check_session(sec.profile, sec.account, sec.region, session_factory)
        check_session(work.profile, work.account, work.region, session_factory)

    runner.action(
        "Check the AWS sessions",
        check_both,
        f"sts get-caller-identity as {sec.profile} ({sec.account}) and {work.profile} ({work.account})",
    )

    frontend_stack = config.stack_name("Frontend")
    configured = f"https://{config.domains.frontend_domain}" if config.domains.frontend_domain else None

    def live_frontend_url() -> str | None:
        if configured:
            return configured
        assert session_factory is not None
        outputs = stack_outputs(work.profile, work.region, frontend_stack, session_factory)
        return (outputs or {}).get("FrontendUrl")

    known_url = runner.action(
        "Read the frontend URL already live",
        live_frontend_url,
        f"configured domain, else the FrontendUrl output of {frontend_stack} (none on a first deploy)",
    )
    if runner.dry_run:
        known_url = configured or f"<FrontendUrl output of {frontend_stack}, if deployed>"

    idp = runner.cdk(
        "Deploy the IdP stack (Security account)",
        cdk_command("deploy", config, "Idp", context={"frontendUrl": known_url or ""}),
        config.stack_name("Idp"),
    )
    idp_context = {
        "issuer": idp["Issuer"],
        "clientIds": _client_ids(idp),
        "webClientId": idp["WebClientId"],
        "hostedUiDomain": idp["HostedUiDomain"],
    }
    tasks = runner.cdk(
        "Deploy the Tasks stack (workload account) with the IdP's issuer and client ids",
        cdk_command(
            "deploy",
            config,
            "Tasks",
            context={**idp_context, "frontendUrl": known_url or "", **image_context},
        ),
        config.stack_name("Tasks"),
    )
    if runner.dry_run or (FRONTEND_DIR / "package.json").is_file():
        runner.build(
            "Build the web app once (frontend/dist); each environment differs only in config.json",
            [["npm", "ci", "--no-audit", "--no-fund"], ["npm", "run", "build"]],
            FRONTEND_DIR,
        )
    else:
        print("No frontend/package.json: the Frontend stack deploys a placeholder page.", file=runner.out)
    frontend = runner.cdk(
        "Deploy the Frontend stack: CloudFront + WAF, /api/* to the API's VPC origin, config.json",
        cdk_command(
            "deploy",
            config,
            "Frontend",
            context={
                **idp_context,
                "apiOriginId": tasks["ApiOriginId"],
                "apiOriginDomain": tasks["ApiOriginDomain"],
            },
        ),
        frontend_stack,
    )
    new_url = frontend["FrontendUrl"]
    if runner.dry_run or new_url != known_url:
        context = {**idp_context, "frontendUrl": new_url, **image_context}
        condition = "Only when the FrontendUrl differs from step 2's: " if runner.dry_run else ""
        runner.cdk(
            f"{condition}add the frontend URL to the web client's callback/logout URLs",
            cdk_command("deploy", config, "Idp", context=context),
            config.stack_name("Idp"),
        )
        runner.cdk(
            f"{condition}allow the frontend origin in the API's CORS settings",
            cdk_command("deploy", config, "Tasks", context=context),
            config.stack_name("Tasks"),
        )
    else:
        print(
            f"The frontend URL {new_url} is unchanged: the IdP callbacks are already right.", file=runner.out
        )
    if not runner.dry_run:
        print(f"Done: {new_url}", file=runner.out)


def diff(config: Environment, runner: Runner, session_factory: Callable[..., Any] | None = None) -> None:
    """`cdk diff` of each stack against what is deployed, with the live outputs as context."""
    require_tools(runner)
    if session_factory is None and not runner.dry_run:
        import boto3

        session_factory = boto3.Session
    sec, work = config.security, config.workload

    def live_context() -> dict[str, str]:
        assert session_factory is not None
        check_session(sec.profile, sec.account, sec.region, session_factory)
        check_session(work.profile, work.account, work.region, session_factory)
        idp = stack_outputs(sec.profile, sec.region, config.stack_name("Idp"), session_factory) or {}
        tasks = stack_outputs(work.profile, work.region, config.stack_name("Tasks"), session_factory) or {}
        front = stack_outputs(work.profile, work.region, config.stack_name("Frontend"), session_factory) or {}
        client_ids = _client_ids(idp)
        return {
            "issuer": idp.get("Issuer", ""),
            "clientIds": client_ids,
            "webClientId": idp.get("WebClientId", ""),
            "hostedUiDomain": idp.get("HostedUiDomain", ""),
            "apiOriginId": tasks.get("ApiOriginId", ""),
            "apiOriginDomain": tasks.get("ApiOriginDomain", ""),
            "frontendUrl": front.get("FrontendUrl", ""),
        }

    context = runner.action("Check the AWS sessions and read the deployed outputs", live_context) or {}
    for kind in ("Idp", "Tasks", "Frontend"):
        runner.cdk(f"Diff the {kind} stack", cdk_command("diff", config, kind, context=context))


def bootstrap(
    config: Environment,
    runner: Runner,
    templates: Mapping[str, Mapping[str, Any]] | None = None,
    iam_for: Callable[..., Any] | None = None,
) -> None:
    """Once per account/region: the CDK's asset bucket, image repository and deploy roles, trusting the
    Deployments account that deploys there, with an execution policy from the synthesized templates."""
    from infra.environments import load_environments, load_pipelines
    from infra.pipelines.bootstrap import bootstrap_targets, environment_targets

    if templates is None:
        templates = read_templates(config.name, environment_builder(config))
    targets = environment_targets(config, load_environments(), load_pipelines())
    bootstrap_targets(targets, templates, runner, config.name, iam_for)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["synth", "diff", "deploy", "bootstrap", "destroy"])
    parser.add_argument("--env", required=True, choices=(*ENVIRONMENT_NAMES, "pipelines"))
    parser.add_argument("--dry-run", action="store_true", help="print the plan and commands; call nothing")
    parser.add_argument("--confirm", default=None, help="destroy: the environment's name, required for prod")
    parser.add_argument("--release", type=Path, help="release.json of a pipeline build: deploy its API image")
    parser.add_argument(
        "--pipeline", action="store_true", help="run on a pipeline's role: assume the CDK roles, no profiles"
    )
    args = parser.parse_args(argv)
    if args.env == "pipelines":
        from infra.pipelines.deploy import main as pipelines_main

        return pipelines_main(args.command, dry_run=args.dry_run)
    try:
        config = get_environment(args.env)
        if args.command == "synth":
            outdir = INFRA_DIR / "cdk.out" / config.name
            for template in synth(config, outdir):
                print(template.relative_to(INFRA_DIR.parent))
        elif args.command == "diff":
            diff(config, Runner(dry_run=args.dry_run))
        elif args.command == "bootstrap":
            bootstrap(config, Runner(dry_run=args.dry_run))
        elif args.command == "destroy":
            from infra.destroy import destroy

            destroy(config, Runner(dry_run=args.dry_run), confirm=args.confirm)
        else:
            from infra.pipelines.release import api_image_of

            runner = Runner(dry_run=args.dry_run, ambient_credentials=args.pipeline)
            sessions = None
            if args.pipeline and not args.dry_run:
                from infra.pipelines.credentials import AssumedRoleSessions

                sessions = AssumedRoleSessions.for_environment(config, "deploy")
            api_image = api_image_of(args.release) if args.release else None
            deploy(config, runner, session_factory=sessions, api_image=api_image)
    except (DeployError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _client_ids(idp_outputs: dict[str, str]) -> str:
    """The app clients the API accepts: web, load-test machines and (outside prod) load-test people."""
    keys = ("WebClientId", "LoadTestClientId", "LoadTestUserClientId")
    return ",".join(idp_outputs[key] for key in keys if idp_outputs.get(key))


if __name__ == "__main__":
    sys.exit(main())
