"""What a load run needs to know about an environment's autoscaling: its limits, from the CDK config.

Deployed environments read ``infra.environments.get_environment(name).service`` (the same typed config the
stacks are synthesized from), so the step shape follows the min/max tasks and cooldown the stack was
deployed with. ``local`` is one process and has no entry there. ``LOAD_*`` variables override either.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from infra.environments import CONFIG_FILE, ServiceSizes, get_environment

# The ALB's request-count target the step plan assumes when an environment turns that policy off (null):
# the service then scales on CPU only, and one task's share still has to be sized somehow.
DEFAULT_REQUESTS_PER_TARGET = 1000.0


@dataclass(frozen=True)
class ScalingProfile:
    min_tasks: int
    max_tasks: int
    scale_out_cooldown_s: float
    # Target of the ALB request-count-per-target scaling policy (requests per target per minute).
    requests_per_target_per_minute: float

    def __post_init__(self) -> None:
        if self.min_tasks < 1 or self.max_tasks < self.min_tasks:
            raise ValueError(f"need 1 <= min_tasks <= max_tasks, got {self.min_tasks}..{self.max_tasks}")
        if self.scale_out_cooldown_s < 0 or self.requests_per_target_per_minute <= 0:
            raise ValueError("scale_out_cooldown_s must be >= 0 and requests_per_target_per_minute > 0")


LOCAL_PROFILE = ScalingProfile(1, 1, 0, DEFAULT_REQUESTS_PER_TARGET)


def profile_from_service(service: ServiceSizes) -> ScalingProfile:
    return ScalingProfile(
        min_tasks=service.min_tasks,
        max_tasks=service.max_tasks,
        scale_out_cooldown_s=float(service.scale_out_cooldown_seconds),
        requests_per_target_per_minute=float(service.requests_per_target or DEFAULT_REQUESTS_PER_TARGET),
    )


def scaling_profile(
    env_name: str, overrides: Mapping[str, str] | None = None, config_file: Path = CONFIG_FILE
) -> ScalingProfile:
    """The autoscaling profile of ``env_name`` (``local`` or one in infra/config/environments.yaml); LOAD_*
    variables override it. An unknown name raises infra's ConfigError, which lists the valid ones."""
    if env_name == "local":
        profile = LOCAL_PROFILE
    else:
        profile = profile_from_service(get_environment(env_name, config_file).service)
    overrides = overrides or {}
    changes: dict[str, Any] = {}
    for var, field, kind in (
        ("LOAD_MIN_TASKS", "min_tasks", int),
        ("LOAD_MAX_TASKS", "max_tasks", int),
        ("LOAD_SCALE_OUT_COOLDOWN_S", "scale_out_cooldown_s", float),
        ("LOAD_REQUESTS_PER_TARGET", "requests_per_target_per_minute", float),
    ):
        if overrides.get(var):
            try:
                changes[field] = kind(overrides[var])
            except ValueError as exc:
                raise ValueError(f"{var} must be a number, got {overrides[var]!r}") from exc
    return replace(profile, **changes)
