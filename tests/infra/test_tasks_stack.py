"""The Tasks stack: ARM64 Fargate API behind an ALB, Aurora Serverless v2, autoscaling, alarms."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Annotations, Match
from tasks_api.cli import uvicorn_config
from tasks_api.settings import Settings

from tests.infra.conftest import DEPLOYED_INPUTS


def _container(synth, name: str = "api") -> dict:
    """The one container called `name` (api: the HTTP service; worker: the scheduler)."""
    (container,) = [
        c
        for task_def in synth.resources("Tasks", "AWS::ECS::TaskDefinition").values()
        for c in task_def["Properties"]["ContainerDefinitions"]
        if c["Name"] == name
    ]
    return container


def _api_service(synth) -> tuple[str, dict]:
    (found,) = [
        (k, v)
        for k, v in synth.resources("Tasks", "AWS::ECS::Service").items()
        if "LoadBalancers" in v["Properties"]
    ]
    return found


def test_task_runs_on_arm64_with_the_configured_size(synth_env, env_name):
    synth = synth_env(env_name)
    synth.template("Tasks").has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "RuntimePlatform": {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
            "RequiresCompatibilities": ["FARGATE"],
            "Cpu": str(synth.config.service.cpu),
            "Memory": str(synth.config.service.memory_mib),
        },
    )


def test_image_is_built_for_arm64_from_the_repo_dockerfile(synth_env):
    synth = synth_env("sandbox")
    manifest = json.loads((synth.outdir / f"{synth.config.stack_name('Tasks')}.assets.json").read_text())
    (image,) = manifest["dockerImages"].values()
    assert image["source"]["dockerFile"] == "Dockerfile.arm64"
    assert image["source"]["platform"] == "linux/arm64"
    context = synth.outdir / image["source"]["directory"]
    shipped = {p.relative_to(context).parts[0] for p in context.rglob("*")}
    assert {"Dockerfile.arm64", "pyproject.toml", "uv.lock", "services"} <= shipped
    assert not shipped & {
        ".venv",
        ".git",
        "tests",
        "frontend",
        "docs",
        "node_modules",
        "cdk.out",
        "loadtests",
    }


def test_database_secret_is_injected_as_a_secret_never_as_plain_environment(synth_env):
    synth = synth_env("sandbox")
    container = _container(synth)
    attachment_id = next(iter(synth.resources("Tasks", "AWS::SecretsManager::SecretTargetAttachment")))
    # The whole JSON secret (attached to the cluster: host, port, dbname, username, password).
    assert container["Secrets"] == [{"Name": "DB_SECRET", "ValueFrom": {"Ref": attachment_id}}]
    # The JSON carries the database name as well (the attachment adds host, port and engine).
    (secret,) = synth.resources("Tasks", "AWS::SecretsManager::Secret").values()
    template = json.loads(secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"])
    assert template == {"username": "city_tasks_admin", "dbname": "city_tasks"}
    names = {e["Name"] for e in container["Environment"]}
    assert "DB_SECRET" not in names
    assert not any("password" in json.dumps(e).lower() for e in container["Environment"])


def test_api_environment_carries_auth_cors_zone_and_bus(sandbox_deployed):
    container = _container(sandbox_deployed)
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env["AUTH_ISSUER"] == DEPLOYED_INPUTS.issuer
    assert env["AUTH_CLIENT_IDS"] == "webclient123,loadclient456"
    assert env["CORS_ORIGINS"] == DEPLOYED_INPUTS.frontend_url
    assert env["TIME_ZONE"] == "America/Guayaquil"
    # Migrations run as a one-off task before the service update, never on container start.
    assert env["MIGRATE_ON_START"] == "false"
    bus_id = next(iter(sandbox_deployed.resources("Tasks", "AWS::Events::EventBus")))
    assert env["EVENT_BUS_NAME"] == {"Ref": bus_id}
    assert container["PortMappings"][0]["ContainerPort"] == 8080


def test_only_the_worker_may_put_events_and_only_on_its_bus(sandbox_deployed):
    policies = sandbox_deployed.resources("Tasks", "AWS::IAM::Policy")
    bus_id = next(iter(sandbox_deployed.resources("Tasks", "AWS::Events::EventBus")))
    statements = [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    put = [
        (name, s)
        for name, p in policies.items()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "events:PutEvents"
    ]
    assert [s for _, s in put] == [
        {"Action": "events:PutEvents", "Effect": "Allow", "Resource": {"Fn::GetAtt": [bus_id, "Arn"]}}
    ]
    assert put[0][0].startswith("WorkerTaskTaskRole")
    assert statements


def test_without_idp_outputs_synth_still_works_and_warns(synth_env):
    synth = synth_env("sandbox")
    env = {e["Name"]: e["Value"] for e in _container(synth)["Environment"]}
    assert "pending-idp-deploy" in env["AUTH_ISSUER"]
    Annotations.from_stack(synth.stack("Tasks")).has_warning("*", Match.string_like_regexp("No IdP outputs"))


@pytest.mark.parametrize(
    ("env_name_", "min_acu", "max_acu"),
    [("sandbox", 0, 4), ("dev", 0, 4), ("test", 0.5, 8), ("prod", 0.5, 16)],
)
def test_aurora_serverless_v2_postgres16_capacity_per_environment(synth_env, env_name_, min_acu, max_acu):
    template = synth_env(env_name_).template("Tasks")
    template.has_resource_properties(
        "AWS::RDS::DBCluster",
        {
            "Engine": "aurora-postgresql",
            "EngineVersion": Match.string_like_regexp(r"^16\."),
            "ServerlessV2ScalingConfiguration": {"MinCapacity": min_acu, "MaxCapacity": max_acu},
            "StorageEncrypted": True,
            "DatabaseName": "city_tasks",
        },
    )
    template.has_resource_properties(
        "AWS::RDS::DBInstance", {"DBInstanceClass": "db.serverless", "PubliclyAccessible": False}
    )


def test_sandbox_matches_the_original_sizes(environments):
    sandbox = environments["sandbox"]
    assert (sandbox.service.cpu, sandbox.service.memory_mib) == (256, 512)
    assert (sandbox.service.min_tasks, sandbox.service.max_tasks) == (1, 2)
    assert (sandbox.database.min_acu, sandbox.database.max_acu) == (0, 4)
    prod = environments["prod"]
    # Its max tasks follow the measured capacity and the planned peak (test_scaling_targets.py).
    assert prod.service.min_tasks == 2
    assert (prod.database.min_acu, prod.database.max_acu) == (0.5, 16)


def test_database_port_is_open_only_to_the_service(synth_env, env_name):
    synth = synth_env(env_name)
    cluster = next(iter(synth.resources("Tasks", "AWS::RDS::DBCluster").values()))
    (db_sg,) = cluster["Properties"]["VpcSecurityGroupIds"]
    db_sg_id = db_sg["Fn::GetAtt"][0]
    _, service = _api_service(synth)
    (service_sg,) = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
    ingress = [
        r["Properties"]
        for r in synth.resources("Tasks", "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [db_sg_id, "GroupId"]}
    ]
    inline = synth.templates["Tasks"]["Resources"][db_sg_id]["Properties"].get("SecurityGroupIngress", [])
    assert inline == []
    assert len(ingress) == 1
    assert ingress[0]["SourceSecurityGroupId"] == service_sg
    cluster_id = next(iter(synth.resources("Tasks", "AWS::RDS::DBCluster")))
    assert cluster["Properties"]["Port"] == 5432
    assert ingress[0]["FromPort"] == ingress[0]["ToPort"] == {"Fn::GetAtt": [cluster_id, "Endpoint.Port"]}
    assert "CidrIp" not in ingress[0]


def test_database_lives_in_isolated_subnets(synth_env):
    synth = synth_env("sandbox")
    (subnet_group,) = synth.resources("Tasks", "AWS::RDS::DBSubnetGroup").values()
    subnet_ids = {ref["Ref"] for ref in subnet_group["Properties"]["SubnetIds"]}
    assert subnet_ids
    assert all("data" in s for s in subnet_ids)


def test_nat_gateways_follow_the_config(synth_env, env_name):
    synth = synth_env(env_name)
    assert len(synth.resources("Tasks", "AWS::EC2::NatGateway")) == synth.config.nat_gateways
    assert len(synth.resources("Tasks", "AWS::EC2::Subnet")) == 6  # 2 AZs x public/app/data


def test_health_check_and_shutdown_timing_fit_the_drain(synth_env, env_name):
    """Every shutdown number comes from `shutdown:` in environments.yaml, and they fit together: the
    deregistration delay covers the drain, and SIGKILL (stopTimeout) comes only after the app's drain plus
    its graceful shutdown, as the app itself reads them from the container's environment."""
    synth = synth_env(env_name)
    shutdown = synth.config.shutdown
    (group,) = synth.resources("Tasks", "AWS::ElasticLoadBalancingV2::TargetGroup").values()
    props = group["Properties"]
    assert (props["HealthCheckPath"], props["Port"], props["TargetType"]) == ("/health/ready", 8080, "ip")
    attributes = {a["Key"]: a["Value"] for a in props["TargetGroupAttributes"]}
    deregistration_delay = int(attributes["deregistration_delay.timeout_seconds"])
    container = _container(synth)
    stop_timeout = container["StopTimeout"]
    assert deregistration_delay == shutdown.deregistration_delay_seconds
    assert stop_timeout == shutdown.stop_timeout_seconds

    env = {e["Name"]: e["Value"] for e in container["Environment"] if isinstance(e["Value"], str)}
    settings = Settings(
        **{k.lower(): v for k, v in env.items() if k in {"DRAIN_SECONDS", "GRACEFUL_SHUTDOWN_SECONDS"}}
    )
    graceful = uvicorn_config(object(), settings, None, None).timeout_graceful_shutdown
    assert settings.drain_seconds == shutdown.drain_seconds
    assert graceful == shutdown.graceful_shutdown_seconds
    assert deregistration_delay >= settings.drain_seconds
    assert stop_timeout > settings.drain_seconds + graceful
    assert stop_timeout <= 120  # Fargate's ceiling


