"""The Tasks service's scaling targets in infra/config/environments.yaml are the ones derived from the
recorded capacity measurement (infra/config/capacity-measured.json), and the file names that measurement.

Changing a target by hand, or recording a new measurement without updating the config, fails here with the
values to write. A new measurement: `uv run python -m loadtests.capacity.measure --record`
(docs/performance.md).
"""

from __future__ import annotations

import pytest
from infra.environments import CONFIG_FILE, Environment
from infra.scaling_targets import ScalingTargets, derive, load_measurement, task_capacity


@pytest.fixture(scope="module")
def measurement() -> dict:
    return load_measurement()


def test_the_config_names_the_recorded_measurement(measurement: dict) -> None:
    stamp = f"capacity measured {measurement['measured_at']}"
    assert stamp in CONFIG_FILE.read_text(), (
        f"{CONFIG_FILE.name} must say which measurement its scaling targets come from: add '{stamp}' to the "
        "comment above the environments, with the targets `python -m loadtests.capacity.measure "
        "--from-report infra/config/capacity-measured.json` prints"
    )


@pytest.mark.parametrize("name", ["sandbox", "dev", "test", "prod"])
def test_scaling_targets_follow_the_measurement(
    name: str, environments: dict[str, Environment], measurement: dict
) -> None:
    env = environments[name]
    sizes = env.service
    assert sizes.peak_requests_per_second, f"{name}: service.peak_requests_per_second sizes max_tasks"
    expected = derive(
        task_capacity(measurement, sizes.cpu),
        name=name,
        protect_data=env.protect_data,
        peak_requests_per_second=sizes.peak_requests_per_second,
    )
    configured = ScalingTargets(sizes.requests_per_target or 0, sizes.cpu_target_percent, sizes.min_tasks,
                                sizes.max_tasks)  # fmt: skip
    assert configured == expected, f"{name}: write {expected} in {CONFIG_FILE.name} (or measure again)"


def test_the_synthesized_policy_carries_the_configured_targets(synth_env) -> None:
    synth = synth_env("prod")
    sizes = synth.config.service
    policies = {
        p["Properties"]["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"][
            "PredefinedMetricType"
        ]: p["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        for p in synth.resources("Tasks", "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }
    assert policies["ALBRequestCountPerTarget"]["TargetValue"] == sizes.requests_per_target
    assert policies["ECSServiceAverageCPUUtilization"]["TargetValue"] == sizes.cpu_target_percent
    for policy in policies.values():
        assert policy["ScaleOutCooldown"] == sizes.scale_out_cooldown_seconds
        assert policy["ScaleInCooldown"] == sizes.scale_in_cooldown_seconds
