"""`city-org`: plan, apply, drift and suspend for the organization described in organization.yaml."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from city_org.apply import Applier
from city_org.aws import OrgClients, make_org_clients
from city_org.diff import drift, plan
from city_org.errors import CityOrgError, SpecError
from city_org.messages import botocore_error_message, client_error_message
from city_org.printer import drift_json, plan_json, render_drift, render_plan
from city_org.spec import load_spec
from city_org.state import read_state
from city_org.suspend import reinstate_account, suspend_account

DEFAULT_SPEC = "infra/org/organization.yaml"
EXIT_PENDING = 2

ClientsFactory = Callable[[argparse.Namespace], OrgClients]


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--spec", default=os.environ.get("CITY_ORG_SPEC", DEFAULT_SPEC), help="organization YAML"
    )
    common.add_argument("--profile", help="AWS profile (default: AWS_PROFILE)")
    common.add_argument("--region", help="AWS region for Identity Center (default: the profile's)")
    common.add_argument("--endpoint-url", help="AWS endpoint (default: AWS_ENDPOINT_URL)")
    parser = argparse.ArgumentParser(prog="city-org", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("validate", parents=[common], help="check the spec and policy files; no AWS calls")
    show = commands.add_parser("plan", parents=[common], help="show what apply would change")
    show.add_argument("--json", action="store_true", help='print {"changes": [...]}')
    show.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when changes are pending")
    show.add_argument("--no-color", action="store_true")
    run = commands.add_parser("apply", parents=[common], help="make AWS match the spec")
    run.add_argument(
        "--allow-delete",
        nargs="?",
        const=-1,
        type=_deletions,
        default=None,
        metavar="N",
        help="also delete what the spec no longer holds (never what it lists under protected:); with "
        "--auto-approve the number of deletions must be given: --allow-delete=N",
    )
    run.add_argument("--auto-approve", action="store_true", help="do not ask before applying")
    look = commands.add_parser("drift", parents=[common], help="list what AWS holds that the spec does not")
    look.add_argument("--json", action="store_true", help='print {"drift": [...]}')
    look.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when drift is found")
    quarantine = commands.add_parser("suspend", parents=[common], help="move an account to the suspended OU")
    quarantine.add_argument("account", help="account name or id")
    quarantine.add_argument("--reason", required=True, help="why (stored as a tag on the account)")
    restore = commands.add_parser("reinstate", parents=[common], help="lift a suspension (then run apply)")
    restore.add_argument("account", help="account name or id")
    return parser


def _deletions(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected the number of deletions, got {value!r}")
    return int(value)


def _check_deletions(allowed: int | None, auto_approve: bool, deletions: int) -> None:
    """An unattended apply deletes only when the command line names how many deletions it expects."""
    if allowed is None or deletions == 0:
        return
    if allowed == -1 and auto_approve:
        raise CityOrgError(
            f"this apply would delete {deletions} thing(s) unattended; read the plan above and confirm the "
            f"number with --allow-delete={deletions} (nothing was applied)"
        )
    if allowed >= 0 and allowed != deletions:
        raise CityOrgError(
            f"--allow-delete={allowed}, but the plan deletes {deletions} thing(s); check the spec for a typo "
            "and read the plan above (nothing was applied)"
        )


def _default_clients(args: argparse.Namespace) -> OrgClients:
    return make_org_clients(args.profile, args.region, args.endpoint_url)


def _run(
    args: argparse.Namespace, clients_factory: ClientsFactory, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    spec = load_spec(Path(args.spec))
    if args.command == "validate":
        print(
            f"{args.spec}: valid ({len(spec.ous)} OUs, {len(spec.scps)} SCPs, {len(spec.accounts)} accounts)",
            file=out,
        )
        return 0
    clients = clients_factory(args)
    state = read_state(clients)
    if state.instance_arn is None and spec.manages_identity_center:
        # on stderr, so that `plan --json` output stays parseable
        print("warning: no IAM Identity Center instance found; Identity Center is not planned", file=err)
    if args.command == "plan":
        changes = plan(spec, state)
        print(
            plan_json(changes)
            if args.json
            else render_plan(changes, colour=out.isatty() and not args.no_color),
            file=out,
        )
        return EXIT_PENDING if args.detailed_exitcode and changes else 0
    if args.command == "drift":
        findings = drift(spec, state)
        print(drift_json(findings) if args.json else render_drift(findings), file=out)
        return EXIT_PENDING if args.detailed_exitcode and findings else 0
    if args.command == "suspend":
        suspend_account(clients, spec, state, args.account, args.reason, out=out)
        return 0
    if args.command == "reinstate":
        reinstate_account(clients, state, args.account, out=out)
        return 0
    changes = plan(spec, state)
    print(render_plan(changes), file=out)
    if not changes:
        return 0
    _check_deletions(args.allow_delete, args.auto_approve, sum(c.action == "delete" for c in changes))
    if not args.auto_approve:
        print("Apply these changes? Only 'yes' is accepted: ", end="", file=out, flush=True)
        if stdin.readline().strip() != "yes":
            print("Nothing applied.", file=out)
            return 1
    allow_delete = args.allow_delete is not None
    result = Applier(clients, spec, state, allow_delete=allow_delete, out=out).apply(changes)
    print(f"Applied {len(result.applied)} change(s); skipped {len(result.skipped)} deletion(s).", file=out)
    return 0


def main(
    argv: Sequence[str] | None = None,
    *,
    clients_factory: ClientsFactory = _default_clients,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    out, err, stdin = out or sys.stdout, err or sys.stderr, stdin or sys.stdin
    args = _parser().parse_args(argv)
    try:
        return _run(args, clients_factory, out, err, stdin)
    except SpecError as error:
        print(f"city-org: the spec has {len(error.problems)} problem(s):", file=err)
        for problem in error.problems:
            print(f"  {problem}", file=err)
        return error.exit_code
    except CityOrgError as error:
        print(f"city-org: {error}", file=err)
        return error.exit_code
    except ClientError as error:
        print(f"city-org: {client_error_message(error)}", file=err)
        return 1
    except BotoCoreError as error:
        print(f"city-org: {botocore_error_message(error)}", file=err)
        return 1
    except KeyboardInterrupt:
        print("city-org: interrupted; run plan to see what is left", file=err)
        return 130


if __name__ == "__main__":
    sys.exit(main())