def test_migrations_run_as_a_one_off_task_before_the_service_update(synth_env):
    synth = synth_env("sandbox")
    resources = synth.templates["Tasks"]["Resources"]
    (migrations_id,) = [k for k, v in resources.items() if v["Type"] == "Custom::DatabaseMigrations"]
    migrations = resources[migrations_id]
    task_def_id = next(
        k for k in synth.resources("Tasks", "AWS::ECS::TaskDefinition") if k.startswith("ApiTask")
    )
    cluster_id = next(iter(synth.resources("Tasks", "AWS::ECS::Cluster")))
    props = migrations["Properties"]
    assert props["Command"] == ["migrate"]  # the image's entrypoint is `tasks-api`
    assert props["ContainerName"] == "api"
    # A new task definition (new image or settings) changes this property, so each such deploy migrates.
    assert props["TaskDefinition"] == {"Ref": task_def_id}
    assert props["Cluster"] == {"Ref": cluster_id}
    service_id, service = _api_service(synth)
    assert migrations_id in service["DependsOn"]
    service_groups = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
    assert props["SecurityGroups"] == service_groups
    # The runner needs the database and the NAT route before it starts a task.
    depends = set(migrations["DependsOn"])
    assert next(iter(synth.resources("Tasks", "AWS::RDS::DBCluster"))) in depends
    assert any(d.startswith("VpcappSubnet") and "DefaultRoute" in d for d in depends), depends
    assert service_id not in depends

    runner_policies = [
        s
        for p in synth.resources("Tasks", "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] in ("ecs:RunTask", "iam:PassRole")
    ]
    run = next(s for s in runner_policies if s["Action"] == "ecs:RunTask")
    assert run["Condition"] == {"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": [cluster_id, "Arn"]}}}
    passrole = next(s for s in runner_policies if s["Action"] == "iam:PassRole")
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_rolling_deploy_with_circuit_breaker_rollback(synth_env):
    synth_env("sandbox").template("Tasks").has_resource_properties(
        "AWS::ECS::Service",
        {
            "LaunchType": "FARGATE",
            "DeploymentConfiguration": Match.object_like(
                {
                    "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
                    "MinimumHealthyPercent": 100,
                    "MaximumPercent": 200,
                }
            ),
            "NetworkConfiguration": {
                "AwsvpcConfiguration": Match.object_like({"AssignPublicIp": "DISABLED"})
            },
        },
    )


