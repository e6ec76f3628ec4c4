"""The load plans behind the Locust shapes: steady, step (sized for ECS autoscaling), spike and soak.

A plan is a list of stages ``(until_s, users, spawn_rate)``. This module is pure (no Locust import, which
would monkey-patch the process with gevent) so plans can be checked anywhere; ``shapes.py`` wraps them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from loadtests.locust.scaling import ScalingProfile, scaling_profile


@dataclass(frozen=True)
class Stage:
    """Hold ``users`` (reached at ``spawn_rate`` users/s) until ``until_s`` seconds into the run."""

    until_s: float
    users: int
    spawn_rate: float


def users_at(plan: list[Stage], run_time: float) -> tuple[int, float] | None:
    """The (users, spawn_rate) Locust should run at ``run_time``; None once the plan is over."""
    for stage in plan:
        if run_time < stage.until_s:
            return stage.users, stage.spawn_rate
    return None


def steady_plan(users: int, spawn_rate: float, duration_s: float) -> list[Stage]:
    return [Stage(duration_s, users, spawn_rate)]


def spike_plan(
    base_users: int, spike_users: int, base_s: float, spike_s: float, recover_s: float, spawn_rate: float
) -> list[Stage]:
    """A calm baseline, a sudden jump (spawned as fast as Locust can), then the baseline again."""
    sudden = float(max(spike_users - base_users, 1))  # the whole jump within about one second
    return [
        Stage(base_s, base_users, spawn_rate),
        Stage(base_s + spike_s, spike_users, sudden),
        Stage(base_s + spike_s + recover_s, base_users, sudden),
    ]


def soak_plan(users: int, spawn_rate: float, ramp_s: float, hold_s: float) -> list[Stage]:
    """Ramp gently, then hold a moderate load for a long time (leaks, pool exhaustion, log growth)."""
    return [Stage(ramp_s, users, spawn_rate), Stage(ramp_s + hold_s, users, spawn_rate)]


@dataclass(frozen=True)
class StepSizing:
    """How many users make one ECS task's worth of load, and how long each step lasts."""

    users_per_task: int
    step_s: float
    steps: list[int]  # users per step


def step_sizing(
    profile: ScalingProfile, user_rps: float, overshoot: float = 1.25, settle_s: float = 180.0
) -> StepSizing:
    """Size the step shape from an environment's autoscaling config.

    Each step asks for one more task than the previous one: with target tracking on requests per target,
    one task's share is ``requests_per_target_per_minute / 60`` requests/s, i.e. that divided by what one
    simulated user sends. ``overshoot`` puts each step clearly above the scaling threshold. A step lasts
    longer than the scale-out cooldown plus the time CloudWatch needs to raise the alarm and a new task
    needs to pass its health check (``settle_s``), so every scale-out shows as its own plateau. One extra
    step beyond ``max_tasks`` shows what happens at the ceiling.
    """
    if user_rps <= 0:
        raise ValueError("user_rps must be positive")
    per_task_rps = profile.requests_per_target_per_minute / 60.0
    users_per_task = max(1, math.ceil(per_task_rps / user_rps))
    step_s = max(2.0 * profile.scale_out_cooldown_s, profile.scale_out_cooldown_s + settle_s)
    steps = [
        max(1, math.ceil(users_per_task * tasks * overshoot))
        for tasks in range(profile.min_tasks, profile.max_tasks + 2)
    ]
    return StepSizing(users_per_task=users_per_task, step_s=step_s, steps=steps)


def step_plan(sizing: StepSizing, spawn_rate: float) -> list[Stage]:
    return [Stage(sizing.step_s * (i + 1), users, spawn_rate) for i, users in enumerate(sizing.steps)]


def _num(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def mean_user_rps(env: Mapping[str, str]) -> float:
    """Requests/s one simulated user sends: one call per think time (the response time is small beside it)."""
    low, high = _num(env, "LOAD_THINK_MIN", 1.0), _num(env, "LOAD_THINK_MAX", 3.0)
    return 1.0 / max((low + high) / 2.0, 0.05)


def steady_from_env(env: Mapping[str, str]) -> list[Stage]:
    return steady_plan(
        int(_num(env, "LOAD_USERS", 10)), _num(env, "LOAD_SPAWN_RATE", 5), _num(env, "LOAD_DURATION", 60)
    )


def step_from_env(env: Mapping[str, str]) -> list[Stage]:
    profile = scaling_profile(env.get("LOAD_ENV", "local"), env)
    sizing = step_sizing(profile, mean_user_rps(env), overshoot=_num(env, "LOAD_STEP_OVERSHOOT", 1.25))
    return step_plan(sizing, _num(env, "LOAD_SPAWN_RATE", 5))


def spike_from_env(env: Mapping[str, str]) -> list[Stage]:
    return spike_plan(
        base_users=int(_num(env, "LOAD_USERS", 10)),
        spike_users=int(_num(env, "LOAD_SPIKE_USERS", 50)),
        base_s=_num(env, "LOAD_SPIKE_BASE_S", 60),
        spike_s=_num(env, "LOAD_SPIKE_S", 60),
        recover_s=_num(env, "LOAD_SPIKE_RECOVER_S", 60),
        spawn_rate=_num(env, "LOAD_SPAWN_RATE", 5),
    )


def soak_from_env(env: Mapping[str, str]) -> list[Stage]:
    return soak_plan(
        users=int(_num(env, "LOAD_USERS", 20)),
        spawn_rate=_num(env, "LOAD_SPAWN_RATE", 1),
        ramp_s=_num(env, "LOAD_SOAK_RAMP_S", 120),
        hold_s=_num(env, "LOAD_DURATION", 2 * 3600),
    )


PLAN_BUILDERS: dict[str, Callable[[Mapping[str, str]], list[Stage]]] = {
    "steady": steady_from_env,
    "step": step_from_env,
    "spike": spike_from_env,
    "soak": soak_from_env,
}


def plan_from_env(shape: str, env: Mapping[str, str]) -> list[Stage]:
    try:
        builder = PLAN_BUILDERS[shape]
    except KeyError:
        raise ValueError(f"LOAD_SHAPE must be one of {', '.join(PLAN_BUILDERS)}; got {shape!r}") from None
    return builder(env)
