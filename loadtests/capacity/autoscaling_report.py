"""What the service did during a load run: ECS tasks vs requests/s vs p95 latency, in one PNG.

Reads CloudWatch for the run's window with one paginated GetMetricData call:
- ``ECS/ContainerInsights`` DesiredTaskCount and RunningTaskCount of the service (Container Insights);
  when those are absent, the sample count of ``AWS/ECS`` CPUUtilization, which each running task reports
  once a minute, stands in for the running count;
- ``AWS/ApplicationELB`` RequestCount (sum per period, shown per second) and TargetResponseTime (p95).

``python -m loadtests.capacity.autoscaling_report --cluster C --service S --load-balancer app/name/id
--start 2026-01-01T10:00:00Z --end 2026-01-01T10:30:00Z --out loadtests/reports/autoscaling.png``
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on load machines and CI

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator


@dataclass(frozen=True)
class Target:
    cluster: str
    service: str
    load_balancer: str  # the CloudWatch dimension: "app/<name>/<id>"


Point = tuple[dt.datetime, float]


@dataclass
class Report:
    desired_tasks: list[Point] = field(default_factory=list)
    running_tasks: list[Point] = field(default_factory=list)
    requests_per_s: list[Point] = field(default_factory=list)
    p95_ms: list[Point] = field(default_factory=list)
    running_source: str = "ContainerInsights"

    def summary(self) -> dict[str, float]:
        def peak(points: list[Point]) -> float:
            return max((v for _, v in points), default=0.0)

        return {
            "max_desired_tasks": peak(self.desired_tasks),
            "max_running_tasks": peak(self.running_tasks),
            "max_requests_per_s": peak(self.requests_per_s),
            "max_p95_ms": peak(self.p95_ms),
        }


def load_balancer_dimension(arn_or_name: str) -> str:
    """CloudWatch's LoadBalancer dimension ("app/name/id") from an ALB ARN or the dimension itself."""
    marker = ":loadbalancer/"
    if marker in arn_or_name:
        return arn_or_name.split(marker, 1)[1]
    if arn_or_name.startswith("app/") and arn_or_name.count("/") == 2:
        return arn_or_name
    raise ValueError(f"expected an ALB ARN or 'app/<name>/<id>', got {arn_or_name!r}")


def metric_queries(target: Target, period: int) -> list[dict[str, Any]]:
    service = [
        {"Name": "ClusterName", "Value": target.cluster},
        {"Name": "ServiceName", "Value": target.service},
    ]
    alb = [{"Name": "LoadBalancer", "Value": target.load_balancer}]

    def query(qid: str, namespace: str, metric: str, dims: list[dict[str, str]], stat: str) -> dict[str, Any]:
        return {
            "Id": qid,
            "MetricStat": {
                "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dims},
                "Period": period,
                "Stat": stat,
            },
            "ReturnData": True,
        }

    return [
        query("desired", "ECS/ContainerInsights", "DesiredTaskCount", service, "Average"),
        query("running", "ECS/ContainerInsights", "RunningTaskCount", service, "Average"),
        query("cpusamples", "AWS/ECS", "CPUUtilization", service, "SampleCount"),
        query("requests", "AWS/ApplicationELB", "RequestCount", alb, "Sum"),
        query("p95", "AWS/ApplicationELB", "TargetResponseTime", alb, "p95"),
    ]


