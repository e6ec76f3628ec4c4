import json
from argparse import Namespace

import boto3
import pytest
from botocore.stub import Stubber

from loadtests.locust.run_sandbox import (
    client_secret,
    deployment_from_outputs,
    load_balancer_for_dns,
    locust_settings,
    outputs_from_cloudformation,
    outputs_from_file,
)

TASKS = {
    "ApiUrl": "https://d111111abcdef8.cloudfront.net/",
    "ClusterName": "city-cluster",
    "ServiceName": "city-api",
    "LoadBalancerDns": "city-alb-123.us-east-1.elb.amazonaws.com",
}
IDP = {
    "UserPoolId": "us-east-1_Abc",
    "HostedUiDomain": "https://city-tasks-sandbox.auth.us-east-1.amazoncognito.com",
    "LoadTestClientId": "machine123",
}


def client(service):
    return boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    ).client(service)


def test_deployment_from_the_stack_outputs():
    deployment = deployment_from_outputs(TASKS, IDP)
    assert deployment.api_url == "https://d111111abcdef8.cloudfront.net"  # the CloudFront entry, with WAF
    assert deployment.person_client_id is None
    assert deployment.machine_client_id == "machine123"
    with pytest.raises(ValueError, match="ClusterName, UserPoolId"):
        deployment_from_outputs(
            {k: v for k, v in TASKS.items() if k != "ClusterName"}, {"HostedUiDomain": "x"}
        )


def test_outputs_from_the_cdk_outputs_file(tmp_path):
    (tmp_path / "CityTasks-Tasks-sandbox.json").write_text(json.dumps({"CityTasks-Tasks-sandbox": TASKS}))
    assert outputs_from_file("CityTasks-Tasks-sandbox", tmp_path) == TASKS
    assert outputs_from_file("CityTasks-Idp-sandbox", tmp_path) is None


def test_outputs_from_cloudformation():
    cfn = client("cloudformation")
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "CityTasks-Idp-sandbox",
                        "CreationTime": "2026-11-29T00:00:00Z",
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in IDP.items()],
                    }
                ]
            },
            {"StackName": "CityTasks-Idp-sandbox"},
        )
        assert outputs_from_cloudformation(cfn, "CityTasks-Idp-sandbox") == IDP


def test_the_alb_dimension_is_found_by_dns_name():
    elbv2 = client("elbv2")
    arn = "arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/city-alb/0123456789abcdef"
    with Stubber(elbv2) as stub:
        stub.add_response(
            "describe_load_balancers",
            {
                "LoadBalancers": [
                    {
                        "LoadBalancerArn": arn.replace("city-alb", "other"),
                        "DNSName": "other.elb.amazonaws.com",
                    },
                    {"LoadBalancerArn": arn, "DNSName": TASKS["LoadBalancerDns"]},
                ]
            },
        )
        assert (
            load_balancer_for_dns(elbv2, TASKS["LoadBalancerDns"].upper()) == "app/city-alb/0123456789abcdef"
        )
    with Stubber(elbv2) as stub:
        stub.add_response("describe_load_balancers", {"LoadBalancers": []})
        with pytest.raises(ValueError, match="no load balancer"):
            load_balancer_for_dns(elbv2, "missing.elb.amazonaws.com")


def test_the_machine_client_secret_is_read_from_cognito():
    cognito = client("cognito-idp")
    with Stubber(cognito) as stub:
        stub.add_response(
            "describe_user_pool_client",
            {"UserPoolClient": {"ClientId": "machine123", "ClientSecret": "s3cr3t-" + "z" * 30}},
            {"UserPoolId": "us-east-1_Abc", "ClientId": "machine123"},
        )
        stub.add_response("describe_user_pool_client", {"UserPoolClient": {"ClientId": "web"}})
        assert client_secret(cognito, "us-east-1_Abc", "machine123") == "s3cr3t-" + "z" * 30
        with pytest.raises(ValueError, match="confidential client"):
            client_secret(cognito, "us-east-1_Abc", "web")


def test_locust_settings_run_the_step_shape_with_machine_users(tmp_path):
    deployment = deployment_from_outputs(TASKS, {**IDP, "LoadTestUserClientId": "people456"})
    args = Namespace(think_min=1.0, think_max=3.0, machine_weight=2)
    settings = locust_settings(
        deployment, "sandbox", "us-east-1", "city-security", "s3cr3t", tmp_path / "p.json", args
    )
    assert settings["LOAD_SHAPE"] == "step"
    assert settings["LOAD_ENV"] == "sandbox"
    assert settings["LOAD_CLIENT_ID"] == "people456"
    assert settings["LOAD_M2M_TOKEN_URL"] == f"{IDP['HostedUiDomain']}/oauth2/token"
    assert settings["LOAD_M2M_WEIGHT"] == "2"
    assert "LOAD_IDP_ENDPOINT" not in settings  # the real user pool, not the local IdP


@pytest.mark.parametrize(
    "api_url", ["pending-frontend-deploy", "http://internal-city-alb-123.us-east-1.elb.amazonaws.com"]
)
def test_load_tests_go_only_through_the_cloudfront_entry(api_url):
    with pytest.raises(ValueError, match="not the CloudFront entry"):
        deployment_from_outputs({**TASKS, "ApiUrl": api_url}, IDP)
