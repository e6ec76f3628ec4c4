"""Confine a process to a fraction of a CPU with a cgroup CPU quota, the way Fargate confines a task.

A task of 256 CPU units gets 0.25 vCPU: the kernel's CFS bandwidth control lets it run 25 ms in every
100 ms period and throttles it for the rest. cgroup v2 (``cpu.max``) when the unified hierarchy has the cpu
controller, else v1 (``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``). Needs write access to /sys/fs/cgroup
(root, as in CI).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000


def _v2_root() -> Path | None:
    controllers = CGROUP_ROOT / "cgroup.controllers"
    if controllers.exists() and "cpu" in controllers.read_text().split():
        return CGROUP_ROOT
    return None


def _v1_root() -> Path | None:
    for name in ("cpu", "cpu,cpuacct"):
        root = CGROUP_ROOT / name
        if (root / "cpu.cfs_quota_us").exists():
            return root
    return None


def available() -> str | None:
    """Why a CPU quota cannot be set here, or None when it can."""
    root = _v2_root() or _v1_root()
    if root is None:
        return "no cgroup cpu controller under /sys/fs/cgroup"
    if not os.access(root, os.W_OK):
        return f"{root} is not writable (run as root)"
    return None


@contextlib.contextmanager
def cpu_quota(name: str, vcpu: float) -> Iterator[Path]:
    """A cgroup limited to ``vcpu`` CPUs; add processes with ``add(group, pid)``. Removed on exit (the
    processes in it must have ended by then)."""
    if vcpu <= 0:
        raise ValueError("vcpu must be positive")
    quota = round(vcpu * PERIOD_US)
    v2 = _v2_root()
    root = v2 or _v1_root()
    if root is None:
        raise RuntimeError(available() or "no cgroup cpu controller")
    group = root / name
    group.mkdir(exist_ok=True)
    try:
        if v2 is not None:
            (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        else:
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        yield group
    finally:
        for _ in range(50):  # the last process may take a moment to leave
            try:
                group.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def add(group: Path, pid: int) -> None:
    (group / "cgroup.procs").write_text(str(pid))


def throttled_seconds(group: Path) -> float:
    """Time the group spent throttled (it wanted CPU beyond its quota)."""
    for line in (group / "cpu.stat").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "throttled_time":  # v1, nanoseconds
            return int(value) / 1e9
        if key == "throttled_usec":  # v2
            return int(value) / 1e6
    return 0.0
