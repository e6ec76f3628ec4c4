"""The ALB profile read from a Tasks template, and its bounded (time-scaled) form."""

from __future__ import annotations

import pytest

from loadtests.rollout.alb import AlbProfile, from_template


def template(lb_attributes: list[dict] | None = None, env: list[dict] | None = None) -> dict:
    return {
        "Resources": {
            "Group": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {
                    "HealthCheckPath": "/health/ready",
                    "HealthCheckIntervalSeconds": 15,
                    "HealthCheckTimeoutSeconds": 10,
                    "HealthyThresholdCount": 3,
                    "UnhealthyThresholdCount": 2,
                    "Matcher": {"HttpCode": "200"},
                    "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "10"}],
                },
            },
            "Lb": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {"LoadBalancerAttributes": lb_attributes or []},
            },
            "Task": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "ContainerDefinitions": [
                        {
                            "StopTimeout": 20,
                            "Environment": env or [],
                            "PortMappings": [{"ContainerPort": 8080}],
                        }
                    ]
                },
            },
            "Worker": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {"ContainerDefinitions": [{"StopTimeout": 40, "Command": ["worker"]}]},
            },
        }
    }


def test_the_profile_comes_from_the_target_group_and_the_container() -> None:
    settings = {"DRAIN_SECONDS": 5, "GRACEFUL_SHUTDOWN_SECONDS": 10, "MIGRATE_ON_START": "false",
                "SCHEDULER_ENABLED": "false"}  # fmt: skip
    env = [{"Name": name, "Value": str(value)} for name, value in settings.items()]
    profile = from_template(template(env=env))
    assert profile == AlbProfile("/health/ready", "200", 15, 10, 3, 2, 10, 60, 5, 10, 20, False, False)
    idle = [{"Key": "idle_timeout.timeout_seconds", "Value": "120"}]
    assert from_template(template(lb_attributes=idle)).idle_timeout_s == 120


def test_the_bounded_form_scales_durations_but_not_thresholds_or_idle_timeout() -> None:
    profile = from_template(template()).scaled(0.1)
    assert (profile.interval_s, profile.deregistration_delay_s, profile.stop_timeout_s) == pytest.approx(
        (1.5, 1, 2)
    )
    assert profile.timeout_s < profile.interval_s
    assert (profile.healthy_threshold, profile.unhealthy_threshold, profile.idle_timeout_s) == (3, 2, 60)
    with pytest.raises(ValueError, match="time factor"):
        profile.scaled(2)
