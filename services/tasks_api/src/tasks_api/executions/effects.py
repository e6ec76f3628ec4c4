"""What running a task does: a structured log line and, when a bus is configured, an EventBridge event.

Effects run after the claim has committed, so they can happen more than once for one execution
(a process that dies after the effect but before recording it). Consumers de-duplicate on
``(taskId, slot)``, which is unique per execution.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Sequence
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from tasks_api.executions.repository import Due
from tasks_api.settings import Settings

logger = logging.getLogger("tasks_api.executions")

EVENT_SOURCE = "city.tasks"
EVENT_DETAIL_TYPE = "TaskExecuted"
_PUT_EVENTS_MAX_ENTRIES = 10  # the PutEvents limit per call


class Effects(Protocol):
    async def perform(self, batch: Sequence[Due]) -> dict[int, str]:
        """Perform every execution in ``batch``; return the error text by execution id for failures."""
        ...


def event_detail(due: Due) -> dict[str, Any]:
    return {
        "taskId": due.task_id,
        "jobId": due.job_id,
        "executionId": due.execution_id,
        "slot": due.slot.isoformat().replace("+00:00", "Z"),
        "attempt": due.attempt,
        "deviceId": due.device_id,
        "deviceOperation": due.device_operation,
    }


class EventPublisher:
    """PutEvents in chunks of ten; a failed call or a failed entry becomes that execution's error."""

    def __init__(self, bus_name: str, client: Any) -> None:
        self.bus_name = bus_name
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> EventPublisher | None:
        if not settings.event_bus_name:
            return None
        # Imported here: boto3 takes a while to load and a process without a bus never needs it.
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "events",
            endpoint_url=settings.aws_endpoint_url,
            # ECS sets AWS_REGION; boto3 itself falls back to AWS_DEFAULT_REGION and the profile.
            region_name=os.environ.get("AWS_REGION") or None,
            # Far inside the lease: a slow call must fail and be retried, not outlive its claim.
            config=Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"}),
        )
        return cls(settings.event_bus_name, client)

    def publish(self, batch: Sequence[Due]) -> dict[int, str]:
        """Blocking (boto3): call it in a worker thread."""
        entries = [
            {
                "Source": EVENT_SOURCE,
                "DetailType": EVENT_DETAIL_TYPE,
                "Detail": json.dumps(event_detail(due)),
                "EventBusName": self.bus_name,
                "Resources": [],
            }
            for due in batch
        ]
        try:
            response = self.client.put_events(Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            return {due.execution_id: f"PutEvents failed: {exc}" for due in batch}
        errors: dict[int, str] = {}
        for due, result in zip(batch, response.get("Entries", []), strict=False):
            if result.get("ErrorCode"):
                errors[due.execution_id] = (
                    f"PutEvents entry failed: {result['ErrorCode']}: {result.get('ErrorMessage', '')}"
                )
        for due in batch[len(response.get("Entries", [])) :]:
            errors[due.execution_id] = "PutEvents returned no result for this entry"
        return errors


class TaskEffects:
    """The production effect: the event (when a bus is set), then one log line per execution."""

    def __init__(self, publisher: EventPublisher | None = None) -> None:
        self.publisher = publisher

    async def perform(self, batch: Sequence[Due]) -> dict[int, str]:
        errors: dict[int, str] = {}
        if self.publisher is not None and batch:
            chunks = [
                batch[start : start + _PUT_EVENTS_MAX_ENTRIES]
                for start in range(0, len(batch), _PUT_EVENTS_MAX_ENTRIES)
            ]
            for chunk_errors in await asyncio.gather(
                *(asyncio.to_thread(self.publisher.publish, chunk) for chunk in chunks)
            ):
                errors.update(chunk_errors)
        for due in batch:
            log_execution(due, errors.get(due.execution_id))
        return errors


def log_execution(due: Due, error: str | None) -> None:
    fields = {
        "event": "task_executed" if error is None else "task_execution_failed",
        "task_id": due.task_id,
        "job_id": due.job_id,
        "execution_id": due.execution_id,
        "slot": due.slot.isoformat(),
        "attempt": due.attempt,
        "device_id": due.device_id,
        "device_operation": due.device_operation,
    }
    if error is None:
        logger.info("task executed", extra=fields)
    else:
        logger.warning("task execution failed: %s", error, extra={**fields, "error": error})
