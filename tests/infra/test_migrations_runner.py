"""The custom resource that runs `tasks-api migrate` as a one-off ECS task before the service update.

ECS answers come from botocore's Stubber; CloudFormation's pre-signed response URL is a real local HTTP
server, so the test sees exactly what CloudFormation would receive.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from infra.functions.migrations import handler as runner

from devstack.net import free_port

TASK_ARN = "arn:aws:ecs:us-east-1:111111111111:task/city-cluster/0123456789abcdef"
PROPS = {
    "ServiceToken": "arn:aws:lambda:us-east-1:111111111111:function:runner",
    "Cluster": "city-cluster",
    "TaskDefinition": "arn:aws:ecs:us-east-1:111111111111:task-definition/CityApi:7",
    "ContainerName": "api",
    "Command": ["migrate"],
    "Subnets": ["subnet-a", "subnet-b"],
    "SecurityGroups": ["sg-api"],
    "LogGroup": "city-api-logs",
    "StreamPrefix": "api",
}


class CloudFormation:
    """Collects the responses PUT to the pre-signed URL."""

    def __init__(self) -> None:
        self.responses: list[dict[str, Any]] = []
        received = self.responses

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/response?signature=abc"


@pytest.fixture
def cloudformation() -> Iterator[CloudFormation]:
    cfn = CloudFormation()
    thread = threading.Thread(target=cfn.server.serve_forever, daemon=True)
    thread.start()
    yield cfn
    cfn.server.shutdown()
    cfn.server.server_close()


class LambdaContext:
    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def _event(cfn: CloudFormation, request_type: str) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": cfn.url,
        "StackId": "arn:aws:cloudformation:us-east-1:111111111111:stack/CityTasks-Tasks-sandbox/1",
        "RequestId": "req-1",
        "LogicalResourceId": "Migrations",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": PROPS,
    }


def _ecs() -> tuple[Any, Stubber]:
    client = boto3.client("ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def _task(status: str, exit_code: int | None = None, reason: str | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "api"}
    if exit_code is not None:
        container["exitCode"] = exit_code
    if reason:
        container["reason"] = reason
    return {"tasks": [{"taskArn": TASK_ARN, "lastStatus": status, "containers": [container]}]}


def _expect_run(stub: Stubber) -> None:
    stub.add_response(
        "run_task",
        {"tasks": [{"taskArn": TASK_ARN, "lastStatus": "PROVISIONING"}], "failures": []},
        {
            "cluster": "city-cluster",
            "taskDefinition": PROPS["TaskDefinition"],
            "launchType": "FARGATE",
            "count": 1,
            "startedBy": "cfn-migrations",
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": ["subnet-a", "subnet-b"],
                    "securityGroups": ["sg-api"],
                    "assignPublicIp": "DISABLED",
                }
            },
            "overrides": {"containerOverrides": [{"name": "api", "command": ["migrate"]}]},
        },
    )


def test_runs_the_migrate_command_waits_for_it_and_reports_success(cloudformation) -> None:
    ecs, stub = _ecs()
    _expect_run(stub)
    describe = {"cluster": "city-cluster", "tasks": [TASK_ARN]}
    stub.add_response("describe_tasks", _task("RUNNING"), describe)
    stub.add_response("describe_tasks", _task("STOPPED", exit_code=0), describe)
    sleeps: list[float] = []
    with stub:
        runner.handler(_event(cloudformation, "Create"), LambdaContext(), ecs=ecs, sleep=sleeps.append)
        stub.assert_no_pending_responses()
    (response,) = cloudformation.responses
    assert response["Status"] == "SUCCESS"
    assert response["Data"] == {"TaskArn": TASK_ARN}
    assert response["RequestId"] == "req-1"
    assert sleeps == [runner.POLL_SECONDS]


def test_a_failed_migration_fails_the_resource_with_the_exit_code_and_the_log_stream(cloudformation) -> None:
    ecs, stub = _ecs()
    _expect_run(stub)
    stub.add_response("describe_tasks", _task("STOPPED", exit_code=1, reason="Essential container exited"))
    with stub:
        runner.handler(_event(cloudformation, "Update"), LambdaContext(), ecs=ecs, sleep=lambda _: None)
    (response,) = cloudformation.responses
    assert response["Status"] == "FAILED"
    assert "exited with 1" in response["Reason"]
    assert "log group city-api-logs, stream api/api/0123456789abcdef" in response["Reason"]


def test_a_task_ecs_cannot_place_fails_at_once(cloudformation) -> None:
    ecs, stub = _ecs()
    stub.add_response("run_task", {"tasks": [], "failures": [{"reason": "RESOURCE:MEMORY"}]})
    with stub:
        runner.handler(_event(cloudformation, "Create"), LambdaContext(), ecs=ecs)
    (response,) = cloudformation.responses
    assert response["Status"] == "FAILED"
    assert "RESOURCE:MEMORY" in response["Reason"]


def test_delete_runs_nothing(cloudformation) -> None:
    ecs, stub = _ecs()
    event = {**_event(cloudformation, "Delete"), "PhysicalResourceId": "migrations-Migrations"}
    with stub:  # any ECS call would raise: the stubber has no responses queued
        runner.handler(event, LambdaContext(), ecs=ecs)
    (response,) = cloudformation.responses
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] == "migrations-Migrations"
