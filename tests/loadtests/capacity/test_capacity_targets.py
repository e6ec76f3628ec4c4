"""Scaling targets from a capacity measurement: the rules of infra/src/infra/scaling_targets.py."""

from __future__ import annotations

import pytest
from infra.scaling_targets import ScalingTargets, derive, task_capacity


def quota(vcpu: float, mix: float, listing: float, cpu_ms: float, ready_s: float = 5.0) -> dict:
    return {
        "vcpu": vcpu,
        "start_to_ready_s": ready_s,
        "rss_at_rest_mib": 110.0,
        "rss_peak_mib": 115.0,
        "workloads": {
            "mix": {"sustainable_rps": mix, "cpu_ms_per_request": cpu_ms, "levels": []},
            "list": {"sustainable_rps": listing, "cpu_ms_per_request": cpu_ms / 2, "levels": []},
        },
    }


MEASUREMENT = {
    "quotas": [quota(0.25, 250, 500, 1.0, 12), quota(0.5, 600, 900, 0.8, 6), quota(1.0, 550, 800, 0.9)]
}


def test_a_task_serves_the_best_figure_measured_at_its_size_or_below() -> None:
    quarter = task_capacity(MEASUREMENT, 256)
    assert (quarter.vcpu, quarter.mix_rps, quarter.start_to_ready_s) == (0.25, 250, 12)
    # 1 vCPU measured lower than 0.5: the host was the limit, so 0.5's figure stands.
    whole = task_capacity(MEASUREMENT, 1024)
    assert (whole.mix_rps, whole.list_rps, whole.mix_cpu_ms_per_request) == (600, 900, 0.9)
    with pytest.raises(ValueError, match=r"no measurement for 2\.0 vCPU"):
        task_capacity(MEASUREMENT, 2048)


def test_targets_from_the_rules() -> None:
    # 250 req/s x 60 x 0.4 = 6000 per target per minute = 100 req/s; at 1 ms each on 0.25 vCPU that is
    # 40 % CPU, +25 % = 50 %; 300 req/s at 100 req/s per task = 3 tasks.
    targets = derive(task_capacity(MEASUREMENT, 256), name="sandbox", protect_data=False,
                     peak_requests_per_second=300)  # fmt: skip
    assert targets == ScalingTargets(
        requests_per_target=6000, cpu_target_percent=50, min_tasks=1, max_tasks=3
    )


def test_min_tasks_is_two_where_data_is_protected_and_max_exceeds_min() -> None:
    targets = derive(
        task_capacity(MEASUREMENT, 512), name="prod", protect_data=True, peak_requests_per_second=1
    )
    assert (targets.min_tasks, targets.max_tasks) == (2, 3)
    assert derive(task_capacity(MEASUREMENT, 512), name="test", protect_data=False,
                  peak_requests_per_second=1).min_tasks == 2  # fmt: skip


def test_the_cpu_target_stays_within_bounds() -> None:
    costly = {"quotas": [quota(0.25, 250, 500, 4.0)]}
    cheap = {"quotas": [quota(0.25, 250, 500, 0.01)]}
    assert (
        derive(
            task_capacity(costly, 256), name="dev", protect_data=False, peak_requests_per_second=1
        ).cpu_target_percent
        == 80
    )
    assert (
        derive(
            task_capacity(cheap, 256), name="dev", protect_data=False, peak_requests_per_second=1
        ).cpu_target_percent
        == 20
    )