def test_autoscaling_on_cpu_and_requests_per_target(synth_env, env_name):
    synth = synth_env(env_name)
    template = synth.template("Tasks")
    # A deploy must not reset a scaled-out service: the count belongs to autoscaling.
    template.has_resource_properties("AWS::ECS::Service", {"DesiredCount": Match.absent()})
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {"MinCapacity": synth.config.service.min_tasks, "MaxCapacity": synth.config.service.max_tasks},
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
                    },
                    "TargetValue": synth.config.service.cpu_target_percent,
                }
            ),
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "PredefinedMetricSpecification": Match.object_like(
                        {"PredefinedMetricType": "ALBRequestCountPerTarget"}
                    ),
                    "TargetValue": synth.config.service.requests_per_target,
                }
            ),
        },
    )


def test_log_groups_have_the_configured_retention(synth_env, env_name):
    synth = synth_env(env_name)
    groups = synth.resources("Tasks", "AWS::Logs::LogGroup").values()
    assert {g["Properties"]["RetentionInDays"] for g in groups} == {synth.config.log_retention_days}
    container = _container(synth)
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"


def test_prod_has_deletion_protection_and_keeps_its_data(synth_env):
    template = synth_env("prod").template("Tasks")
    template.has_resource(
        "AWS::RDS::DBCluster",
        {"DeletionPolicy": "Snapshot", "Properties": Match.object_like({"DeletionProtection": True})},
    )
    template.has_resource("AWS::Logs::LogGroup", {"DeletionPolicy": "Retain"})


