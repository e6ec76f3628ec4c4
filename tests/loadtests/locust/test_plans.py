import pytest
from infra.environments import ConfigError, ServiceSizes, get_environment

from loadtests.locust.plans import (
    Stage,
    mean_user_rps,
    plan_from_env,
    soak_plan,
    spike_plan,
    steady_plan,
    step_plan,
    step_sizing,
    users_at,
)
from loadtests.locust.scaling import (
    DEFAULT_REQUESTS_PER_TARGET,
    ScalingProfile,
    profile_from_service,
    scaling_profile,
)


def test_users_at_walks_the_stages_and_ends_with_none():
    plan = [Stage(10, 5, 1.0), Stage(20, 8, 2.0)]
    assert users_at(plan, 0) == (5, 1.0)
    assert users_at(plan, 9.99) == (5, 1.0)
    assert users_at(plan, 10) == (8, 2.0)
    assert users_at(plan, 20) is None


def test_steady_plan_holds_one_level():
    assert steady_plan(12, 3, 90) == [Stage(90, 12, 3)]


def test_spike_jumps_within_a_second_and_returns_to_the_baseline():
    plan = spike_plan(base_users=10, spike_users=60, base_s=30, spike_s=20, recover_s=40, spawn_rate=2)
    assert [(s.until_s, s.users) for s in plan] == [(30, 10), (50, 60), (90, 10)]
    assert plan[1].spawn_rate == 50  # the 50 extra users arrive in about a second
    assert users_at(plan, 89) == (10, 50)
    assert users_at(plan, 90) is None


def test_soak_ramps_then_holds():
    plan = soak_plan(users=20, spawn_rate=1, ramp_s=60, hold_s=3600)
    assert [(s.until_s, s.users) for s in plan] == [(60, 20), (3660, 20)]


def test_step_is_sized_from_the_scaling_profile():
    sandbox = ScalingProfile(
        min_tasks=1, max_tasks=2, scale_out_cooldown_s=60, requests_per_target_per_minute=1000
    )
    sizing = step_sizing(sandbox, user_rps=0.5)
    # One task's share is 1000/60 = 16.7 req/s = 34 users at 0.5 req/s each.
    assert sizing.users_per_task == 34
    # One step per task count from min to max, plus one beyond the ceiling, each 25 % over the target.
    assert sizing.steps == [43, 85, 128]
    # Each step outlasts the cooldown plus the alarm and health-check settling time.
    assert sizing.step_s == 240
    plan = step_plan(sizing, spawn_rate=5)
    assert [(s.until_s, s.users) for s in plan] == [(240, 43), (480, 85), (720, 128)]


def test_step_with_a_long_cooldown_lasts_twice_the_cooldown():
    profile = ScalingProfile(2, 4, 300, 600)
    sizing = step_sizing(profile, user_rps=1.0)
    assert sizing.step_s == 600
    assert sizing.steps == [25, 38, 50, 63]


def test_step_from_env_reads_the_environment_and_overrides(monkeypatch):
    env = {
        "LOAD_ENV": "prod",
        "LOAD_MIN_TASKS": "3",
        "LOAD_MAX_TASKS": "4",
        "LOAD_SCALE_OUT_COOLDOWN_S": "30",
        "LOAD_REQUESTS_PER_TARGET": "120",
        "LOAD_THINK_MIN": "0.5",
        "LOAD_THINK_MAX": "1.5",
    }
    plan = plan_from_env("step", env)
    # 2 req/s per task at 1 req/s per user: 2 users per task; 3, 4 and 5 tasks with 25 % overshoot.
    assert [(s.until_s, s.users) for s in plan] == [(210, 8), (420, 10), (630, 13)]


def test_mean_user_rps_comes_from_the_think_time():
    assert mean_user_rps({}) == 0.5
    assert mean_user_rps({"LOAD_THINK_MIN": "0", "LOAD_THINK_MAX": "0"}) == 20.0


def test_unknown_shape_and_bad_numbers_are_clear_errors():
    with pytest.raises(ValueError, match="LOAD_SHAPE must be one of"):
        plan_from_env("ramp", {})
    with pytest.raises(ValueError, match="LOAD_USERS must be a number"):
        plan_from_env("steady", {"LOAD_USERS": "many"})
    with pytest.raises(ValueError, match="user_rps"):
        step_sizing(ScalingProfile(1, 2, 60, 100), user_rps=0)


def test_profile_rejects_impossible_limits():
    with pytest.raises(ValueError, match="min_tasks"):
        ScalingProfile(3, 2, 60, 100)
    with pytest.raises(ValueError, match="requests_per_target_per_minute"):
        ScalingProfile(1, 2, 60, 0)


def test_profile_reads_the_service_sizes_and_sizes_a_policy_that_is_off():
    service = ServiceSizes(cpu=512, memory_mib=1024, min_tasks=2, max_tasks=6, scale_out_cooldown_seconds=120)
    assert profile_from_service(service) == ScalingProfile(2, 6, 120.0, 1000)
    off = ServiceSizes(cpu=512, memory_mib=1024, min_tasks=1, max_tasks=2, requests_per_target=None)
    assert profile_from_service(off).requests_per_target_per_minute == DEFAULT_REQUESTS_PER_TARGET


def test_unknown_environment_names_the_valid_ones():
    with pytest.raises(ConfigError, match="choose one of sandbox, dev, test, prod"):
        scaling_profile("staging")


def test_scaling_profile_overrides_and_bad_override():
    assert scaling_profile("local", {"LOAD_MAX_TASKS": "3"}).max_tasks == 3
    with pytest.raises(ValueError, match="LOAD_MIN_TASKS must be a number"):
        scaling_profile("local", {"LOAD_MIN_TASKS": "x"})


@pytest.mark.parametrize("name", ["sandbox", "dev", "test", "prod"])
def test_scaling_profile_follows_the_cdk_environments_config(name):
    service = get_environment(name).service
    profile = scaling_profile(name)
    assert (profile.min_tasks, profile.max_tasks) == (service.min_tasks, service.max_tasks)
    assert profile.scale_out_cooldown_s == service.scale_out_cooldown_seconds
    if service.requests_per_target is not None:
        assert profile.requests_per_target_per_minute == service.requests_per_target
