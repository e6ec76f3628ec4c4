"""A Python arm64 Lambda with its own log group and a role scoped to that group (no managed policies)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

RUNTIME = lambda_.Runtime.PYTHON_3_14


class PythonFunction(Construct):
    """`handler` is `module.function` inside `source` (a directory shipped as-is: stdlib and boto3 only)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: Path,
        handler: str,
        log_retention: logs.RetentionDays,
        environment: dict[str, str] | None = None,
        timeout: Duration = Duration.seconds(10),
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        # Inline and scoped to this function's own group instead of AWSLambdaBasicExecutionRole.
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            )
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=lambda_.Code.from_asset(str(source), exclude=["__pycache__", "*.pyc"]),
            role=self.role,
            log_group=self.log_group,
            timeout=timeout,
            memory_size=256,
            environment=environment or {},
        )
