"""CloudFormation custom resource: run `tasks-api migrate` once as a one-off ECS task and wait for it.

The Tasks stack orders the API service after this resource, so a new task definition only reaches the
service once the migrations of its image are applied. Create and Update run the task; Delete does nothing.
A non-zero exit fails the resource (and the deploy rolls back) with the reason and where the log is.
Standard library and boto3 only: the directory is shipped as the Lambda's code as-is.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3

POLL_SECONDS = 10.0
# Stop waiting this long before the Lambda's own timeout, so CloudFormation always gets an answer.
ANSWER_MARGIN_SECONDS = 30.0


class MigrationFailed(RuntimeError):
    """The one-off task did not finish with exit code 0; the message says why and where its log is."""


def handler(
    event: dict[str, Any], context: Any, ecs: Any = None, sleep: Callable[[float], None] = time.sleep
) -> None:
    physical_id = event.get("PhysicalResourceId") or f"migrations-{event['LogicalResourceId']}"
    try:
        data: dict[str, str] = {}
        if event["RequestType"] in ("Create", "Update"):
            props = event["ResourceProperties"]
            ecs = ecs or boto3.client("ecs")
            seconds_left = context.get_remaining_time_in_millis() / 1000 - ANSWER_MARGIN_SECONDS
            data["TaskArn"] = run_migrations(ecs, props, seconds_left, sleep)
        respond(event, "SUCCESS", physical_id, data=data)
    except Exception as exc:  # CloudFormation must hear about every failure, or it waits for an hour
        respond(event, "FAILED", physical_id, reason=str(exc)[:900])


def run_migrations(
    ecs: Any, props: dict[str, Any], seconds_left: float, sleep: Callable[[float], None]
) -> str:
    """Start the task with the migrate command, wait until it stops, and check its exit code."""
    started = ecs.run_task(
        cluster=props["Cluster"],
        taskDefinition=props["TaskDefinition"],
        launchType="FARGATE",
        count=1,
        startedBy="cfn-migrations",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": list(props["Subnets"]),
                "securityGroups": list(props["SecurityGroups"]),
                "assignPublicIp": "DISABLED",
            }
        },
        overrides={
            "containerOverrides": [{"name": props["ContainerName"], "command": list(props["Command"])}]
        },
    )
    if started.get("failures") or not started.get("tasks"):
        raise MigrationFailed(f"ECS could not start the migration task: {started.get('failures')}")
    task_arn = started["tasks"][0]["taskArn"]
    deadline = time.monotonic() + seconds_left
    while True:
        (task,) = ecs.describe_tasks(cluster=props["Cluster"], tasks=[task_arn])["tasks"]
        if task["lastStatus"] == "STOPPED":
            break
        if time.monotonic() >= deadline:
            raise MigrationFailed(
                f"the migration task {task_arn} was still {task['lastStatus']} at the timeout"
            )
        sleep(POLL_SECONDS)
    container = next(c for c in task["containers"] if c["name"] == props["ContainerName"])
    exit_code = container.get("exitCode")
    if exit_code != 0:
        task_id = task_arn.rsplit("/", 1)[-1]
        stream = f"{props['StreamPrefix']}/{props['ContainerName']}/{task_id}"
        where = f"log group {props['LogGroup']}, stream {stream}"
        why = container.get("reason") or task.get("stoppedReason", "no reason given")
        raise MigrationFailed(f"`tasks-api migrate` exited with {exit_code} ({why}); see {where}")
    return task_arn


def respond(
    event: dict[str, Any],
    status: str,
    physical_id: str,
    *,
    data: dict[str, str] | None = None,
    reason: str = "",
) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason or status,
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data or {},
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - the pre-signed https URL CloudFormation gave us
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310
        pass
