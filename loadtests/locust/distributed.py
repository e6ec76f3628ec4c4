"""Distributed Locust runs for when one load machine cannot generate enough load.

One master aggregates the statistics and applies the thresholds; workers simulate the users. Every
machine needs this repository (``uv sync --all-packages``), the same ``LOAD_*`` settings and, for people,
a copy of the user-pool file (workers take disjoint slices of it: set ``LOAD_WORKERS`` to the total).

    # on the master (binds 127.0.0.1 unless --bind says otherwise)
    python -m loadtests.locust.distributed master --host https://api.example.com --workers 4 --users 400 \\
        --spawn-rate 20 --duration 900 --bind 10.0.0.5
    # on each worker machine
    python -m loadtests.locust.distributed worker --master-host 10.0.0.5 --workers 4

On one machine, ``make load ENV=local LOAD_ARGS="--workers 2"`` runs a master and two workers itself.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from loadtests.locust.runner import ROOT, RunSpec, locust_command, locust_environment, worker_command
from loadtests.locust.thresholds import Thresholds


def master_command(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    spec = RunSpec(
        host=args.host,
        csv_prefix=Path(args.csv_prefix),
        users=args.users,
        spawn_rate=args.spawn_rate,
        duration_s=args.duration,
        thresholds=Thresholds(max_failures=args.max_failures, p95_ms=args.p95_ms),
        settings={k: v for k, v in os.environ.items() if k.startswith("LOAD_")},
        workers=args.workers,
        master_port=args.port,
    )
    command = locust_command(spec)
    # Other machines must reach the master: bind where asked (the runner's default is loopback only).
    command[command.index("--master-bind-host") + 1] = args.bind
    return command, locust_environment(spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a Locust master or worker for a distributed load test.")
    sub = parser.add_subparsers(dest="role", required=True)
    master = sub.add_parser("master")
    master.add_argument("--host", required=True, help="the API base URL")
    master.add_argument("--workers", type=int, required=True)
    master.add_argument("--users", type=int, default=100)
    master.add_argument("--spawn-rate", type=float, default=10)
    master.add_argument("--duration", type=int, default=300)
    master.add_argument("--p95-ms", type=float, default=500)
    master.add_argument("--max-failures", type=int, default=0)
    master.add_argument("--bind", default="127.0.0.1", help="address the workers connect to")
    master.add_argument("--port", type=int, default=5557)
    master.add_argument("--csv-prefix", default=str(ROOT / "loadtests" / "reports" / "distributed"))
    worker = sub.add_parser("worker")
    worker.add_argument("--master-host", default="127.0.0.1")
    worker.add_argument("--port", type=int, default=5557)
    worker.add_argument("--workers", type=int, required=True, help="how many workers in total (pool slices)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")

    if args.role == "master":
        command, env = master_command(args)
        timeout = args.duration + 180  # the run time, the workers' arrival (60 s) and the shutdown
    else:
        command = worker_command(args.master_host, args.port)
        env = {**os.environ, "LOAD_WORKERS": str(args.workers)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        timeout = None  # a worker lives as long as its master; stop it with Ctrl-C
    print(" ".join(command), file=sys.stderr)
    return subprocess.run(command, cwd=ROOT, env=env, timeout=timeout, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
