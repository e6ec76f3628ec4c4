"""What a load run needs to know about an environment: its autoscaling limits and where it is deployed.

The numbers come from the CDK environments config (``infra.environments``) when it is installed, so the
step shape follows whatever min/max tasks and cooldown the stack was deployed with; the built-in table
below only covers ``local`` and a checkout without the infra package. ``LOAD_*`` variables override both.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any


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


# Mirrors issue 7's defaults; used only when infra.environments cannot be read.
DEFAULT_PROFILES: dict[str, ScalingProfile] = {
    "local": ScalingProfile(1, 1, 0, 1000),
    "sandbox": ScalingProfile(1, 2, 60, 1000),
    "dev": ScalingProfile(1, 2, 60, 1000),
    "test": ScalingProfile(1, 4, 60, 1000),
    "prod": ScalingProfile(2, 10, 60, 1000),
}

_NAMES = {
    "min_tasks": ("min_tasks", "min_capacity", "min_task_count", "desired_min"),
    "max_tasks": ("max_tasks", "max_capacity", "max_task_count", "desired_max"),
    "scale_out_cooldown_s": (
        "scale_out_cooldown_seconds",
        "scale_out_cooldown_s",
        "scale_out_cooldown",
        "scale_out_cooldown_sec",
    ),
    "requests_per_target_per_minute": (
        "requests_per_target",
        "request_count_per_target",
        "alb_requests_per_target",
        "scale_requests_per_target",
    ),
}
_CONTAINERS = ("sizes", "size", "scaling", "autoscaling", "service", "tasks")


def _lookup(obj: Any, names: Iterable[str]) -> Any:
    """Find the first of ``names`` on ``obj`` or on one of its nested config groups (attr or key)."""
    candidates = [obj] + [_get(obj, c) for c in _CONTAINERS]
    for holder in candidates:
        if holder is None:
            continue
        for name in names:
            value = _get(holder, name)
            if value is not None:
                return value
    return None


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _seconds(value: Any) -> float:
    # A CDK Duration, a timedelta, or a plain number of seconds.
    if hasattr(value, "to_seconds"):
        return float(value.to_seconds())
    if hasattr(value, "total_seconds"):
        return float(value.total_seconds())
    return float(value)


def profile_from_config(config: Any, fallback: ScalingProfile) -> ScalingProfile:
    """Read a ScalingProfile from an environment config object, keeping ``fallback`` for what is absent."""
    found: dict[str, Any] = {}
    for field, names in _NAMES.items():
        value = _lookup(config, names)
        if value is not None:
            found[field] = _seconds(value) if field == "scale_out_cooldown_s" else value
    if "min_tasks" in found:
        found["min_tasks"] = int(found["min_tasks"])
    if "max_tasks" in found:
        found["max_tasks"] = int(found["max_tasks"])
    return replace(fallback, **found)


def _infra_environment(name: str) -> Any:
    """The environment's config object from infra.environments, or None when it cannot be loaded."""
    try:
        module = importlib.import_module("infra.environments")
    except ImportError:
        return None
    for getter in ("get_environment", "load_environment", "environment", "get", "load"):
        func = getattr(module, getter, None)
        if callable(func):
            try:
                return func(name)
            except Exception:  # noqa: S112 - try the next known spelling of the accessor
                continue
    for table in ("ENVIRONMENTS", "environments", "ENVS"):
        mapping = getattr(module, table, None)
        if isinstance(mapping, Mapping) and name in mapping:
            return mapping[name]
    return None


def scaling_profile(env_name: str, overrides: Mapping[str, str] | None = None) -> ScalingProfile:
    """The autoscaling profile of ``env_name``: infra config, else built-in defaults; LOAD_* override."""
    base = DEFAULT_PROFILES.get(env_name, DEFAULT_PROFILES["sandbox"])
    config = None if env_name == "local" else _infra_environment(env_name)
    profile = profile_from_config(config, base) if config is not None else base
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