def fetch_series(
    cloudwatch: Any, target: Target, start: dt.datetime, end: dt.datetime, period: int = 60
) -> dict[str, list[Point]]:
    """Every query's points, oldest first, across GetMetricData pages."""
    series: dict[str, list[Point]] = {}
    kwargs: dict[str, Any] = {
        "MetricDataQueries": metric_queries(target, period),
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    for _ in range(100):  # a run window is hours, not thousands of pages
        page = cloudwatch.get_metric_data(**kwargs)
        for result in page["MetricDataResults"]:
            series.setdefault(result["Id"], []).extend(
                zip(result.get("Timestamps", []), result.get("Values", []), strict=True)
            )
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    return {qid: sorted(points) for qid, points in series.items()}


def build_report(series: dict[str, list[Point]], period: int) -> Report:
    """Turn raw CloudWatch values into the plotted units: tasks, requests per second, milliseconds."""
    running = series.get("running", [])
    source = "ContainerInsights"
    if not running and series.get("cpusamples"):
        # Without Container Insights: one CPU sample per running task per minute.
        per_minute = max(period / 60.0, 1.0)
        running = [(t, v / per_minute) for t, v in series["cpusamples"]]
        source = "AWS/ECS CPUUtilization samples"
    return Report(
        desired_tasks=series.get("desired", []),
        running_tasks=running,
        requests_per_s=[(t, v / period) for t, v in series.get("requests", [])],
        p95_ms=[(t, v * 1000.0) for t, v in series.get("p95", [])],
        running_source=source,
    )


def _xy(points: Iterable[Point]) -> tuple[list[float], list[float]]:
    pts = list(points)
    return [float(mdates.date2num(t)) for t, _ in pts], [v for _, v in pts]


def draw(report: Report, out: Path, title: str = "Autoscaling during the load run") -> Path:
    """Tasks (left axis), requests/s and p95 (two right axes) over one time axis, as a PNG."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, tasks_ax = plt.subplots(figsize=(12, 6), dpi=100)
    try:
        rps_ax = tasks_ax.twinx()
        p95_ax = tasks_ax.twinx()
        p95_ax.spines["right"].set_position(("axes", 1.08))

        lines = []
        lines += tasks_ax.step(
            *_xy(report.desired_tasks), where="post", color="tab:gray", ls="--", label="desired tasks"
        )
        lines += tasks_ax.step(
            *_xy(report.running_tasks),
            where="post",
            color="tab:blue",
            label=f"running tasks ({report.running_source})",
        )
        lines += rps_ax.plot(*_xy(report.requests_per_s), color="tab:green", label="requests/s (ALB)")
        lines += p95_ax.plot(*_xy(report.p95_ms), color="tab:red", label="p95 target response (ms)")

        tasks_ax.set_ylabel("ECS tasks")
        rps_ax.set_ylabel("requests/s")
        p95_ax.set_ylabel("p95 ms")
        most_tasks = max(report.summary()["max_desired_tasks"], report.summary()["max_running_tasks"])
        tasks_ax.set_ylim(0, most_tasks + 1)
        rps_ax.set_ylim(bottom=0)
        p95_ax.set_ylim(bottom=0)
        tasks_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        tasks_ax.xaxis_date(tz=dt.UTC)
        tasks_ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=dt.UTC))
        tasks_ax.set_xlabel("time (UTC)")
        tasks_ax.set_title(title)
        tasks_ax.legend(lines, [str(ln.get_label()) for ln in lines], loc="upper left")
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(out, format="png")
    finally:
        plt.close(fig)
    return out


def _utc(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Plot ECS tasks vs ALB requests/s vs p95 for a run window.")
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--load-balancer", required=True, help="ALB ARN or 'app/<name>/<id>'")
    parser.add_argument("--start", required=True, type=_utc, help="ISO-8601, e.g. 2026-01-01T10:00:00Z")
    parser.add_argument("--end", required=True, type=_utc)
    parser.add_argument("--period", type=int, default=60, help="seconds; CloudWatch keeps 60 s for 15 days")
    parser.add_argument("--region")
    parser.add_argument("--profile")
    parser.add_argument("--out", type=Path, default=Path("loadtests/reports/autoscaling.png"))
    args = parser.parse_args(argv)
    if args.end <= args.start:
        parser.error("--end must be after --start")
    try:
        target = Target(args.cluster, args.service, load_balancer_dimension(args.load_balancer))
    except ValueError as exc:
        parser.error(str(exc))

    import boto3

    cloudwatch = boto3.session.Session(profile_name=args.profile, region_name=args.region).client(
        "cloudwatch"
    )
    report = build_report(fetch_series(cloudwatch, target, args.start, args.end, args.period), args.period)
    draw(report, args.out, f"{args.service}: {args.start:%Y-%m-%d %H:%M} - {args.end:%H:%M} UTC")
    for name, value in report.summary().items():
        print(f"{name}: {value:.1f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
