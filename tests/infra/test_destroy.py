"""make destroy: the deploy in reverse, buckets emptied outside prod, prod only with CONFIRM=prod."""

from __future__ import annotations

import io
from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber
from infra.destroy import destroy, empty_bucket, stack_buckets
from infra.runner import DeployError, Runner

from tests.infra.conftest import make_without_aws
from tests.support.moto import client, moto_server

STACK = "CityTasks-Frontend-sandbox"


def test_make_destroy_dry_run_prints_the_ordered_teardown(tmp_path):
    result = make_without_aws(tmp_path, "destroy", "ENV=sandbox", "DRY_RUN=1")
    assert result.returncode == 0, result.stderr
    steps = [line for line in result.stdout.splitlines() if line[:2].rstrip(".").isdigit()]
    assert [s.split(". ", 1)[1] for s in steps] == [
        "Check the AWS sessions",
        "Empty the S3 buckets of CityTasks-Frontend-sandbox",
        "Destroy CityTasks-Frontend-sandbox",
        "Empty the S3 buckets of CityTasks-Tasks-sandbox",
        "Destroy CityTasks-Tasks-sandbox",
        "Destroy CityTasks-Idp-sandbox",
    ]
    commands = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("$ ")]
    assert "--profile city-sandbox" in commands[0]
    assert "--profile city-security" in commands[2]
    assert all(c.endswith("--force)") and " destroy " in c for c in commands)


def test_prod_is_refused_without_confirm_and_keeps_its_buckets(environments):
    out = io.StringIO()
    with pytest.raises(DeployError, match="CONFIRM=prod"):
        destroy(environments["prod"], Runner(dry_run=True, out=out))
    assert out.getvalue() == ""
    destroy(environments["prod"], Runner(dry_run=True, out=out), confirm="prod")
    plan = out.getvalue()
    assert "Empty the S3 buckets" not in plan  # prod retains its data
    assert plan.index("Frontend-prod") < plan.index("Tasks-prod") < plan.index("Idp-prod")


def test_make_diff_honours_dry_run(tmp_path):
    result = make_without_aws(tmp_path, "diff", "ENV=dev", "DRY_RUN=1")
    assert result.returncode == 0, result.stderr
    assert "DRY RUN" in result.stdout or "cdk diff CityTasks-Idp-dev" in result.stdout
    assert result.stdout.count(" diff CityTasks-") == 3


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    with moto_server() as url:
        yield url


def test_buckets_are_emptied_version_by_version(moto):
    s3 = client("s3", moto)
    s3.create_bucket(Bucket="site-bucket")
    s3.put_bucket_versioning(Bucket="site-bucket", VersioningConfiguration={"Status": "Enabled"})
    for i in range(3):
        s3.put_object(Bucket="site-bucket", Key="index.html", Body=f"v{i}".encode())
    s3.delete_object(Bucket="site-bucket", Key="index.html")  # a delete marker
    assert empty_bucket(s3, "site-bucket") == 4
    assert s3.list_object_versions(Bucket="site-bucket").get("Versions", []) == []
    s3.delete_bucket(Bucket="site-bucket")  # CloudFormation can delete it now


def test_the_buckets_of_a_stack_are_found_by_type():
    cloudformation = boto3.client(
        "cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    summary = {"LastUpdatedTimestamp": "2026-01-01T00:00:00Z", "ResourceStatus": "CREATE_COMPLETE"}
    with Stubber(cloudformation) as stub:
        stub.add_response(
            "list_stack_resources",
            {
                "StackResourceSummaries": [
                    {
                        **summary,
                        "LogicalResourceId": "Site",
                        "PhysicalResourceId": "site-1",
                        "ResourceType": "AWS::S3::Bucket",
                    },
                    {
                        **summary,
                        "LogicalResourceId": "Fn",
                        "PhysicalResourceId": "fn-1",
                        "ResourceType": "AWS::Lambda::Function",
                    },
                ]
            },
            {"StackName": STACK},
        )
        stub.add_client_error(
            "list_stack_resources", "ValidationError", f"Stack with id {STACK}-gone does not exist"
        )
        assert stack_buckets(cloudformation, STACK) == ["site-1"]
        assert stack_buckets(cloudformation, f"{STACK}-gone") == []
