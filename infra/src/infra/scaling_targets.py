"""The Tasks service's scaling targets, derived from a recorded capacity measurement.

The measurement (``python -m loadtests.capacity.measure --record``) is kept in
``infra/config/capacity-measured.json``; ``infra/config/environments.yaml`` beside it carries the targets
this module derives from it, with a comment naming the measurement (its ``measured_at``).
``tests/infra/test_scaling_targets.py`` fails when the two drift: edit the config without a new
measurement, or record one without updating the config, and it says which values to write.

The rules:

- **requests per target** (``ALBRequestCountPerTarget``, per target per minute): ``HEADROOM`` (0.4) of one
  task's sustainable throughput on the Locust mix at the task's CPU size (``task_capacity``), rounded
  down to 10. Why 0.4: the
  step shape's worst step (one task to two, each step 25 % above a task's target) puts 2.5x the target on
  the running task until the new one is healthy; 2.5 x 0.4 = 1.0, the sustainable rate.
- **CPU target**: the CPU the request target itself implies (requests/s at the target x measured CPU per
  request / the task's vCPU) plus 25 %, rounded to 5 and kept within 20-80 %: the request policy leads, and
  the CPU policy scales out when requests turn costlier than the measured mix.
- **min tasks**: availability, not capacity: 2 (one per AZ) where the environment protects data or is
  ``test``, else 1.
- **max tasks**: enough tasks at the request target for the environment's planned peak
  (``service.peak_requests_per_second``), at least min + 1 so a scale-out can happen.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MEASUREMENT_FILE = Path(__file__).resolve().parents[2] / "config" / "capacity-measured.json"
HEADROOM = 0.4
CPU_MARGIN = 1.25
CPU_TARGET_RANGE = (20, 80)


@dataclass(frozen=True)
class TaskCapacity:
    vcpu: float
    mix_rps: float
    list_rps: float
    mix_cpu_ms_per_request: float
    start_to_ready_s: float
    rss_peak_mib: float


@dataclass(frozen=True)
class ScalingTargets:
    requests_per_target: int
    cpu_target_percent: int
    min_tasks: int
    max_tasks: int


def load_measurement(path: Path = MEASUREMENT_FILE) -> dict[str, Any]:
    return json.loads(path.read_text())


def task_capacity(measurement: dict[str, Any], cpu_units: int) -> TaskCapacity:
    """The measured figures for a task of ``cpu_units`` (1024 = 1 vCPU). Throughput is the best measured at
    this quota or a smaller one: a task with more CPU does not serve less, and a lower figure at a larger
    quota means the shared host (load generator, PostgreSQL, other work) was the limit, not the task."""
    vcpu = cpu_units / 1024
    quotas = {round(q["vcpu"], 4): q for q in measurement["quotas"]}
    quota = quotas.get(round(vcpu, 4))
    if quota is None:
        raise ValueError(
            f"no measurement for {vcpu} vCPU (cpu {cpu_units}); measured: {', '.join(map(str, quotas))}"
        )
    smaller = [q for v, q in quotas.items() if v <= vcpu]

    def best(workload: str) -> float:
        return max(float(q["workloads"][workload]["sustainable_rps"]) for q in smaller)

    return TaskCapacity(
        vcpu=vcpu,
        mix_rps=best("mix"),
        list_rps=best("list"),
        mix_cpu_ms_per_request=float(quota["workloads"]["mix"]["cpu_ms_per_request"]),
        start_to_ready_s=float(quota["start_to_ready_s"]),
        rss_peak_mib=float(quota["rss_peak_mib"]),
    )


def derive(
    capacity: TaskCapacity, *, name: str, protect_data: bool, peak_requests_per_second: float
) -> ScalingTargets:
    per_minute = capacity.mix_rps * 60 * HEADROOM
    requests_per_target = int(per_minute // 10 * 10)
    if requests_per_target < 10:
        raise ValueError(f"{capacity.vcpu} vCPU sustains {capacity.mix_rps} req/s: too little to scale on")
    target_rps = requests_per_target / 60
    cpu_at_target = target_rps * capacity.mix_cpu_ms_per_request / (capacity.vcpu * 1000) * 100
    low, high = CPU_TARGET_RANGE
    cpu_target = min(high, max(low, 5 * round(cpu_at_target * CPU_MARGIN / 5)))
    min_tasks = 2 if protect_data or name == "test" else 1
    max_tasks = max(min_tasks + 1, math.ceil(peak_requests_per_second / target_rps))
    return ScalingTargets(requests_per_target, cpu_target, min_tasks, max_tasks)
