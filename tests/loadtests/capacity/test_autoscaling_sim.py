"""The autoscaling simulation's model: the policy read from a template, scale-out lag, queueing and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.capacity.autoscaling_sim import (
    Policy,
    ScalingPolicy,
    Simulation,
    TaskModel,
    draw,
    markdown,
    scaling_policy,
    step_table,
)
from loadtests.locust.plans import Stage

REQUESTS = "ALBRequestCountPerTarget"
CPU = "ECSServiceAverageCPUUtilization"


def template(min_tasks: int = 1, max_tasks: int = 2) -> dict:
    def policy(metric: str, target: float) -> dict:
        return {
            "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
            "Properties": {
                "TargetTrackingScalingPolicyConfiguration": {
                    "PredefinedMetricSpecification": {"PredefinedMetricType": metric},
                    "TargetValue": target,
                    "ScaleInCooldown": 120,
                    "ScaleOutCooldown": 60,
                }
            },
        }

    return {
        "Resources": {
            "Target": {
                "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
                "Properties": {"MinCapacity": min_tasks, "MaxCapacity": max_tasks},
            },
            "Cpu": policy(CPU, 50),
            "Requests": policy(REQUESTS, 600),
            "Task": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Cpu": "256",
                    "ContainerDefinitions": [{"PortMappings": [{"ContainerPort": 8080}]}],
                },
            },
            "Worker": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {"Cpu": "1024", "ContainerDefinitions": [{"Command": ["worker"]}]},
            },
        }
    }


def test_the_policy_is_read_from_the_template() -> None:
    policy = scaling_policy(template(2, 10))
    assert (policy.min_tasks, policy.max_tasks, policy.cpu_units) == (2, 10, 256)
    assert sorted(policy.policies, key=lambda p: p.metric) == [
        Policy(REQUESTS, 600, 60, 120),
        Policy(CPU, 50, 60, 120),
    ]


# One task: 20 req/s sustainable, 1 ms of CPU each at 0.25 vCPU; 100 s from decision to serving.
TASK = TaskModel(rps=20, cpu_ms_per_request=1.0, vcpu=0.25, seconds_to_serve=100,
                 p99_curve=((0.0, 5.0), (0.5, 10.0), (1.0, 60.0)))  # fmt: skip


def simulation(max_tasks: int = 2) -> Simulation:
    policy = ScalingPolicy(1, max_tasks, (Policy(REQUESTS, 600, 60, 120),), 256)
    return Simulation(policy, TASK, user_rps=1.0, idle_timeout_s=60, metric_delay_s=60)


def test_p99_follows_the_measured_curve() -> None:
    assert TASK.p99_ms(0.25) == pytest.approx(7.5)
    assert TASK.p99_ms(0.75) == pytest.approx(35.0)
    assert TASK.p99_ms(1.0) == pytest.approx(60.0)


def test_a_load_within_one_task_never_scales_and_has_no_errors() -> None:
    seconds = simulation().run([Stage(600, 8, 10)])  # 8 req/s: 480 per minute, under the 600 target
    assert {s.desired for s in seconds} == {1}
    assert sum(s.errors for s in seconds) == 0
    assert max(s.p99_ms for s in seconds) < 10


def test_scale_out_comes_after_three_datapoints_their_delay_and_the_task_start() -> None:
    # 15 req/s = 900 per minute per task, above the 600 target but within one task's 20 req/s.
    seconds = simulation().run([Stage(900, 15, 10)])
    decided = next(s.t for s in seconds if s.desired == 2)
    serving = next(s.t for s in seconds if s.running == 2)
    # The third one-minute datapoint closes at 180 s and is visible 60 s later.
    assert decided == 240
    assert serving == decided + 100
    assert sum(s.errors for s in seconds) == 0
    assert sum(s.over_capacity for s in seconds) == 0


def test_load_beyond_capacity_queues_until_the_new_task_serves() -> None:
    seconds = simulation().run([Stage(60, 10, 10), Stage(600, 30, 10)])  # 30 req/s: 1.5x one task
    before = [s for s in seconds if s.t >= 60 and s.running == 1]
    after = [s for s in seconds if s.running == 2]
    assert before
    assert after
    assert sum(s.over_capacity for s in before) == pytest.approx(10 * len(before))
    assert max(s.p99_ms for s in before) > 1000  # the queue's wait dominates
    assert sum(s.errors for s in seconds) > 0  # waits beyond the 60 s idle timeout are 504s
    assert after[-1].p99_ms < 100  # two tasks drain the queue


def test_the_step_table_and_picture(tmp_path: Path) -> None:
    plan = [Stage(300, 8, 10), Stage(900, 15, 10)]
    sim = simulation()
    rows = step_table(plan, sim.run(plan))
    assert [(r.step, r.users, r.tasks_at_start, r.tasks_at_end) for r in rows] == [
        (1, 8, 1, 1),
        (2, 15, 1, 2),
    ]
    assert "| 2 | 300-900 | 15 |" in markdown(rows)
    png = draw(sim.seconds, tmp_path / "sim.png", "test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
