"""What ECS target tracking would do with the Locust step shape: tasks over time, requests against capacity,
and the p99 and errors to expect while scaling lags. A model, second by second, of what the first sandbox
load run will show for real (``make load ENV=sandbox`` + ``autoscaling_report.py``).

    uv run python -m loadtests.capacity.autoscaling_sim --env sandbox [--template tasks.json]
        [--out-dir docs/images]

Inputs, each from where the deployment takes it:

- the scaling policy from the synthesized Tasks template: min/max capacity, each target-tracking policy's
  metric, target and cooldowns; the task's CPU size; the target group's health check (``alb.py``);
- one task's measured capacity at that CPU size (``infra/config/capacity-measured.json``): the sustainable
  req/s of the Locust mix, CPU per request, the p99 at each measured load, and the process's start-to-ready
  time under the same quota;
- the step shape (``loadtests/locust/plans.py``, ``LOAD_ENV=<env>``) and its users' request rate.

The model: CloudWatch publishes one-minute datapoints (``--metric-delay-s`` late); target tracking scales
out when the last 3 datapoints are above the target (to ``ceil(tasks x metric / target)``, not again within
the scale-out cooldown) and in when the last 15 are below 90 % of it and every policy agrees (not within the
scale-in cooldown). A new task serves after Fargate provisioning and the image pull (``--provision-s``, an
assumption), the measured start-to-ready time and the health checks that make it healthy. Requests beyond
the running tasks' capacity queue; p99 is the measured p99 at that utilisation plus the queue's wait, and a
request that would wait longer than the ALB's idle timeout is an error (504).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.scaling_targets import load_measurement, task_capacity

from loadtests.capacity import tasks_template
from loadtests.locust.plans import Stage, mean_user_rps, step_from_env, users_at
from loadtests.locust.runner import ROOT
from loadtests.rollout import alb

HIGH_ALARM_DATAPOINTS = 3
LOW_ALARM_DATAPOINTS = 15
LOW_ALARM_FRACTION = 0.9


@dataclass(frozen=True)
class Policy:
    metric: str  # ALBRequestCountPerTarget | ECSServiceAverageCPUUtilization
    target: float
    scale_out_cooldown_s: float
    scale_in_cooldown_s: float


@dataclass(frozen=True)
class ScalingPolicy:
    min_tasks: int
    max_tasks: int
    policies: tuple[Policy, ...]
    cpu_units: int


def scaling_policy(template: tasks_template.Template) -> ScalingPolicy:
    target = tasks_template.one_resource(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    policies = []
    for body in tasks_template.resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values():
        config = body["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        policies.append(
            Policy(
                metric=config["PredefinedMetricSpecification"]["PredefinedMetricType"],
                target=float(config["TargetValue"]),
                scale_out_cooldown_s=float(config.get("ScaleOutCooldown", 300)),
                scale_in_cooldown_s=float(config.get("ScaleInCooldown", 300)),
            )
        )
    cpu = int(alb.api_task_definition(template)["Cpu"])
    return ScalingPolicy(int(target["MinCapacity"]), int(target["MaxCapacity"]), tuple(policies), cpu)


@dataclass(frozen=True)
class TaskModel:
    rps: float  # sustainable req/s of one task (p99 < 100 ms)
    cpu_ms_per_request: float
    vcpu: float
    seconds_to_serve: float  # from the scale-out decision to the first request the new task gets
    p99_curve: tuple[tuple[float, float], ...]  # (utilisation, p99 ms), measured

    def p99_ms(self, utilisation: float) -> float:
        points = self.p99_curve
        if utilisation <= points[0][0]:
            return points[0][1]
        for (u0, p0), (u1, p1) in itertools.pairwise(points):
            if utilisation <= u1:
                return p0 + (p1 - p0) * (utilisation - u0) / (u1 - u0)
        return points[-1][1]


def task_model(
    measurement: dict[str, Any], policy: ScalingPolicy, profile: alb.AlbProfile, provision_s: float
) -> TaskModel:
    capacity = task_capacity(measurement, policy.cpu_units)
    # The p99 curve of the quota the throughput figure comes from (task_capacity takes the best measured at
    # this size or below), its sustainable levels only.
    quota = max(
        (q for q in measurement["quotas"] if q["vcpu"] <= capacity.vcpu + 1e-9),
        key=lambda q: q["workloads"]["mix"]["sustainable_rps"],
    )
    levels = sorted(
        (lv["rps"] / capacity.mix_rps, lv["p99_ms"])
        for lv in quota["workloads"]["mix"]["levels"]
        if lv["errors"] == 0 and lv["p99_ms"] < 100 and lv["rps"] <= capacity.mix_rps
    )
    health = profile.interval_s / 2 + profile.seconds_to_healthy  # the first check comes within an interval
    return TaskModel(
        rps=capacity.mix_rps,
        cpu_ms_per_request=capacity.mix_cpu_ms_per_request,
        vcpu=capacity.vcpu,
        seconds_to_serve=provision_s + capacity.start_to_ready_s + health,
        p99_curve=tuple([(0.0, levels[0][1]), *levels, (1.0, max(p for _, p in levels))]),
    )


@dataclass
class Second:
    t: int
    users: int
    offered_rps: float
    capacity_rps: float
    running: int
    desired: int
    p99_ms: float
    errors: float
    over_capacity: float


@dataclass
class Simulation:
    policy: ScalingPolicy
    task: TaskModel
    user_rps: float
    idle_timeout_s: float
    metric_delay_s: float = 60.0
    seconds: list[Second] = field(default_factory=list)

    def run(self, plan: list[Stage], tail_s: float = 0.0) -> list[Second]:
        end = int(plan[-1].until_s + tail_s)
        desired = self.policy.min_tasks
        ready_at: list[float] = [0.0] * desired  # one entry per task, when it starts serving
        backlog = 0.0
        minute_requests = minute_served = minute_tasks = 0.0
        datapoints: dict[str, list[tuple[float, float]]] = {p.metric: [] for p in self.policy.policies}
        last_out = last_in = -math.inf
        last_users = plan[0].users
        for t in range(end):
            stage = users_at(plan, t)
            users = stage[0] if stage else last_users
            last_users = users
            running = sum(1 for r in ready_at if r <= t)
            capacity = running * self.task.rps
            offered = users * self.user_rps
            work = backlog + offered
            served = min(work, capacity)
            backlog = work - served
            utilisation = offered / capacity if capacity else math.inf
            wait_s = backlog / capacity if capacity else math.inf
            p99 = self.task.p99_ms(min(utilisation, 1.0)) + wait_s * 1000
            errors = offered if wait_s > self.idle_timeout_s else 0.0
            if errors:
                backlog = max(0.0, backlog - offered)
            self.seconds.append(
                Second(
                    t, users, offered, capacity, running, desired, p99, errors, max(0.0, offered - capacity)
                )
            )
            minute_requests += offered
            minute_served += served
            minute_tasks += running
            if (t + 1) % 60:
                continue
            # A one-minute datapoint, visible to the alarms metric_delay_s later.
            tasks_avg = max(minute_tasks / 60, 1e-9)
            visible_at = t + 1 + self.metric_delay_s
            datapoints.setdefault("ALBRequestCountPerTarget", []).append(
                (visible_at, minute_requests / tasks_avg)
            )
            cpu = (
                minute_served / 60 * self.task.cpu_ms_per_request / (self.task.vcpu * 1000) / tasks_avg * 100
            )
            datapoints.setdefault("ECSServiceAverageCPUUtilization", []).append((visible_at, min(cpu, 100.0)))
            minute_requests = minute_served = minute_tasks = 0.0
            desired, last_out, last_in = self._decide(
                t, desired, len(ready_at), datapoints, last_out, last_in
            )
            while len(ready_at) < desired:
                ready_at.append(t + 1 + self.task.seconds_to_serve)
            while len(ready_at) > desired:
                ready_at.pop()  # ECS deregisters and drains it; it stops getting requests at once
        return self.seconds

    def _decide(
        self,
        t: int,
        desired: int,
        tasks: int,
        datapoints: dict[str, list[tuple[float, float]]],
        last_out: float,
        last_in: float,
    ) -> tuple[int, float, float]:
        outs, ins = [], []
        for policy in self.policy.policies:
            visible = [v for at, v in datapoints.get(policy.metric, []) if at <= t + 1]
            high = visible[-HIGH_ALARM_DATAPOINTS:]
            low = visible[-LOW_ALARM_DATAPOINTS:]
            if (
                len(high) == HIGH_ALARM_DATAPOINTS
                and all(v > policy.target for v in high)
                and t - last_out >= policy.scale_out_cooldown_s
            ):
                outs.append(math.ceil(tasks * visible[-1] / policy.target))
            if (
                len(low) == LOW_ALARM_DATAPOINTS
                and all(v < policy.target * LOW_ALARM_FRACTION for v in low)
                and t - max(last_in, last_out) >= policy.scale_in_cooldown_s
            ):
                ins.append(max(1, math.ceil(tasks * visible[-1] / policy.target)))
        if outs and max(outs) > tasks:
            return min(self.policy.max_tasks, max(outs)), t, last_in
        if len(ins) == len(self.policy.policies) and max(ins) < tasks:
            return max(self.policy.min_tasks, max(ins)), last_out, t
        return desired, last_out, last_in


@dataclass(frozen=True)
class StepRow:
    step: int
    start_s: int
    end_s: int
    users: int
    offered_rps: float
    tasks_at_start: int
    tasks_at_end: int
    peak_utilisation: float
    peak_p99_ms: float
    over_capacity_requests: int
    errors: int


def step_table(plan: list[Stage], seconds: Sequence[Second]) -> list[StepRow]:
    rows, start = [], 0
    for i, stage in enumerate(plan):
        window = [s for s in seconds if start <= s.t < stage.until_s]
        if window:
            rows.append(
                StepRow(
                    step=i + 1,
                    start_s=start,
                    end_s=int(stage.until_s),
                    users=stage.users,
                    offered_rps=round(window[-1].offered_rps, 1),
                    tasks_at_start=window[0].running,
                    tasks_at_end=window[-1].running,
                    peak_utilisation=round(
                        max(s.offered_rps / s.capacity_rps if s.capacity_rps else math.inf for s in window), 2
                    ),
                    peak_p99_ms=round(max(s.p99_ms for s in window), 1),
                    over_capacity_requests=round(sum(s.over_capacity for s in window)),
                    errors=round(sum(s.errors for s in window)),
                )
            )
        start = int(stage.until_s)
    return rows


def markdown(rows: list[StepRow]) -> str:
    lines = [
        "| step | time s | users | offered req/s | tasks (start -> end) | peak load / capacity | peak p99 ms "
        "| requests over capacity | errors |",
        "| ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.step} | {r.start_s}-{r.end_s} | {r.users} | {r.offered_rps} "
            f"| {r.tasks_at_start} -> {r.tasks_at_end} | {r.peak_utilisation} | {r.peak_p99_ms} "
            f"| {r.over_capacity_requests} | {r.errors} |"
        )
    return "\n".join(lines)


def draw(seconds: Sequence[Second], out: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    minutes = [s.t / 60 for s in seconds]
    fig, (tasks_ax, rps_ax, p99_ax) = plt.subplots(3, 1, figsize=(11, 8), sharex=True, dpi=100)
    try:
        tasks_ax.step(
            minutes,
            [s.desired for s in seconds],
            where="post",
            ls="--",
            color="tab:gray",
            label="desired tasks",
        )
        tasks_ax.step(
            minutes, [s.running for s in seconds], where="post", color="tab:blue", label="tasks serving"
        )
        tasks_ax.set_ylabel("ECS tasks")
        tasks_ax.set_ylim(0, max(s.desired for s in seconds) + 1)
        tasks_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        tasks_ax.legend(loc="upper left")
        tasks_ax.set_title(title)
        rps_ax.plot(minutes, [s.offered_rps for s in seconds], color="tab:green", label="offered req/s")
        rps_ax.plot(
            minutes,
            [s.capacity_rps for s in seconds],
            color="tab:orange",
            label="capacity req/s (p99 < 100 ms)",
        )
        rps_ax.set_ylabel("requests/s")
        rps_ax.legend(loc="upper left")
        p99_ax.plot(
            minutes, [min(s.p99_ms, 5000) for s in seconds], color="tab:red", label="expected p99 (ms)"
        )
        p99_ax.axhline(100, color="tab:red", ls=":", lw=1)
        p99_ax.set_yscale("log")
        p99_ax.set_ylim(1, max(1000.0, max(min(s.p99_ms, 5000) for s in seconds) * 1.5))
        p99_ax.set_ylabel("p99 ms (log)")
        p99_ax.set_xlabel("minutes into the step shape")
        p99_ax.legend(loc="upper left")
        fig.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="png")
    finally:
        plt.close(fig)
    return out


def simulate(
    env: str,
    template: tasks_template.Template,
    provision_s: float,
    metric_delay_s: float,
    think_min: float,
    think_max: float,
) -> tuple[list[Stage], Simulation]:
    policy = scaling_policy(template)
    profile = alb.from_template(template)
    model = task_model(load_measurement(), policy, profile, provision_s)
    load_env = {"LOAD_ENV": env, "LOAD_THINK_MIN": str(think_min), "LOAD_THINK_MAX": str(think_max)}
    plan = step_from_env(load_env)
    sim = Simulation(policy, model, mean_user_rps(load_env), profile.idle_timeout_s, metric_delay_s)
    sim.run(plan)
    return plan, sim


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Simulate ECS target tracking under the Locust step shape.")
    parser.add_argument("--env", default="sandbox")
    parser.add_argument("--template", type=Path, help="a synthesized Tasks template (default: synth now)")
    parser.add_argument(
        "--provision-s",
        type=float,
        default=45.0,
        help="Fargate provisioning + image pull before the process starts (assumed)",
    )
    parser.add_argument("--metric-delay-s", type=float, default=60.0, help="CloudWatch datapoint latency")
    parser.add_argument("--think-min", type=float, default=1.0)
    parser.add_argument("--think-max", type=float, default=3.0)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "loadtests" / "reports")
    args = parser.parse_args(argv)
    template = tasks_template.load(args.template, args.env)
    plan, sim = simulate(
        args.env, template, args.provision_s, args.metric_delay_s, args.think_min, args.think_max
    )
    rows = step_table(plan, sim.seconds)
    png = draw(
        sim.seconds,
        args.out_dir / f"autoscaling-sim-{args.env}.png",
        f"{args.env}: step shape vs target tracking (simulated)",
    )
    table = markdown(rows)
    (args.out_dir / f"autoscaling-sim-{args.env}.md").write_text(table + "\n")
    p, m = sim.policy, sim.task
    policies = ", ".join(
        f"{x.metric} {x.target:g} (cooldown out {x.scale_out_cooldown_s:g} s, in {x.scale_in_cooldown_s:g} s)"
        for x in p.policies
    )
    print(f"{args.env}: tasks {p.min_tasks}-{p.max_tasks}; {policies}")
    print(f"one task serves {m.rps:g} req/s at {m.vcpu:g} vCPU, {m.seconds_to_serve:.0f} s after a scale-out")
    print(table)
    errors = sum(r.errors for r in rows)
    print(f"{'absorbed without errors' if errors == 0 else f'{errors} errors'}; picture: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
