"""The CPU quota really confines a process: a busy loop in a 0.2 vCPU group gets about a fifth of a core."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from loadtests.capacity import cgroup_cpu
from loadtests.capacity.measure import cpu_seconds


def test_a_busy_loop_under_a_fifth_of_a_cpu_gets_about_a_fifth() -> None:
    if reason := cgroup_cpu.available():
        pytest.fail(f"the capacity measurement needs a CPU quota: {reason}")
    with cgroup_cpu.cpu_quota(f"city-test-{os.getpid()}", 0.2) as group:
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            cgroup_cpu.add(group, busy.pid)
            start_cpu, start = cpu_seconds(busy.pid), time.monotonic()
            time.sleep(2.0)
            share = (cpu_seconds(busy.pid) - start_cpu) / (time.monotonic() - start)
            throttled = cgroup_cpu.throttled_seconds(group)
        finally:
            busy.kill()
            busy.wait()
    # Only the ceiling is certain on a busy machine: with other work on both cores the loop may get less
    # than its fifth, but never more, and the group must have been held back at least once.
    assert 0.0 < share < 0.3  # unconfined on a quiet machine it would take a whole core
    assert throttled > 0.0


def test_a_quota_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"), cgroup_cpu.cpu_quota("city-never", 0):
        pass
