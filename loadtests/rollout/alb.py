"""What the deployed ALB and ECS do with a target, read from the synthesized Tasks template.

Health checks (path, interval, timeout, thresholds, expected code), the deregistration delay, the idle
timeout, the task's shutdown timing (``DRAIN_SECONDS`` and ``GRACEFUL_SHUTDOWN_SECONDS`` in the container's
environment, ``StopTimeout``) and whether a task migrates on start (``MIGRATE_ON_START``).
``scaled()`` shortens every duration by one factor for the bounded CI form; the thresholds stay.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from loadtests.capacity.tasks_template import Template, one_resource, resources

ALB_DEFAULT_IDLE_TIMEOUT_S = 60.0  # when the template sets no idle_timeout.timeout_seconds attribute
ECS_DEFAULT_STOP_TIMEOUT_S = 30.0  # Fargate's default when the container sets no StopTimeout
APP_DEFAULT_GRACEFUL_SHUTDOWN_S = 10.0  # the API's own default (settings.graceful_shutdown_seconds)


@dataclass(frozen=True)
class AlbProfile:
    health_path: str
    healthy_codes: str
    interval_s: float
    timeout_s: float
    healthy_threshold: int
    unhealthy_threshold: int
    deregistration_delay_s: float
    idle_timeout_s: float
    drain_s: float
    graceful_shutdown_s: float
    stop_timeout_s: float
    # False: the deploy migrates once in a one-off task before the service update, not on container start.
    migrate_on_start: bool
    # False: the scheduler is its own service (``tasks-api worker``), not a loop inside the API tasks.
    scheduler_in_api: bool = True

    def scaled(self, factor: float) -> AlbProfile:
        """Every duration but the idle timeout times ``factor`` (the bounded form runs the same sequence
        faster); a health check's timeout stays below its interval."""
        if not 0 < factor <= 1:
            raise ValueError(f"the time factor must be in (0, 1], got {factor}")
        interval = self.interval_s * factor
        return replace(
            self,
            interval_s=interval,
            timeout_s=min(self.timeout_s * factor, interval * 0.8),
            deregistration_delay_s=self.deregistration_delay_s * factor,
            drain_s=self.drain_s * factor,
            graceful_shutdown_s=self.graceful_shutdown_s * factor,
            stop_timeout_s=self.stop_timeout_s * factor,
        )

    @property
    def seconds_to_healthy(self) -> float:
        """A new target's least time from its first passing check to healthy."""
        return self.interval_s * (self.healthy_threshold - 1)


def _attributes(props: dict[str, Any], key: str) -> dict[str, str]:
    return {item["Key"]: str(item["Value"]) for item in props.get(key, []) if "Key" in item}


def api_target_group(template: Template) -> dict[str, Any]:
    groups = [
        body["Properties"]
        for body in resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup").values()
        if body["Properties"].get("HealthCheckPath")
    ]
    if len(groups) != 1:
        raise ValueError(f"expected one target group with a health check path, found {len(groups)}")
    return groups[0]


def api_task_definition(template: Template) -> dict[str, Any]:
    """The API's task definition: the one whose container takes traffic (has a port mapping); the
    scheduler worker's has none."""
    found = [
        body["Properties"]
        for body in resources(template, "AWS::ECS::TaskDefinition").values()
        if any(c.get("PortMappings") for c in body["Properties"]["ContainerDefinitions"])
    ]
    if len(found) != 1:
        raise ValueError(f"expected one task definition with a port mapping, found {len(found)}")
    return found[0]


def api_container(template: Template) -> dict[str, Any]:
    return api_task_definition(template)["ContainerDefinitions"][0]


def from_template(template: Template) -> AlbProfile:
    group = api_target_group(template)
    group_attrs = _attributes(group, "TargetGroupAttributes")
    lb_attrs = _attributes(
        one_resource(template, "AWS::ElasticLoadBalancingV2::LoadBalancer"), "LoadBalancerAttributes"
    )
    container = api_container(template)
    env = {item["Name"]: item["Value"] for item in container.get("Environment", [])}
    return AlbProfile(
        health_path=group["HealthCheckPath"],
        healthy_codes=str(group.get("Matcher", {}).get("HttpCode", "200")),
        interval_s=float(group["HealthCheckIntervalSeconds"]),
        timeout_s=float(group["HealthCheckTimeoutSeconds"]),
        healthy_threshold=int(group["HealthyThresholdCount"]),
        unhealthy_threshold=int(group["UnhealthyThresholdCount"]),
        deregistration_delay_s=float(group_attrs.get("deregistration_delay.timeout_seconds", 300)),
        idle_timeout_s=float(lb_attrs.get("idle_timeout.timeout_seconds", ALB_DEFAULT_IDLE_TIMEOUT_S)),
        drain_s=float(env.get("DRAIN_SECONDS", 0)),
        graceful_shutdown_s=float(env.get("GRACEFUL_SHUTDOWN_SECONDS", APP_DEFAULT_GRACEFUL_SHUTDOWN_S)),
        migrate_on_start=str(env.get("MIGRATE_ON_START", "false")).lower() == "true",
        scheduler_in_api=str(env.get("SCHEDULER_ENABLED", "true")).lower() == "true",
        stop_timeout_s=float(container.get("StopTimeout", ECS_DEFAULT_STOP_TIMEOUT_S)),
    )
