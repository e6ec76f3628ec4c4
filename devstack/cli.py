"""`make dev`: the IdP, the Tasks API and the web front as local processes, stopped by one Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import httpx

from devstack import frontend_build
from devstack.config import FRONTEND_DIR, REPO, SEED_FILE, StackConfig, child_env, missing_services
from devstack.net import port_is_free
from devstack.processes import console_script
from devstack.seed import SeedError, read_seed
from devstack.supervisor import Console, Service, StackError, Supervisor

START_TIMEOUT = 60.0
REPEAT_SIGNAL_SECONDS = 1.0
DEFAULT_IDP_DATABASE = f"sqlite:///{REPO / '.dev' / 'idp.sqlite3'}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description=f'{__doc__} With make: make dev ARGS="--no-frontend --api-port 18080".',
    )
    for name, default, what in (
        ("idp", 9229, "the IdP"),
        ("api", 8080, "the Tasks API"),
        ("web", 8100, "the web app"),
    ):
        variable = f"{name.upper()}_PORT"
        raw = os.environ.get(variable, str(default))
        if not raw.isdigit():
            parser.error(f"{variable} must be a port number, not {raw!r}")
        parser.add_argument(
            f"--{name}-port",
            type=int,
            default=int(raw),
            metavar="PORT",
            help=f"{what}'s port (${variable}, {default})",
        )
    parser.add_argument("--no-frontend", action="store_true", help="run the IdP and the API only")
    parser.add_argument("--skip-build", action="store_true", help="serve frontend/dist as it is, without npm")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=REPO / ".dev",
        help="where the embedded databases live (default .dev/)",
    )
    args = parser.parse_args(argv)
    for name in ("idp_port", "api_port", "web_port"):
        port = getattr(args, name)
        if not 1 <= port <= 65535:
            parser.error(f"--{name.replace('_', '-')} must be between 1 and 65535, not {port}")
    ports = [args.idp_port, args.api_port] + ([] if args.no_frontend else [args.web_port])
    if len(set(ports)) != len(ports):
        parser.error(f"the ports must differ: {ports}")
    return args


_script = console_script  # a name of its own, so that the CLI tests can swap the services for fakes


def _issuer_check(expected: str):
    def check(response: httpx.Response) -> str | None:
        try:
            issuer = response.json().get("issuer")
        except ValueError:
            return "the discovery document is not JSON"
        if issuer != expected:
            return f"the discovery document's issuer is {issuer!r}, expected {expected!r}"
        return None

    return check


def totp_command(config: StackConfig) -> str:
    command = f"uv run idp totp {config.seed.demo_username}"
    if config.idp_database != DEFAULT_IDP_DATABASE:
        command = f"IDP_DATABASE_URL={config.idp_database} {command}"
    return command


def banner(config: StackConfig, frontend: bool) -> list[str]:
    lines = ["", "City Tasks is running. Press Ctrl-C once to stop everything.", ""]
    if frontend:
        lines.append(f"  Web app     {config.web_url}")
    lines += [
        f"  Tasks API   {config.api_url}   (docs {config.api_url}/docs)",
        f"  IdP         {config.idp_url}   (issuer {config.issuer})",
        "",
        f"  Demo login  {config.seed.demo_username} / {config.seed.demo_password}",
        f"  TOTP code   {totp_command(config)}",
        "",
    ]
    return lines


def run(args: argparse.Namespace, console: Console) -> int:
    missing = missing_services()
    if missing:
        console.say(f"cannot start: {' and '.join(missing)} is not installed yet (run `make install`).")
        return 2
    try:
        seed = read_seed(SEED_FILE)
    except SeedError as exc:
        console.say(f"cannot start: {exc}")
        return 2
    state_dir = args.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    config = StackConfig(
        seed=seed,
        state_dir=state_dir,
        idp_port=args.idp_port,
        api_port=args.api_port,
        web_port=args.web_port,
        database_url=os.environ.get("DATABASE_URL") or None,
        idp_database_url=os.environ.get("IDP_DATABASE_URL") or None,
    )
    wanted = [("IdP", args.idp_port, "--idp-port"), ("API", args.api_port, "--api-port")]
    if not args.no_frontend:
        wanted.append(("web", args.web_port, "--web-port"))
    busy = [
        f"{port} ({what}; choose another with {flag})"
        for what, port, flag in wanted
        if not port_is_free(port)
    ]
    if busy:
        console.say(f"cannot start: port already in use: {', '.join(busy)}")
        return 2

    supervisor = Supervisor(console)

    first_signal_at: list[float] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # One Ctrl-C can arrive twice: from the terminal and forwarded by `uv run`. Only a second press (a
        # repeat after a short pause) means "stop waiting, kill now".
        if first_signal_at:
            if time.monotonic() - first_signal_at[0] < REPEAT_SIGNAL_SECONDS:
                return
            console.say("second Ctrl-C: killing every service now")
            supervisor.kill_all()
            os._exit(130)
        first_signal_at.append(time.monotonic())
        supervisor.stop_signal = signal.Signals(signum).name
        supervisor.stop_requested.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    dist: Path | None = None
    if not args.no_frontend:
        if not args.skip_build:
            frontend_build.build(FRONTEND_DIR, lambda line: console.line("web-build", line))
            if supervisor.stop_requested.is_set():
                return 130
        dist = FRONTEND_DIR / "dist" if (FRONTEND_DIR / "dist" / "index.html").is_file() else None

    base = dict(os.environ)
    try:
        idp = supervisor.start(
            Service(
                "idp",
                [*_script("idp"), "serve"],
                child_env(base, config.idp_env(), drop=("DATABASE_URL", "DB_SECRET")),
                REPO,
            )
        )
        # The services boot side by side (the API fetches the IdP's keys only when a token arrives, and the
        # web front reaches the API only per request); then each must prove healthy before the banner.
        api_env = child_env(base, config.api_env())
        supervisor.run_once(
            Service("migrate", [*_script("tasks-api"), "migrate"], api_env, REPO), START_TIMEOUT
        )
        api = supervisor.start(Service("api", [*_script("tasks-api"), "serve"], api_env, REPO))
        web = None
        if not args.no_frontend:
            web = supervisor.start(
                Service(
                    "web",
                    [sys.executable, "-m", "devstack.webserver"],
                    child_env(base, config.web_env(dist)),
                    REPO,
                )
            )
        supervisor.wait_healthy(idp, config.idp_health_url, START_TIMEOUT, _issuer_check(config.issuer))
        supervisor.wait_healthy(api, config.api_health_url, START_TIMEOUT)
        if web is not None:
            supervisor.wait_healthy(web, config.web_health_url, START_TIMEOUT)
            if dist is None:
                console.say("no frontend build to serve: the web port shows how to build it; /api is proxied")
        for line in banner(config, frontend=not args.no_frontend):
            console.say(line)
        died = supervisor.watch()
        if died is not None:
            raise StackError(
                f"{died.name} stopped on its own (exit code {died.exited()}); its output is above"
            )
        return 0
    except KeyboardInterrupt:
        return 0
    except StackError as exc:
        console.say(f"error: {exc}")
        return 1
    finally:
        if supervisor.stop_requested.is_set():
            console.say(f"{supervisor.stop_signal} received: stopping")
        supervisor.stop_all()
        console.say("stopped")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run(args, Console())
