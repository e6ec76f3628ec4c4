"""The Tasks stack (workload account): VPC, Aurora Serverless v2, the Fargate API behind an ALB, alarms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, CustomResource, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.constructs.api_image import api_container_image
from infra.constructs.nag import acknowledge
from infra.constructs.python_function import PythonFunction
from infra.constructs.retention import retention as log_retention
from infra.constructs.service_alarms import ServiceAlarms
from infra.environments import Environment

CONTAINER_NAME = "api"
CONTAINER_PORT = 8080
HEALTH_CHECK_PATH = "/health/ready"
DATABASE_NAME = "city_tasks"
DATABASE_PORT = 5432

# The image's entrypoint is `tasks-api`; these are its commands.
MIGRATE_COMMAND = ["migrate"]
WORKER_COMMAND = ["worker"]
WORKER_CONTAINER_NAME = "worker"
MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "functions" / "migrations"
MIGRATIONS_TIMEOUT = Duration.minutes(15)  # the Lambda's ceiling: pulling and starting a task takes ~1-2 min

# What the image build context must never carry: the asset hash then changes only with the API's inputs.
IMAGE_EXCLUDES = [
    ".git",
    ".venv",
    "**/.venv",
    "node_modules",
    "**/node_modules",
    "cdk.out",
    "**/cdk.out",
    "frontend",
    "tests",
    "docs",
    "loadtests",
    ".ci",
    ".dev",
    "test-artifacts",
    "infra/src",
    "infra/config",
    "infra/org",
    "**/__pycache__",
    "**/*.pyc",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".hypothesis",
]


class TasksStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: Environment,
        repo_root: Path,
        auth_issuer: str,
        auth_client_ids: tuple[str, ...],
        cors_origins: tuple[str, ...],
        public_url: str | None = None,
        api_image: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        protect = config.protect_data
        removal = RemovalPolicy.RETAIN if protect else RemovalPolicy.DESTROY
        retention = log_retention(config.log_retention_days)

        # Network: ALB in public subnets, tasks in private subnets with NAT egress (ECR, Cognito JWKS,
        # EventBridge), the database in isolated subnets. AZs: see availability_zones (no synth-time lookup).
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=config.nat_gateways,
            restrict_default_security_group=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
                ec2.SubnetConfiguration(
                    name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
        )
        flow_logs = logs.LogGroup(self, "VpcFlowLogs", retention=retention, removal_policy=removal)
        self.vpc.add_flow_log("FlowLogs", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs))

        self.database = self._database(config, removal, retention)
        db_secret = self.database.secret
        assert db_secret is not None  # generated credentials always come with a secret

        # Application.
        self.cluster = ecs.Cluster(
            self, "Cluster", vpc=self.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
        )
        self.event_bus = events.EventBus(self, "TaskEvents", event_bus_name=f"city-tasks-{config.name}")
        self.log_group = logs.LogGroup(self, "ApiLogs", retention=retention, removal_policy=removal)
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "ApiTask",
            cpu=config.service.cpu,
            memory_limit_mib=config.service.memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        # One image for the API, the migrations and the worker: built here, or pinned by digest (a pipeline).
        image = api_container_image(self, api_image, repo_root, IMAGE_EXCLUDES)
        # What the API, the migrations and the scheduler worker share.
        self.common_environment = {
            "AUTH_ISSUER": auth_issuer,
            "AUTH_CLIENT_IDS": ",".join(auth_client_ids),
            "CORS_ORIGINS": ",".join(cors_origins),
            "TIME_ZONE": config.time_zone,
            "EVENT_BUS_NAME": self.event_bus.event_bus_name,
            # Migrations run once per deploy as a one-off task (below), never on container start.
            "MIGRATE_ON_START": "false",
            "SCHEDULER_LEASE_SECONDS": str(config.scheduler.lease_seconds),
        }
        # The whole Secrets Manager JSON (host, port, dbname, username, password) as the original did;
        # ECS resolves it at task start, so it never appears in the task definition.
        self.secrets = {"DB_SECRET": ecs.Secret.from_secrets_manager(db_secret)}
        self.container = self.task_definition.add_container(
            CONTAINER_NAME,
            image=image,
            port_mappings=[ecs.PortMapping(container_port=CONTAINER_PORT, name="http")],
            environment={
                **self.common_environment,
                # The scheduler is its own service (WorkerService): API tasks never poll the database.
                "SCHEDULER_ENABLED": "false",
                "DRAIN_SECONDS": str(config.shutdown.drain_seconds),
                "GRACEFUL_SHUTDOWN_SECONDS": str(config.shutdown.graceful_shutdown_seconds),
            },
            secrets=self.secrets,
            logging=ecs.LogDrivers.aws_logs(stream_prefix=CONTAINER_NAME, log_group=self.log_group),
            stop_timeout=Duration.seconds(config.shutdown.stop_timeout_seconds),
        )
        # Only the scheduler worker publishes TaskExecuted events; the API's task role gets nothing.

        # Its own group, so that the one-off migration task can run in it before the service exists.
        self.service_security_group = ec2.SecurityGroup(
            self,
            "ApiSecurityGroup",
            vpc=self.vpc,
            description="City Tasks API tasks (service and migrations)",
        )
        self.database.connections.allow_default_port_from(
            self.service_security_group, "Tasks API to PostgreSQL"
        )
        self.migrations = self._migrations(config, retention)

        self.service = ecs.FargateService(
            self,
            "ApiService",
            cluster=self.cluster,
            task_definition=self.task_definition,
            # No desired count: autoscaling owns it (min_tasks..max_tasks) and a deploy keeps the current one
            # instead of resetting a scaled-out service.
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            assign_public_ip=False,
            security_groups=[self.service_security_group],
            health_check_grace_period=Duration.seconds(60),
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )
        # A new task definition reaches the service only after its image's migrations are applied.
        self.service.node.add_dependency(self.migrations)
        self.worker_service = self._worker(config, image)

        self.load_balancer, listener, self.api_url = self._load_balancer(config, removal, public_url)
        self.target_group = self._target_group(config, listener)
        self._autoscaling(config)
        self.alarms = ServiceAlarms(
            self,
            "Alarms",
            load_balancer=self.load_balancer,
            target_group=self.target_group,
            email=config.alarm_email,
        )

        CfnOutput(self, "ApiUrl", value=self.api_url)
        CfnOutput(self, "LoadBalancerDns", value=self.load_balancer.load_balancer_dns_name)
        CfnOutput(self, "ApiOriginId", value=self.api_origin.vpc_origin_id)
        CfnOutput(self, "ApiOriginDomain", value=self.api_origin_domain)
        CfnOutput(self, "EventBusName", value=self.event_bus.event_bus_name)
        CfnOutput(self, "DbSecretArn", value=db_secret.secret_arn)
        CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn)
        CfnOutput(self, "ClusterName", value=self.cluster.cluster_name)
        CfnOutput(self, "ServiceName", value=self.service.service_name)
        CfnOutput(self, "WorkerServiceName", value=self.worker_service.service_name)
        self._acknowledge(config)

    def _worker(self, config: Environment, image: ecs.ContainerImage) -> ecs.FargateService:
        """The scheduler's executor (`tasks-api worker`) as its own small service, `worker_tasks` strong."""
        sizes = config.scheduler
        task_definition = ecs.FargateTaskDefinition(
            self,
            "WorkerTask",
            cpu=sizes.cpu,
            memory_limit_mib=sizes.memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        task_definition.add_container(
            WORKER_CONTAINER_NAME,
            image=image,
            command=WORKER_COMMAND,
            environment=self.common_environment,
            secrets=self.secrets,
            logging=ecs.LogDrivers.aws_logs(stream_prefix=WORKER_CONTAINER_NAME, log_group=self.log_group),
            # SIGTERM: the worker finishes the batch in hand within half a lease, then exits.
            stop_timeout=Duration.seconds(sizes.worker_stop_timeout_seconds(config.shutdown.margin_seconds)),
        )
        self.event_bus.grant_put_events_to(task_definition.task_role)
        acknowledge(
            task_definition,
            "ECS2",
            "The plain environment holds public settings only (issuer, client ids, zone, bus name); the "
            "database credentials are injected as a Secrets Manager secret.",
        )
        execution_role = task_definition.execution_role
        assert execution_role is not None
        acknowledge(
            execution_role,
            "IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions; pulls are scoped to one repo.",
        )
        worker = ecs.FargateService(
            self,
            "WorkerService",
            cluster=self.cluster,
            task_definition=task_definition,
            desired_count=sizes.worker_tasks,
            min_healthy_percent=100 if sizes.worker_tasks else 0,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            assign_public_ip=False,
            security_groups=[self.service_security_group],
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )
        worker.node.add_dependency(self.migrations)
        return worker

    def _migrations(self, config: Environment, retention: logs.RetentionDays) -> CustomResource:
        """`tasks-api migrate` as a one-off Fargate task, run by a custom resource whenever the task
        definition changes (a new image or settings), and waited for: a failure fails the deploy."""
        runner = PythonFunction(
            self,
            "MigrationsRunner",
            source=MIGRATIONS_DIR,
            handler="handler.handler",
            log_retention=retention,
            timeout=MIGRATIONS_TIMEOUT,
        )
        task_definition = self.task_definition
        family_arn = self.format_arn(
            service="ecs", resource="task-definition", resource_name=f"{task_definition.family}:*"
        )
        runner.role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecs:RunTask"],
                resources=[family_arn],
                conditions={"ArnEquals": {"ecs:cluster": self.cluster.cluster_arn}},
            )
        )
        runner.role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecs:DescribeTasks"],
                resources=[
                    self.format_arn(
                        service="ecs", resource="task", resource_name=f"{self.cluster.cluster_name}/*"
                    )
                ],
            )
        )
        passed_roles = [task_definition.task_role]
        if task_definition.execution_role is not None:
            passed_roles.append(task_definition.execution_role)
        runner.role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[role.role_arn for role in passed_roles],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            )
        )
        cluster_id = self.get_logical_id(self.cluster.node.default_child)  # type: ignore[arg-type]
        prefix = f"arn:<AWS::Partition>:ecs:{self.region}:{self.account}"
        acknowledge(
            runner.role,
            f"IAM5[Resource::{prefix}:task-definition/{task_definition.family}:*]",
            "RunTask is scoped to the API's task-definition family in this cluster; any revision, so that a "
            "rollback can run the previous one.",
        )
        acknowledge(
            runner.role,
            f"IAM5[Resource::{prefix}:task/<{cluster_id}>/*]",
            "DescribeTasks on this cluster's tasks only; task ids are random, so they cannot be named ahead.",
        )
        subnets = self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnet_ids
        migrations = CustomResource(
            self,
            "Migrations",
            service_token=runner.function.function_arn,
            resource_type="Custom::DatabaseMigrations",
            properties={
                "Cluster": self.cluster.cluster_name,
                # A new revision (new image or settings) changes this, so each such deploy migrates once.
                "TaskDefinition": task_definition.task_definition_arn,
                "ContainerName": CONTAINER_NAME,
                "Command": MIGRATE_COMMAND,
                "Subnets": subnets,
                "SecurityGroups": [self.service_security_group.security_group_id],
                "LogGroup": self.log_group.log_group_name,
                "StreamPrefix": CONTAINER_NAME,
            },
        )
        # The task needs the database (and its ingress rule) and a route out (ECR, Secrets Manager).
        migrations.node.add_dependency(self.database, self.vpc)
        return migrations

    @property
    def availability_zones(self) -> list[str]:
        """The region's first two AZs, resolved by CloudFormation (the default is a synth-time lookup)."""
        return [Fn.select(0, Fn.get_azs()), Fn.select(1, Fn.get_azs())]

    def _database(
        self, config: Environment, removal: RemovalPolicy, retention: logs.RetentionDays
    ) -> rds.DatabaseCluster:
        identifier = f"city-tasks-{config.name}"
        # Created first and named as Aurora names it, so the log group has a retention and no custom resource.
        db_logs = logs.LogGroup(
            self,
            "DatabaseLogs",
            log_group_name=f"/aws/rds/cluster/{identifier}/postgresql",
            retention=retention,
            removal_policy=removal,
        )
        sizes = config.database
        # dbname in the secret too: the API builds its URL from this JSON alone (the attachment adds host).
        self.db_credentials = rds.DatabaseSecret(
            self,
            "DatabaseSecret",
            username="city_tasks_admin",
            dbname=DATABASE_NAME,
            secret_name=f"city-tasks/{config.name}/database",
        )
        cluster = rds.DatabaseCluster(
            self,
            "Database",
            cluster_identifier=identifier,
            engine=rds.DatabaseClusterEngine.aurora_postgres(
                version=rds.AuroraPostgresEngineVersion.VER_16_13
            ),
            writer=rds.ClusterInstance.serverless_v2("Writer", publicly_accessible=False),
            readers=[
                rds.ClusterInstance.serverless_v2(f"Reader{i + 1}", scale_with_writer=True)
                for i in range(sizes.readers)
            ],
            serverless_v2_min_capacity=sizes.min_acu,
            serverless_v2_max_capacity=sizes.max_acu,
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            port=DATABASE_PORT,
            credentials=rds.Credentials.from_secret(self.db_credentials),
            default_database_name=DATABASE_NAME,
            storage_encrypted=True,
            iam_authentication=True,
            cloudwatch_logs_exports=["postgresql"],
            backup=rds.BackupProps(retention=Duration.days(sizes.backup_retention_days)),
            deletion_protection=config.protect_data,
            removal_policy=RemovalPolicy.SNAPSHOT if config.protect_data else removal,
        )
        cluster.node.add_dependency(db_logs)
        return cluster

    def _load_balancer(
        self, config: Environment, removal: RemovalPolicy, public_url: str | None
    ) -> tuple[elbv2.ApplicationLoadBalancer, elbv2.ApplicationListener, str]:
        """An internal ALB, reachable only through CloudFront's VPC origin (no internet path to it)."""
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # ALB log delivery supports SSE-S3 only
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
            removal_policy=removal,
            auto_delete_objects=False,
        )
        acknowledge(
            access_logs, "S1", "This bucket receives the ALB access logs; logging it again would loop."
        )
        alb = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=self.vpc,
            internet_facing=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            drop_invalid_header_fields=True,
        )
        alb.log_access_logs(access_logs, prefix="alb")

        domains = config.domains
        https = bool(domains.api_certificate_arn)
        port = 443 if https else 80
        if https:
            listener = alb.add_listener(
                "Https",
                port=port,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_arn(domains.api_certificate_arn or "")],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                open=False,
            )
        else:
            # Plain HTTP only inside the VPC: CloudFront's VPC origin reaches the ALB over AWS's network.
            listener = alb.add_listener(
                "Http", port=port, protocol=elbv2.ApplicationProtocol.HTTP, open=False
            )
        # CloudFront's VPC-origin network interfaces live in this VPC; nothing outside it can connect.
        alb.connections.allow_from(
            ec2.Peer.ipv4(self.vpc.vpc_cidr_block), ec2.Port.tcp(port), "CloudFront VPC origin (in this VPC)"
        )
        acknowledge(
            alb,
            "EC23",
            "The internal ALB admits only this VPC's own CIDR (CloudFront's VPC-origin interfaces); the rule "
            "cannot read the CIDR because CloudFormation resolves it. Nothing outside the VPC can connect.",
        )
        self.api_origin = cloudfront.VpcOrigin(
            self,
            "ApiVpcOrigin",
            endpoint=cloudfront.VpcOriginEndpoint.application_load_balancer(alb),
            vpc_origin_name=f"city-tasks-api-{config.name}",
            protocol_policy=(
                cloudfront.OriginProtocolPolicy.HTTPS_ONLY
                if https
                else cloudfront.OriginProtocolPolicy.HTTP_ONLY
            ),
            http_port=80,
            https_port=443,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
        )
        # The name CloudFront asks for: with a certificate it must match it (an alias to the internal ALB).
        self.api_origin_domain = (
            domains.api_domain if https and domains.api_domain else alb.load_balancer_dns_name
        )
        # The public entry is the CloudFront distribution (the API under /api/*), known once it exists.
        api_url = public_url or "pending-frontend-deploy"

        if domains.api_domain and domains.hosted_zone_id and domains.hosted_zone_name:
            zone = route53.HostedZone.from_hosted_zone_attributes(
                self, "Zone", hosted_zone_id=domains.hosted_zone_id, zone_name=domains.hosted_zone_name
            )
            route53.ARecord(
                self,
                "ApiAlias",
                zone=zone,
                record_name=domains.api_domain,
                target=route53.RecordTarget.from_alias(targets.LoadBalancerTarget(alb)),
            )
        return alb, listener, api_url

    def _target_group(
        self, config: Environment, listener: elbv2.ApplicationListener
    ) -> elbv2.ApplicationTargetGroup:
        return listener.add_targets(
            "Api",
            port=CONTAINER_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[
                self.service.load_balancer_target(
                    container_name=CONTAINER_NAME, container_port=CONTAINER_PORT
                )
            ],
            health_check=elbv2.HealthCheck(
                path=HEALTH_CHECK_PATH,
                healthy_http_codes="200",
                interval=Duration.seconds(15),
                timeout=Duration.seconds(10),
                healthy_threshold_count=3,
                unhealthy_threshold_count=2,
            ),
            deregistration_delay=Duration.seconds(config.shutdown.deregistration_delay_seconds),
        )

    def _autoscaling(self, config: Environment) -> None:
        # Targets from the measured capacity per task (infra/config/environments.yaml names the measurement).
        sizes = config.service
        scaling = self.service.auto_scale_task_count(
            min_capacity=sizes.min_tasks, max_capacity=sizes.max_tasks
        )
        scale_in_cooldown = Duration.seconds(sizes.scale_in_cooldown_seconds)
        scale_out_cooldown = Duration.seconds(sizes.scale_out_cooldown_seconds)
        scaling.scale_on_cpu_utilization(
            "Cpu",
            target_utilization_percent=sizes.cpu_target_percent,
            scale_in_cooldown=scale_in_cooldown,
            scale_out_cooldown=scale_out_cooldown,
        )
        if sizes.requests_per_target:
            scaling.scale_on_request_count(
                "Requests",
                requests_per_target=sizes.requests_per_target,
                target_group=self.target_group,
                scale_in_cooldown=scale_in_cooldown,
                scale_out_cooldown=scale_out_cooldown,
            )

    def _acknowledge(self, config: Environment) -> None:
        acknowledge(
            self.task_definition,
            "ECS2",
            "The plain environment holds public settings only (issuer, client ids, origins, zone, bus name); "
            "the database credentials are injected as a Secrets Manager secret.",
        )
        execution_role = self.task_definition.execution_role
        assert execution_role is not None
        acknowledge(
            execution_role,
            "IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions; pulls are scoped to one repo.",
        )
        acknowledge(
            self.db_credentials,
            "SMG4",
            "The API reads DB_SECRET once at task start, so rotating it needs a rolling restart that is not "
            "automated yet; the secret is only readable by the task execution role.",
        )
        if not config.protect_data:
            acknowledge(
                self.database,
                "RDS10",
                f"{config.name} is a non-production environment whose database is disposable; prod enables "
                "deletion protection (protect_data).",
            )
