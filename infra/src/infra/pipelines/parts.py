"""Pieces both pipeline stacks share: the encrypted artifact store and the CodeBuild projects."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.nag import acknowledge
from infra.pipelines.commands import BASE_PACKAGES, CI_IMAGE

BUILD_TIMEOUT = Duration.hours(1)
LOG_RETENTION = logs.RetentionDays.SIX_MONTHS


class ArtifactStore(Construct):
    """A KMS key (rotated), an access-log bucket and a versioned, encrypted, TLS-only artifact bucket."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self, "Key", enable_key_rotation=True, description="City Tasks pipeline artifacts and build logs"
        )
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
        )
        acknowledge(
            self.access_logs, "S1", "This bucket receives the access logs; logging it again would loop."
        )
        self.bucket = self.encrypted_bucket("Artifacts", "artifacts/")

    def encrypted_bucket(self, construct_id: str, log_prefix: str, **kwargs: object) -> s3.Bucket:
        return s3.Bucket(
            self,
            construct_id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=log_prefix,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90))],
            **kwargs,  # type: ignore[arg-type]
        )


def build_project(
    scope: Construct,
    construct_id: str,
    *,
    store: ArtifactStore,
    description: str,
    commands: Sequence[str],
    install: Sequence[str] = BASE_PACKAGES,
    image: codebuild.IBuildImage | None = None,
    compute: codebuild.ComputeType = codebuild.ComputeType.SMALL,
    privileged: bool = False,
    assume_roles: Sequence[str] = (),
    role_name: str | None = None,
    environment: dict[str, str] | None = None,
    runtimes: dict[str, str] | None = None,
) -> codebuild.PipelineProject:
    """An arm64 Linux CodeBuild project whose build phase is `commands` (make targets, see commands.py)."""
    log_group = logs.LogGroup(
        scope, f"{construct_id}Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.RETAIN
    )
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        role_name=role_name,
        assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"),
        description=description,
    )
    if assume_roles:
        # Only the CDK bootstrap roles of the accounts this step deploys to (see roles.py).
        role.add_to_policy(iam.PolicyStatement(actions=["sts:AssumeRole"], resources=list(assume_roles)))
    variables = {"CI": "true", "PIP_BREAK_SYSTEM_PACKAGES": "1", **(environment or {})}
    project = codebuild.PipelineProject(
        scope,
        construct_id,
        description=description,
        role=role,
        encryption_key=store.key,
        timeout=BUILD_TIMEOUT,
        environment=codebuild.BuildEnvironment(
            build_image=image or codebuild.LinuxArmBuildImage.from_docker_registry(CI_IMAGE),
            compute_type=compute,
            privileged=privileged,
        ),
        environment_variables={
            k: codebuild.BuildEnvironmentVariable(value=v) for k, v in sorted(variables.items())
        },
        logging=codebuild.LoggingOptions(cloud_watch=codebuild.CloudWatchLoggingOptions(log_group=log_group)),
        build_spec=codebuild.BuildSpec.from_object(
            {
                "version": "0.2",
                "phases": {
                    "install": {
                        "commands": list(install),
                        **({"runtime-versions": runtimes} if runtimes else {}),
                    },
                    "build": {"commands": list(commands)},
                },
                "artifacts": {"files": ["**/*"], "exclude-paths": ["**/node_modules/**", "**/.venv/**"]},
            }
        ),
    )
    logical_id = Stack.of(scope).get_logical_id(project.node.default_child)  # type: ignore[arg-type]
    for finding in (
        f"Resource::arn:<AWS::Partition>:logs:{Stack.of(scope).region}:{Stack.of(scope).account}:"
        f"log-group:/aws/codebuild/<{logical_id}>:*",
        f"Resource::arn:<AWS::Partition>:codebuild:{Stack.of(scope).region}:{Stack.of(scope).account}:"
        f"report-group/<{logical_id}>-*",
    ):
        acknowledge(
            role,
            f"IAM5[{finding}]",
            "CodeBuild's default grants for this one project's own log streams and test report groups.",
        )
    if image is None:  # the default: the custom Debian image below
        acknowledge(
            project,
            "CB5",
            "Debian bookworm with Node 20 (ECR Public's official image) is the base the project's machines "
            "and pull-request CI use; .ci/run installs Debian's PostgreSQL and Chromium for the tests.",
        )
    return project


def acknowledge_artifact_grants(stack: Stack, store: ArtifactStore) -> None:
    """CDK's read/write grants on the artifact bucket and its key, on every role of the pipeline stack."""
    bucket_id = stack.get_logical_id(store.bucket.node.default_child)  # type: ignore[arg-type]
    findings = (
        "Action::kms:ReEncrypt*",
        "Action::kms:GenerateDataKey*",
        "Action::s3:GetObject*",
        "Action::s3:GetBucket*",
        "Action::s3:List*",
        "Action::s3:DeleteObject*",
        "Action::s3:Abort*",
        f"Resource::<{bucket_id}.Arn>/*",
    )
    for role in (c for c in stack.node.find_all() if isinstance(c, iam.Role)):
        for finding in findings:
            acknowledge(
                role,
                f"IAM5[{finding}]",
                "CDK's grants that let pipeline actions read and write their artifacts: limited to this "
                "pipeline's artifact bucket and its KMS key.",
            )