def test_sandbox_database_is_disposable(synth_env):
    template = synth_env("sandbox").template("Tasks")
    template.has_resource(
        "AWS::RDS::DBCluster",
        {"DeletionPolicy": "Delete", "Properties": Match.object_like({"DeletionProtection": False})},
    )


def _alb_ingress(synth) -> list[dict]:
    (alb,) = synth.resources("Tasks", "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    (group,) = alb["Properties"]["SecurityGroups"]
    inline = synth.templates["Tasks"]["Resources"][group["Fn::GetAtt"][0]]["Properties"].get(
        "SecurityGroupIngress", []
    )
    return inline + [
        r["Properties"]
        for r in synth.resources("Tasks", "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == group
    ]


def test_the_api_is_reachable_only_through_cloudfront(synth_env, env_name):
    """An internal ALB in private subnets, open to its own VPC only, behind a CloudFront VPC origin."""
    synth = synth_env(env_name)
    (alb,) = synth.resources("Tasks", "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    assert alb["Properties"]["Scheme"] == "internal"
    assert all("appSubnet" in s["Ref"] for s in alb["Properties"]["Subnets"])
    vpc_id = next(iter(synth.resources("Tasks", "AWS::EC2::VPC")))
    ingress = _alb_ingress(synth)
    assert ingress
    for rule in ingress:
        assert rule.get("CidrIp") == {"Fn::GetAtt": [vpc_id, "CidrBlock"]}, rule  # never 0.0.0.0/0
        assert "CidrIpv6" not in rule
    (origin,) = synth.resources("Tasks", "AWS::CloudFront::VpcOrigin").values()
    endpoint = origin["Properties"]["VpcOriginEndpointConfig"]
    alb_id = next(iter(synth.resources("Tasks", "AWS::ElasticLoadBalancingV2::LoadBalancer")))
    assert endpoint["Arn"] == {"Ref": alb_id}
    https = bool(synth.config.domains.api_certificate_arn)
    assert endpoint["OriginProtocolPolicy"] == ("https-only" if https else "http-only")
    assert set(synth.templates["Tasks"]["Outputs"]) >= {"ApiOriginId", "ApiOriginDomain"}


def test_without_a_certificate_the_alb_serves_http_inside_the_vpc(synth_env):
    synth = synth_env("sandbox")
    listeners = [
        r["Properties"] for r in synth.resources("Tasks", "AWS::ElasticLoadBalancingV2::Listener").values()
    ]
    assert [(listener["Port"], listener["Protocol"]) for listener in listeners] == [(80, "HTTP")]
    assert [r["FromPort"] for r in _alb_ingress(synth)] == [80]


def test_prod_serves_https_with_its_certificate(synth_env):
    synth = synth_env("prod")
    listeners = {
        r["Properties"]["Port"]: r["Properties"]
        for r in synth.resources("Tasks", "AWS::ElasticLoadBalancingV2::Listener").values()
    }
    assert set(listeners) == {443}
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["Certificates"] == [{"CertificateArn": synth.config.domains.api_certificate_arn}]
    synth.template("Tasks").has_resource_properties(
        "AWS::Route53::RecordSet", {"Name": "api.city-tasks.example.com.", "Type": "A"}
    )
    # CloudFront connects by the certificate's name.
    assert synth.templates["Tasks"]["Outputs"]["ApiOriginDomain"]["Value"] == "api.city-tasks.example.com"
    # The public entry is the CloudFront site; ApiUrl follows it.
    assert synth.templates["Tasks"]["Outputs"]["ApiUrl"]["Value"] == "https://app.city-tasks.example.com"


def test_load_balancer_writes_access_logs_and_drops_invalid_headers(synth_env):
    synth_env("sandbox").template("Tasks").has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {
            "Scheme": "internal",
            "LoadBalancerAttributes": Match.array_with([{"Key": "access_logs.s3.enabled", "Value": "true"}]),
        },
    )
    synth_env("sandbox").template("Tasks").has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {
            "LoadBalancerAttributes": Match.array_with(
                [{"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}]
            ),
        },
    )


def test_alarms_for_errors_latency_and_unhealthy_hosts_notify_the_topic(synth_env):
    synth = synth_env("sandbox")
    topic_id = next(iter(synth.resources("Tasks", "AWS::SNS::Topic")))
    alarms = list(synth.resources("Tasks", "AWS::CloudWatch::Alarm").values())
    assert len(alarms) == 3
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    by_metric = {a["Properties"].get("MetricName", "expression"): a["Properties"] for a in alarms}
    assert by_metric["TargetResponseTime"]["ExtendedStatistic"] == "p95"
    assert by_metric["UnHealthyHostCount"]["Threshold"] == 1
    expression = next(m for m in by_metric["expression"]["Metrics"] if "Expression" in m)
    assert "elb5xx" in expression["Expression"]
    assert "target5xx" in expression["Expression"]
    synth.template("Tasks").has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": synth.config.alarm_email}
    )


def test_event_bus_for_task_executions(synth_env, env_name):
    synth_env(env_name).template("Tasks").has_resource_properties(
        "AWS::Events::EventBus", {"Name": f"city-tasks-{env_name}"}
    )


def test_the_scheduler_runs_as_its_own_service_and_never_in_the_api_tasks(synth_env, env_name):
    synth = synth_env(env_name)
    api_env = {e["Name"]: e["Value"] for e in _container(synth)["Environment"]}
    assert api_env["SCHEDULER_ENABLED"] == "false"  # API tasks never poll the database
    worker = _container(synth, "worker")
    assert worker["Command"] == ["worker"]  # `tasks-api worker`
    worker_env = {e["Name"]: e["Value"] for e in worker["Environment"]}
    assert "SCHEDULER_ENABLED" not in worker_env
    assert worker_env["SCHEDULER_LEASE_SECONDS"] == str(synth.config.scheduler.lease_seconds)
    # On SIGTERM the worker finishes its batch within half a lease; SIGKILL comes after that.
    assert worker["StopTimeout"] > synth.config.scheduler.lease_seconds / 2
    assert worker["Secrets"] == _container(synth)["Secrets"]

    services = synth.resources("Tasks", "AWS::ECS::Service")
    api_id, api = _api_service(synth)
    (worker_id,) = set(services) - {api_id}
    props = services[worker_id]["Properties"]
    assert props["DesiredCount"] == synth.config.scheduler.worker_tasks
    assert "LoadBalancers" not in props
    network = props["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert (
        network["SecurityGroups"]
        == api["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
    )
    migrations = next(
        k
        for k, v in synth.templates["Tasks"]["Resources"].items()
        if v["Type"] == "Custom::DatabaseMigrations"
    )
    assert migrations in services[worker_id]["DependsOn"]


def test_sandbox_lets_aurora_pause(environments):
    """Nothing polls sandbox's database: no scheduler in the API, no worker task, Aurora min 0 ACU."""
    sandbox = environments["sandbox"]
    assert sandbox.scheduler.worker_tasks == 0
    assert sandbox.database.min_acu == 0
    assert environments["prod"].scheduler.worker_tasks >= 1
