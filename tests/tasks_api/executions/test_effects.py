"""Effects against EventBridge in moto's server mode (real HTTP on 127.0.0.1), and the log line."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tasks_api.executions.clock import FakeClock
from tasks_api.executions.effects import EventPublisher, TaskEffects
from tasks_api.executions.executor import Executor
from tasks_api.executions.repository import Due
from tasks_api.settings import Settings

from tests.support.moto import moto_server
from tests.tasks_api.executions.conftest import add_task, executions_of

BUS = "city-tasks"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def moto_url(aws_env: None) -> Iterator[str]:
    with moto_server() as url:
        yield url
        httpx.post(f"{url}/moto-api/reset")  # moto keeps its state per process, across servers


@pytest.fixture
def captured(moto_url: str) -> Any:
    """A bus with a rule for the scheduler's events that forwards them to an SQS queue we can read."""
    events = boto3.client("events", endpoint_url=moto_url)
    sqs = boto3.client("sqs", endpoint_url=moto_url)
    events.create_event_bus(Name=BUS)
    queue_url = sqs.create_queue(QueueName="captured")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="task-executed",
        EventBusName=BUS,
        EventPattern=json.dumps({"source": ["city.tasks"], "detail-type": ["TaskExecuted"]}),
    )
    events.put_targets(Rule="task-executed", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])

    def receive() -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        for _ in range(20):
            batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            messages.extend(json.loads(m["Body"]) for m in batch)
        return messages

    return receive


def due(n: int, **fields: Any) -> Due:
    values: dict[str, Any] = {
        "execution_id": 1000 + n,
        "task_id": n,
        "job_id": f"job-{n}",
        "task_name": "lights",
        "slot": datetime(2024, 6, 4, 8, 0, tzinfo=UTC),
        "attempt": 1,
        "device_id": f"lamp-{n}",
        "device_operation": "DEACTIVATE",
    }
    values.update(fields)
    return Due(**values)


async def test_put_events_sends_one_event_per_execution(moto_url: str, captured: Any) -> None:
    publisher = EventPublisher.from_settings(Settings(event_bus_name=BUS, aws_endpoint_url=moto_url))
    assert publisher is not None
    batch = [due(n) for n in range(1, 13)]  # more than one PutEvents call (10 entries each)
    errors = await TaskEffects(publisher).perform(batch)
    assert errors == {}
    events = captured()
    assert len(events) == 12
    assert {(e["source"], e["detail-type"]) for e in events} == {("city.tasks", "TaskExecuted")}
    by_task = {e["detail"]["taskId"]: e["detail"] for e in events}
    assert by_task[7] == {
        "taskId": 7,
        "jobId": "job-7",
        "executionId": 1007,
        "slot": "2024-06-04T08:00:00Z",
        "attempt": 1,
        "deviceId": "lamp-7",
        "deviceOperation": "DEACTIVATE",
    }


def test_no_bus_means_no_publisher() -> None:
    assert EventPublisher.from_settings(Settings(event_bus_name=None)) is None


async def test_the_executor_publishes_when_a_task_runs(
    engine: AsyncEngine, moto_url: str, captured: Any
) -> None:
    clock = FakeClock(datetime(2024, 6, 4, 7, tzinfo=UTC))
    task_id = await add_task(
        engine, hour=8, minute=0, device_id="valve-9", device_operation="ACTIVATE", now=clock.now()
    )
    settings = Settings(event_bus_name=BUS, aws_endpoint_url=moto_url)
    executor = Executor.from_settings(settings, engine, clock)
    clock.set(datetime(2024, 6, 4, 8, 0, 2, tzinfo=UTC))
    await executor.run_once()
    [execution] = await executions_of(engine, task_id)
    assert execution.status == "SUCCEEDED"
    [event] = captured()
    assert event["detail"]["taskId"] == task_id
    assert event["detail"]["deviceId"] == "valve-9"
    assert event["detail"]["slot"] == "2024-06-04T08:00:00Z"


async def test_an_unreachable_event_bus_fails_the_execution_and_schedules_a_retry(
    engine: AsyncEngine, aws_env: None
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    clock = FakeClock(datetime(2024, 6, 4, 7, tzinfo=UTC))
    task_id = await add_task(engine, now=clock.now())
    executor = Executor.from_settings(Settings(event_bus_name=BUS, aws_endpoint_url=closed), engine, clock)
    clock.set(datetime(2024, 6, 4, 8, 0, 2, tzinfo=UTC))
    await executor.run_once()
    [execution] = await executions_of(engine, task_id)
    assert execution.status == "FAILED"
    assert execution.error.startswith("PutEvents failed: Could not connect")
    assert execution.next_attempt_at == clock.now() + timedelta(seconds=2)


async def test_a_rejected_entry_fails_only_its_execution() -> None:
    class PartlyFailing:
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            results: list[dict[str, Any]] = [{"EventId": "ok"} for _ in Entries]
            results[1] = {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
            return {"FailedEntryCount": 1, "Entries": results}

    errors = await TaskEffects(EventPublisher(BUS, PartlyFailing())).perform([due(1), due(2), due(3)])
    assert errors == {1002: "PutEvents entry failed: InternalFailure: try again"}


async def test_each_execution_writes_a_structured_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="tasks_api.executions")
    await TaskEffects().perform([due(5)])
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "task_executed"]
    assert record.task_id == 5  # type: ignore[attr-defined]
    assert record.job_id == "job-5"  # type: ignore[attr-defined]
    assert record.slot == "2024-06-04T08:00:00+00:00"  # type: ignore[attr-defined]
    assert record.device_id == "lamp-5"  # type: ignore[attr-defined]
    assert record.device_operation == "DEACTIVATE"  # type: ignore[attr-defined]
