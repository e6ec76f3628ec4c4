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
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from infra.environments import ENVIRONMENT_NAMES, ConfigError, Environment, get_environment

INFRA_DIR = Path(__file__).resolve().parents[2]
REPO_ROOT = INFRA_DIR.parent
FRONTEND_DIR = REPO_ROOT / "frontend"
CDK_BIN = "./node_modules/.bin/cdk"  # the CLI pinned in infra/package.json, relative to INFRA_DIR
OUTPUTS_DIR = "cdk.out/outputs"
LOGIN_HELPER = "city-login"
# STS/CloudFormation error codes that mean "log in again".
EXPIRED_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "RequestExpired",
    "InvalidToken",
}


class DeployError(RuntimeError):
    """A deploy cannot go on; the message says what to do."""


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    profile: str

    def shell(self) -> str:
        return f"(cd infra && {shlex.join(self.argv)})"


def cdk_command(
    verb: str,
    config: Environment,
    kind: str,
    *,
    context: Mapping[str, str] | None = None,
) -> Command:
    """The exact CDK CLI call for one stack, with the profile of the account that stack lives in."""
    stack = config.stack_name(kind)
    profile = config.security.profile if kind == "Idp" else config.workload.profile
    argv = [CDK_BIN, verb, stack, "--exclusively", "--profile", profile, "-c", f"env={config.name}"]
    for key, value in (context or {}).items():
        if value:
            argv += ["-c", f"{key}={value}"]
    if verb == "deploy":
        # Prod asks before widening IAM or security groups; the others deploy unattended.
        argv += ["--require-approval", "broadening" if config.protect_data else "never"]
        argv += ["--outputs-file", f"{OUTPUTS_DIR}/{stack}.json"]
    return Command(tuple(argv), profile)


# --- AWS sessions -------------------------------------------------------------------------------------


