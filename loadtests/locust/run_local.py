"""``make load ENV=local``: start the real local stack, run Locust headless for a bounded time, judge it.

Starts PostgreSQL (``DATABASE_URL`` when set, else a throwaway cluster), the local IdP and the Tasks API
on free 127.0.0.1 ports, creates a pool of users with TOTP MFA, runs Locust and writes the CSV files and
the HTML report to ``loadtests/reports/``. Exits 1 when a threshold is broken.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from devstack.config import missing_services
from devstack.headless import HeadlessConfig, HeadlessStack
from devstack.net import free_port
from loadtests.locust.runner import ROOT, RunSpec, run_locust
from loadtests.locust.thresholds import Thresholds
from loadtests.locust.users import PoolCreator, cognito_client, save_pool

REPORTS = ROOT / "loadtests" / "reports"


@contextlib.contextmanager
def database() -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    from tests.support.postgres import ThrowawayPostgres

    with ThrowawayPostgres() as server:
        yield server.create_database()


def create_pool(stack: HeadlessStack, count: int, path: Path) -> None:
    cognito = cognito_client(stack.idp_url, stack.seed.region)
    creator = PoolCreator(cognito, stack.seed.pool_id, stack.seed.web_client_id)
    save_pool(path, creator.create_many(count))


def locust_settings(stack: HeadlessStack, pool_file: Path, args: argparse.Namespace) -> dict[str, str]:
    settings = {
        "LOAD_POOL_FILE": str(pool_file),
        "LOAD_IDP_ENDPOINT": stack.idp_url,
        "LOAD_USER_POOL_ID": stack.seed.pool_id,
        "LOAD_CLIENT_ID": stack.seed.web_client_id,
        "LOAD_THINK_MIN": str(args.think_min),
        "LOAD_THINK_MAX": str(args.think_max),
        "LOAD_ENV": "local",
    }
    if args.shape:
        settings["LOAD_SHAPE"] = args.shape
        settings["LOAD_USERS"] = str(args.users)
        settings["LOAD_SPAWN_RATE"] = str(args.spawn_rate)
        settings["LOAD_DURATION"] = str(args.duration)
    if args.machine_weight and stack.seed.machine_client_id and stack.seed.machine_client_secret:
        settings.update(
            {
                "LOAD_M2M_TOKEN_URL": f"{stack.idp_url}/oauth2/token",
                "LOAD_M2M_CLIENT_ID": stack.seed.machine_client_id,
                "LOAD_M2M_CLIENT_SECRET": stack.seed.machine_client_secret,
                "LOAD_M2M_SCOPE": stack.seed.machine_scope or "",
                "LOAD_M2M_WEIGHT": str(args.machine_weight),
            }
        )
    return settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Load-test the real local stack (127.0.0.1 only).")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=float, default=2, help="users/s (each one signs in)")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load (hard bound)")
    parser.add_argument(
        "--shape", choices=["steady", "spike", "soak", "step"], help="default: Locust's -u/-r/-t"
    )
    parser.add_argument("--think-min", type=float, default=1.0)
    parser.add_argument("--think-max", type=float, default=3.0)
    parser.add_argument(
        "--machine-weight", type=int, default=1, help="client_credentials users per 10 people"
    )
    parser.add_argument("--p95-ms", type=float, default=1000, help="per API endpoint (a shared 2-core box)")
    parser.add_argument("--max-failures", type=int, default=0)
    parser.add_argument("--prefix", default="local", help="file name prefix under loadtests/reports/")
    parser.add_argument("--reports-dir", type=Path, default=REPORTS)
    parser.add_argument("--workers", type=int, default=0, help="distributed mode: a master and N workers")
    args = parser.parse_args(argv)
    if args.users < 1 or args.duration < 1:
        parser.error("--users and --duration must be at least 1")
    if args.think_max < args.think_min:
        parser.error("--think-max must be >= --think-min")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if missing := missing_services():
        print(f"run_local: {' and '.join(missing)} not installed; run `make install`", file=sys.stderr)
        return 2
    args.reports_dir.mkdir(parents=True, exist_ok=True)
    # The stack's logs and the IdP's database live next to the reports, fresh for every run.
    workdir = args.reports_dir / f"stack-{args.prefix}"
    shutil.rmtree(workdir, ignore_errors=True)
    with contextlib.ExitStack() as resources:
        url = resources.enter_context(database())
        stack = resources.enter_context(HeadlessStack(HeadlessConfig(database_url=url, workdir=workdir)))
        started = time.monotonic()
        pool_file = args.reports_dir / f".pool-{args.prefix}.json"
        create_pool(stack, args.users, pool_file)
        print(f"stack up (API {stack.api_url}, IdP {stack.idp_url}); {args.users} users created in "
              f"{time.monotonic() - started:.1f} s; running Locust for {args.duration} s")  # fmt: skip
        spec = RunSpec(
            host=stack.api_url,
            csv_prefix=args.reports_dir / args.prefix,
            users=args.users,
            spawn_rate=args.spawn_rate,
            duration_s=args.duration,
            thresholds=Thresholds(max_failures=args.max_failures, p95_ms=args.p95_ms),
            settings=locust_settings(stack, pool_file, args),
            workers=args.workers,
            master_port=free_port() if args.workers else 5557,
        )
        result = run_locust(spec)
    print(result.table)
    print("load average (1/5/15 min) at the end: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    for line in result.broken:
        print(f"THRESHOLD BROKEN: {line}", file=sys.stderr)
    print(f"CSV: {spec.csv_prefix}_*.csv  HTML: {spec.html_report}")
    if result.passed:
        print(f"PASSED: at most {args.max_failures} failures, p95 <= {args.p95_ms:.0f} ms on every endpoint")
        return 0
    print(f"FAILED (Locust exit code {result.exit_code})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
