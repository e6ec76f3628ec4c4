"""Running Locust headless as a bounded subprocess and judging the result against thresholds."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from devstack.config import REPO
from devstack.processes import spawn, stop_group
from loadtests.locust.thresholds import Thresholds, format_table, read_stats_csv, violations

ROOT = REPO
LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclass
class RunSpec:
    host: str
    csv_prefix: Path  # Locust writes <prefix>_stats.csv, _failures.csv, _stats_history.csv ...
    users: int = 10
    spawn_rate: float = 5.0
    duration_s: int = 60
    thresholds: Thresholds = field(default_factory=Thresholds)
    settings: dict[str, str] = field(default_factory=dict)  # LOAD_* for the locustfile
    html: bool = True
    extra_args: list[str] = field(default_factory=list)
    workers: int = 0  # > 0: a master and this many worker processes (distributed mode on one machine)
    master_port: int = 5557

    @property
    def stats_csv(self) -> Path:
        return Path(f"{self.csv_prefix}_stats.csv")

    @property
    def html_report(self) -> Path:
        return Path(f"{self.csv_prefix}.html")


def locust_command(spec: RunSpec) -> list[str]:
    command = [
        sys.executable, "-m", "locust",
        "-f", str(LOCUSTFILE),
        "--headless",
        "--host", spec.host,
        "--users", str(spec.users),
        "--spawn-rate", str(spec.spawn_rate),
        "--run-time", f"{spec.duration_s}s",  # a hard bound, also when a shape drives the users
        "--stop-timeout", "5",
        "--csv", str(spec.csv_prefix),
        "--only-summary",
        "--loglevel", "WARNING",
    ]  # fmt: skip
    if spec.html:
        command += ["--html", str(spec.html_report)]
    if spec.workers:
        command += [
            "--master",
            "--expect-workers", str(spec.workers),
            "--expect-workers-max-wait", "60",
            "--master-bind-host", "127.0.0.1",
            "--master-bind-port", str(spec.master_port),
        ]  # fmt: skip
    return command + spec.extra_args


def worker_command(master_host: str = "127.0.0.1", master_port: int = 5557) -> list[str]:
    """A worker: it takes the users, the shape and the run time from the master."""
    return [
        sys.executable, "-m", "locust",
        "-f", str(LOCUSTFILE),
        "--worker",
        "--master-host", master_host,
        "--master-port", str(master_port),
        "--loglevel", "WARNING",
    ]  # fmt: skip


def locust_environment(spec: RunSpec) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOAD_")}
    env.update(spec.settings)
    env["LOAD_P95_MS"] = str(spec.thresholds.p95_ms)
    env["LOAD_MAX_FAILURES"] = str(spec.thresholds.max_failures)
    env["LOAD_AUTH_P95_MS"] = str(spec.thresholds.auth_p95_ms)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if spec.workers:
        env["LOAD_WORKERS"] = str(spec.workers)  # workers take disjoint slices of the user pool
    return env


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    broken: list[str]
    table: str

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.broken


def run_locust(spec: RunSpec, grace_s: float = 60.0) -> RunResult:
    """Run Locust to completion (killed after the run time plus ``grace_s``) and check the thresholds."""
    spec.csv_prefix.parent.mkdir(parents=True, exist_ok=True)
    env = locust_environment(spec)
    workers = [
        spawn(worker_command("127.0.0.1", spec.master_port), stdout=None, env=env, cwd=ROOT)
        for _ in range(spec.workers)
    ]
    try:
        done = subprocess.run(
            locust_command(spec), cwd=ROOT, env=env, timeout=spec.duration_s + grace_s, check=False
        )
        exit_code = done.returncode
    except subprocess.TimeoutExpired:
        return RunResult(124, [f"Locust did not finish within {spec.duration_s + grace_s:.0f} s"], "")
    finally:
        _stop(workers)
    if not spec.stats_csv.exists():
        return RunResult(exit_code or 1, [f"Locust wrote no {spec.stats_csv}"], "")
    rows = read_stats_csv(spec.stats_csv)
    return RunResult(exit_code, violations(rows, spec.thresholds), format_table(rows))


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """Workers quit when the master does; stop any that did not within a few seconds."""
    for proc in processes:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop_group(proc, grace=5)