def check_session(profile: str, account: str, region: str, session_factory: Callable[..., Any]) -> None:
    """Fail with a pointer to the login helper unless `profile` has live credentials for `account`."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        ProfileNotFound,
        SSOError,
        TokenRetrievalError,
    )

    login = f"{LOGIN_HELPER} {profile}"
    try:
        session = session_factory(profile_name=profile)
        identity = session.client("sts", region_name=region).get_caller_identity()
    except ProfileNotFound:
        raise DeployError(
            f"AWS profile {profile!r} is not configured on this machine. Create it (for SSO: "
            f"`aws configure sso --profile {profile}`), then log in with `{login}`."
        ) from None
    except (SSOError, TokenRetrievalError):
        raise DeployError(
            f"The SSO session of profile {profile!r} has expired or was never started. Log in with `{login}`."
        ) from None
    except NoCredentialsError:
        raise DeployError(f"Profile {profile!r} has no credentials. Log in with `{login}`.") from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in EXPIRED_CODES:
            raise DeployError(
                f"The credentials of profile {profile!r} are expired or invalid ({code}). Log in again with "
                f"`{login}`."
            ) from None
        raise DeployError(f"Checking profile {profile!r} failed: {exc}") from None
    except EndpointConnectionError as exc:
        raise DeployError(f"Cannot reach AWS to check profile {profile!r}: {exc}") from None
    if identity["Account"] != account:
        raise DeployError(
            f"Profile {profile!r} signs in to account {identity['Account']}, but "
            f"infra/config/environments.yaml expects {account}. Fix the profile or the config."
        )


def stack_outputs(
    profile: str, region: str, stack: str, session_factory: Callable[..., Any]
) -> dict[str, str] | None:
    """The outputs of a deployed stack, or None when it does not exist yet."""
    from botocore.exceptions import ClientError

    client = session_factory(profile_name=profile).client("cloudformation", region_name=region)
    try:
        (described,) = client.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


# --- running the plan ---------------------------------------------------------------------------------


class Placeholders(dict[str, str]):
    """Stack outputs that are not known in a dry run: each key reads as `<Key output of Stack>`."""

    def __init__(self, stack: str) -> None:
        super().__init__()
        self.stack = stack

    def __missing__(self, key: str) -> str:
        return f"<{key} output of {self.stack}>"


@dataclass
class Runner:
    """Prints each numbered step; runs it unless this is a dry run."""

    dry_run: bool
    out: TextIO = sys.stdout
    run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run
    cwd: Path = INFRA_DIR  # where the CDK CLI runs (infra/)
    # The local checks before anything is deployed: tools, the arm64 image build, the SCP preflight.
    check_tools: bool = True
    probe: Callable[[list[str]], tuple[int, str]] = field(default=lambda argv: _probe(argv))
    step_number: int = field(default=0, init=False)

    def announce(self, title: str, detail: str | None = None) -> None:
        self.step_number += 1
        print(f"{self.step_number}. {title}", file=self.out)
        if detail:
            print(f"   {detail}", file=self.out)

    def action(self, title: str, fn: Callable[[], Any], detail: str | None = None) -> Any:
        self.announce(title, detail)
        return None if self.dry_run else fn()

    def build(self, title: str, commands: list[list[str]], cwd: Path) -> None:
        """Local build commands (no AWS), run in order in `cwd`: printed, and run unless this is a dry run."""
        joined = " && ".join(shlex.join(argv) for argv in commands)
        self.announce(title, f"$ (cd {os.path.relpath(cwd, REPO_ROOT)} && {joined})")
        if self.dry_run:
            return
        for argv in commands:
            result = self.run(argv, cwd=cwd, env=dict(os.environ), check=False)
            if result.returncode != 0:
                raise DeployError(
                    f"step {self.step_number} failed (exit {result.returncode}): {shlex.join(argv)}"
                )

    def cdk(self, title: str, command: Command, stack: str | None = None) -> dict[str, str]:
        self.announce(title, f"$ {command.shell()}")
        if self.dry_run:
            return Placeholders(stack or "")
        env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
        result = self.run(list(command.argv), cwd=self.cwd, env=env, check=False)
        if result.returncode != 0:
            raise DeployError(
                f"step {self.step_number} failed (exit {result.returncode}): {command.shell()}\n"
                f"If the output above mentions expired or missing credentials, run `{LOGIN_HELPER} "
                f"{command.profile}` and start again."
            )
        if stack is None:
            return {}
        outputs = json.loads((self.cwd / OUTPUTS_DIR / f"{stack}.json").read_text())
        return {key: str(value) for key, value in outputs.get(stack, {}).items()}


def _probe(argv: list[str]) -> tuple[int, str]:
    """Run a local check command: (exit code, stdout and stderr); 127 when the program is missing."""
    if shutil.which(argv[0]) is None:
        return 127, f"{argv[0]}: not found"
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)  # noqa: S603 - fixed docker argv
    return result.returncode, result.stdout + result.stderr


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


def _require_tools(runner: Runner) -> None:
    if runner.dry_run or not runner.check_tools:
        return
    if not (runner.cwd / CDK_BIN).exists():
        raise DeployError("The CDK CLI is not installed: run `npm ci` in infra/ (make does it for you).")


def _local_checks(config: Environment, runner: Runner) -> None:
    """Everything that can fail on this machine, checked before the first stack is touched."""
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


def deploy(config: Environment, runner: Runner, session_factory: Callable[..., Any] | None = None) -> None:
    """The whole ordered deploy of one environment (see the module docstring)."""
    _require_tools(runner)
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
    _local_checks(config, runner)

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
        cdk_command("deploy", config, "Tasks", context={**idp_context, "frontendUrl": known_url or ""}),
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
        context = {**idp_context, "frontendUrl": new_url}
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
    _require_tools(runner)
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


def bootstrap(config: Environment, runner: Runner) -> None:
    """Once per account/region: the CDK's asset bucket, image repository and deploy roles."""
    _require_tools(runner)
    targets = {(t.account, t.region, t.profile) for t in (config.security, config.workload)}
    for account, region, profile in sorted(targets):
        command = Command(
            (
                CDK_BIN,
                "bootstrap",
                f"aws://{account}/{region}",
                "--profile",
                profile,
                "-c",
                f"env={config.name}",
            ),
            profile,
        )
        runner.cdk(f"Bootstrap {account} in {region}", command)


def synth(config: Environment, outdir: Path) -> list[Path]:
    """Synthesize the environment in-process (offline: no credentials, no lookups) into `outdir`."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk

    from infra.app import build_app

    app = cdk.App(outdir=str(outdir), context={"env": config.name})
    build_app(config, app=app)
    app.synth()
    return sorted(outdir.glob("*.template.json"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["synth", "diff", "deploy", "bootstrap", "destroy"])
    parser.add_argument("--env", required=True, choices=ENVIRONMENT_NAMES)
    parser.add_argument("--dry-run", action="store_true", help="print the plan and commands; call nothing")
    parser.add_argument("--confirm", default=None, help="destroy: the environment's name, required for prod")
    args = parser.parse_args(argv)
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
            deploy(config, Runner(dry_run=args.dry_run))
    except (DeployError, _imported_deploy_error(), ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _imported_deploy_error() -> type[Exception]:
    """Under `python -m infra.deploy` this module is __main__; infra.destroy raises infra.deploy's class."""
    from infra.deploy import DeployError as imported

    return imported


def _client_ids(idp_outputs: dict[str, str]) -> str:
    """The app clients the API accepts: web, load-test machines and (outside prod) load-test people."""
    keys = ("WebClientId", "LoadTestClientId", "LoadTestUserClientId")
    return ",".join(idp_outputs[key] for key in keys if idp_outputs.get(key))


if __name__ == "__main__":
    sys.exit(main())
