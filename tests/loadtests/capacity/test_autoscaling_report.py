import datetime as dt

import boto3
import pytest
from botocore.stub import Stubber

from loadtests.capacity.autoscaling_report import (
    Target,
    build_report,
    draw,
    fetch_series,
    load_balancer_dimension,
    main,
    metric_queries,
)

T0 = dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)
TARGET = Target("city-tasks-sandbox", "tasks-api", "app/city-tasks-alb/50dc6c495c0c9188")


def minute(n: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def result(qid, points):
    return {
        "Id": qid,
        "Label": qid,
        "Timestamps": [minute(n) for n, _ in points],
        "Values": [v for _, v in points],
        "StatusCode": "Complete",
    }


def cloudwatch():
    return boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    ).client("cloudwatch")


def stub_two_pages(stub, start, end):
    expected = {
        "MetricDataQueries": metric_queries(TARGET, 60),
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    stub.add_response(
        "get_metric_data",
        {
            "MetricDataResults": [
                result("desired", [(0, 1), (1, 1), (2, 2)]),
                result("running", [(0, 1), (1, 1)]),
                result("cpusamples", [(0, 1), (1, 1)]),
                result("requests", [(0, 600), (1, 1200)]),
                result("p95", [(0, 0.045), (1, 0.180)]),
            ],
            "NextToken": "page-2",
        },
        expected,
    )
    stub.add_response(
        "get_metric_data",
        {
            "MetricDataResults": [
                result("desired", [(3, 2)]),
                result("running", [(2, 1), (3, 2)]),
                result("cpusamples", [(2, 1), (3, 2)]),
                result("requests", [(2, 1800), (3, 1800)]),
                result("p95", [(2, 0.350), (3, 0.090)]),
            ]
        },
        {**expected, "NextToken": "page-2"},
    )


def test_queries_ask_for_tasks_requests_and_p95():
    queries = {q["Id"]: q["MetricStat"] for q in metric_queries(TARGET, 60)}
    assert queries["desired"]["Metric"]["Namespace"] == "ECS/ContainerInsights"
    assert queries["running"]["Metric"]["MetricName"] == "RunningTaskCount"
    assert queries["requests"]["Stat"] == "Sum"
    assert queries["p95"]["Stat"] == "p95"
    assert queries["p95"]["Metric"]["Dimensions"] == [{"Name": "LoadBalancer", "Value": TARGET.load_balancer}]
    assert {d["Name"] for d in queries["running"]["Metric"]["Dimensions"]} == {"ClusterName", "ServiceName"}


def test_report_from_paged_cloudwatch_data(tmp_path):
    client = cloudwatch()
    start, end = minute(0), minute(4)
    with Stubber(client) as stub:
        stub_two_pages(stub, start, end)
        series = fetch_series(client, TARGET, start, end, period=60)
        stub.assert_no_pending_responses()
    report = build_report(series, period=60)
    assert report.desired_tasks == [(minute(0), 1), (minute(1), 1), (minute(2), 2), (minute(3), 2)]
    assert report.running_tasks == [(minute(0), 1), (minute(1), 1), (minute(2), 1), (minute(3), 2)]
    assert report.running_source == "ContainerInsights"
    # RequestCount is a sum per minute: 600 per minute is 10 per second.
    assert report.requests_per_s == [
        (minute(0), 10.0),
        (minute(1), 20.0),
        (minute(2), 30.0),
        (minute(3), 30.0),
    ]
    assert [v for _, v in report.p95_ms] == pytest.approx([45.0, 180.0, 350.0, 90.0])
    assert report.summary() == {
        "max_desired_tasks": 2,
        "max_running_tasks": 2,
        "max_requests_per_s": 30.0,
        "max_p95_ms": pytest.approx(350.0),
    }

    png = draw(report, tmp_path / "reports" / "autoscaling.png")
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000  # a drawn chart, not an empty canvas


def test_running_count_falls_back_to_cpu_samples_without_container_insights():
    series = {"cpusamples": [(minute(0), 2.0), (minute(5), 6.0)], "requests": [(minute(0), 3000.0)]}
    report = build_report(series, period=300)
    # With 5-minute periods each task reports 5 CPU samples.
    assert report.running_tasks == [(minute(0), 0.4), (minute(5), 1.2)]
    assert report.running_source.startswith("AWS/ECS")
    assert report.requests_per_s == [(minute(0), 10.0)]


def test_load_balancer_dimension():
    arn = (
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/city-tasks-alb/50dc6c495c0c9188"
    )
    assert load_balancer_dimension(arn) == "app/city-tasks-alb/50dc6c495c0c9188"
    assert load_balancer_dimension("app/a/b") == "app/a/b"
    with pytest.raises(ValueError, match="ALB ARN"):
        load_balancer_dimension("city-tasks-alb")


def test_cli_refuses_a_backwards_window(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--cluster", "c", "--service", "s", "--load-balancer", "app/a/b",
              "--start", "2026-11-29T10:00:00Z", "--end", "2026-11-29T09:00:00Z"])  # fmt: skip
    assert exc.value.code == 2
    assert "--end must be after --start" in capsys.readouterr().err
