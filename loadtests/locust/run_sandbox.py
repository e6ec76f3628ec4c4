"""``make load ENV=sandbox``: the step shape against the deployed ALB, then the autoscaling report.

1. Read the stack outputs: ``infra/cdk.out/outputs/<stack>.json`` written by ``make deploy`` when present,
   else CloudFormation ``DescribeStacks`` (Tasks stack with the workload profile, IdP stack with the
   Security profile). Stack names, profiles and regions come from ``infra.environments``.
2. Sign-ins: people from a pre-created pool when the IdP stack has a client that allows
   USER_PASSWORD_AUTH (output ``LoadTestUserClientId``); machine users with client_credentials through the
   ``LoadTestClientId`` client (its secret read with DescribeUserPoolClient, never printed).
3. Locust headless with ``LOAD_SHAPE=step`` sized from the environment's min/max tasks and cooldown.
4. ``autoscaling_report`` for the run's window (ECS tasks vs requests/s vs p95), after CloudWatch settles.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.capacity import autoscaling_report
from loadtests.locust.plans import mean_user_rps, step_plan, step_sizing
from loadtests.locust.runner import ROOT, RunSpec, run_locust
from loadtests.locust.scaling import scaling_profile
from loadtests.locust.thresholds import Thresholds
from loadtests.locust.users import PoolCreator, save_pool

REPORTS = ROOT / "loadtests" / "reports"
OUTPUTS_DIR = ROOT / "infra" / "cdk.out" / "outputs"


@dataclass(frozen=True)
class Deployment:
    api_url: str
    cluster: str
    service: str
    load_balancer_dns: str
    user_pool_id: str
    hosted_ui: str  # https://<prefix>.auth.<region>.amazoncognito.com
    machine_client_id: str | None
    person_client_id: str | None


def outputs_from_file(stack: str, directory: Path = OUTPUTS_DIR) -> dict[str, str] | None:
    """Outputs the CDK CLI wrote with --outputs-file ({stack: {key: value}})."""
    path = directory / f"{stack}.json"
    if not path.exists():
        return None
    return {k: str(v) for k, v in json.loads(path.read_text()).get(stack, {}).items()}


def outputs_from_cloudformation(cloudformation: Any, stack: str) -> dict[str, str]:
    (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def deployment_from_outputs(tasks: dict[str, str], idp: dict[str, str]) -> Deployment:
    missing = [k for k in ("ApiUrl", "ClusterName", "ServiceName", "LoadBalancerDns") if k not in tasks]
    missing += [k for k in ("UserPoolId", "HostedUiDomain") if k not in idp]
    if missing:
        raise ValueError(f"stack outputs lack {', '.join(missing)}: deploy with `make deploy ENV=...` first")
    if not tasks["ApiUrl"].startswith("https://"):
        # The API is reachable only through CloudFront (WAF, HTTPS); ApiUrl is that entry once it exists.
        raise ValueError(
            f"ApiUrl is {tasks['ApiUrl']!r}, not the CloudFront entry: finish `make deploy ENV=...` "
            "(its last step passes the frontend URL to the Tasks stack)"
        )
    return Deployment(
        api_url=tasks["ApiUrl"].rstrip("/"),
        cluster=tasks["ClusterName"],
        service=tasks["ServiceName"],
        load_balancer_dns=tasks["LoadBalancerDns"],
        user_pool_id=idp["UserPoolId"],
        hosted_ui=idp["HostedUiDomain"].rstrip("/"),
        machine_client_id=idp.get("LoadTestClientId"),
        person_client_id=idp.get("LoadTestUserClientId"),
    )


def load_balancer_for_dns(elbv2: Any, dns_name: str) -> str:
    """The CloudWatch LoadBalancer dimension of the ALB whose DNS name the stack output gives."""
    for page in elbv2.get_paginator("describe_load_balancers").paginate():
        for lb in page["LoadBalancers"]:
            if lb["DNSName"].lower() == dns_name.lower():
                return autoscaling_report.load_balancer_dimension(lb["LoadBalancerArn"])
    raise ValueError(f"no load balancer with DNS name {dns_name} in this account and region")


def client_secret(cognito: Any, user_pool_id: str, client_id: str) -> str:
    described = cognito.describe_user_pool_client(UserPoolId=user_pool_id, ClientId=client_id)
    secret = described["UserPoolClient"].get("ClientSecret")
    if not secret:
        raise ValueError(
            f"app client {client_id} has no secret: client_credentials needs a confidential client"
        )
    return str(secret)


def locust_settings(
    deployment: Deployment, env_name: str, region: str, security_profile: str, machine_secret: str | None,
    pool_file: Path | None, args: argparse.Namespace,
) -> dict[str, str]:  # fmt: skip
    settings = {
        "LOAD_SHAPE": "step",
        "LOAD_ENV": env_name,
        "LOAD_THINK_MIN": str(args.think_min),
        "LOAD_THINK_MAX": str(args.think_max),
        "LOAD_USER_POOL_ID": deployment.user_pool_id,
        "LOAD_REGION": region,
        "LOAD_AWS_PROFILE": security_profile,
    }
    if pool_file is not None and deployment.person_client_id:
        settings.update({"LOAD_POOL_FILE": str(pool_file), "LOAD_CLIENT_ID": deployment.person_client_id})
    if machine_secret and deployment.machine_client_id:
        settings.update(
            {
                "LOAD_M2M_TOKEN_URL": f"{deployment.hosted_ui}/oauth2/token",
                "LOAD_M2M_CLIENT_ID": deployment.machine_client_id,
                "LOAD_M2M_CLIENT_SECRET": machine_secret,
                "LOAD_M2M_WEIGHT": str(args.machine_weight),
            }
        )
    return settings


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - needs a deployed environment
    parser = argparse.ArgumentParser(
        description="Step load against a deployed environment + autoscaling report."
    )
    parser.add_argument("--env", default="sandbox")
    parser.add_argument("--pool-size", type=int, default=50)
    parser.add_argument("--think-min", type=float, default=1.0)
    parser.add_argument("--think-max", type=float, default=3.0)
    parser.add_argument("--machine-weight", type=int, default=1)
    parser.add_argument("--p95-ms", type=float, default=1000)
    parser.add_argument("--metrics-delay", type=int, default=180, help="seconds to let CloudWatch settle")
    args = parser.parse_args(argv)

    import boto3
    from infra.environments import ConfigError, get_environment
    from infra.runner import DeployError, check_session

    try:
        config = get_environment(args.env)
        work, sec = config.workload, config.security
        # The same checks as `make deploy`: a missing profile or an expired SSO session points at the login.
        check_session(work.profile, work.account, work.region, boto3.session.Session)
        check_session(sec.profile, sec.account, sec.region, boto3.session.Session)
    except (ConfigError, DeployError) as exc:
        print(f"run_sandbox: {exc}", file=sys.stderr)
        return 2
    workload = boto3.session.Session(profile_name=work.profile, region_name=work.region)
    security = boto3.session.Session(profile_name=sec.profile, region_name=sec.region)
    tasks_stack, idp_stack = config.stack_name("Tasks"), config.stack_name("Idp")
    tasks_out = outputs_from_file(tasks_stack) or outputs_from_cloudformation(
        workload.client("cloudformation"), tasks_stack
    )
    idp_out = outputs_from_file(idp_stack) or outputs_from_cloudformation(
        security.client("cloudformation"), idp_stack
    )
    deployment = deployment_from_outputs(tasks_out, idp_out)
    lb_dimension = load_balancer_for_dns(workload.client("elbv2"), deployment.load_balancer_dns)
    cognito = security.client("cognito-idp")

    pool_file = None
    if deployment.person_client_id:
        pool_file = REPORTS / f".pool-{args.env}.json"
        creator = PoolCreator(cognito, deployment.user_pool_id, deployment.person_client_id)
        save_pool(pool_file, creator.create_many(args.pool_size, prefix=f"load-{args.env}"))
    else:
        print(
            "no LoadTestUserClientId output: only machine users (client_credentials) will run",
            file=sys.stderr,
        )
    secret = (
        client_secret(cognito, deployment.user_pool_id, deployment.machine_client_id or "")
        if (deployment.machine_client_id)
        else None
    )
    settings = locust_settings(deployment, args.env, sec.region, sec.profile, secret, pool_file, args)

    sizing = step_sizing(scaling_profile(args.env, settings), mean_user_rps(settings))
    plan = step_plan(sizing, 5)
    duration = int(plan[-1].until_s) + 10
    print(f"step plan for {args.env}: {sizing.steps} users, {sizing.step_s:.0f} s per step ({duration} s)")
    started = dt.datetime.now(dt.UTC)
    spec = RunSpec(
        host=deployment.api_url,
        csv_prefix=REPORTS / args.env,
        users=max(sizing.steps),
        duration_s=duration,
        thresholds=Thresholds(max_failures=0, p95_ms=args.p95_ms),
        settings=settings,
    )
    result = run_locust(spec, grace_s=120)
    ended = dt.datetime.now(dt.UTC)
    print(result.table)
    print(f"waiting {args.metrics_delay} s for CloudWatch to publish the last minutes")
    time.sleep(max(0, args.metrics_delay))
    target = autoscaling_report.Target(deployment.cluster, deployment.service, lb_dimension)
    cloudwatch = workload.client("cloudwatch")
    window = (started - dt.timedelta(minutes=2), ended + dt.timedelta(minutes=5))
    report = autoscaling_report.build_report(autoscaling_report.fetch_series(cloudwatch, target, *window), 60)
    png = autoscaling_report.draw(report, REPORTS / f"autoscaling-{args.env}.png", f"{args.env}: step load")
    print(f"autoscaling report: {png}  {report.summary()}")
    for line in result.broken:
        print(f"THRESHOLD BROKEN: {line}", file=sys.stderr)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
