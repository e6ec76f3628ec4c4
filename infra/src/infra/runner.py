"""The CDK CLI and AWS sessions as every deploy command uses them (`make deploy|diff|bootstrap|destroy`,
the pipelines' own): the exact CLI call for one stack, a `Runner` that prints each numbered step and runs it
unless this is a dry run, and the session checks that point at the login helper when credentials are gone.
"""

from __future__ import annotations

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

from infra.environments import Environment

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

    def without_profile(self) -> Command:
        """The same call on the ambient credentials (a pipeline's role; the CDK CLI assumes the bootstrap
        roles of the target account itself)."""
        argv = list(self.argv)
        if "--profile" in argv:
            at = argv.index("--profile")
            del argv[at : at + 2]
        return Command(tuple(argv), self.profile)


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
    out: TextIO = field(default_factory=lambda: sys.stdout)  # the stdout of the moment, not of import
    run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run
    cwd: Path = INFRA_DIR  # where the CDK CLI runs (infra/)
    # The local checks before anything is deployed: tools, the arm64 image build, the SCP preflight.
    check_tools: bool = True
    probe: Callable[[list[str]], tuple[int, str]] = field(default=lambda argv: _probe(argv))
    # In a pipeline: no --profile on CDK calls (see Command.without_profile).
    ambient_credentials: bool = False
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
        if self.ambient_credentials:
            command = command.without_profile()
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


def require_tools(runner: Runner) -> None:
    if runner.dry_run or not runner.check_tools:
        return
    if not (runner.cwd / CDK_BIN).exists():
        raise DeployError("The CDK CLI is not installed: run `npm ci` in infra/ (make does it for you).")
