"""`make destroy ENV=... [DRY_RUN=1] [CONFIRM=prod]`: tear an environment down, the deploy in reverse.

Order: Frontend, then Tasks (workload account), then the IdP (Security account): each stack goes before
the one whose values it was built from. Outside prod the stacks' S3 buckets are emptied first (all object
versions), since CloudFormation cannot delete a bucket that holds objects. Prod keeps its data
(protect_data: buckets and log groups retained, a final Aurora snapshot, deletion protection on the
database and user pool, which must be lifted by hand) and is refused unless CONFIRM=prod.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from infra.environments import Environment
from infra.runner import Command, DeployError, Runner, cdk_command, check_session

TEARDOWN_ORDER = ("Frontend", "Tasks", "Idp")


def stack_buckets(cloudformation: Any, stack: str) -> list[str]:
    """The physical names of the S3 buckets a deployed stack holds (none when the stack is gone)."""
    from botocore.exceptions import ClientError

    try:
        pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack)
        return [
            r["PhysicalResourceId"]
            for page in pages
            for r in page["StackResourceSummaries"]
            if r["ResourceType"] == "AWS::S3::Bucket" and r.get("PhysicalResourceId")
        ]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return []
        raise


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker; returns how many were deleted."""
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        keys = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True})
        deleted += len(keys)
    return deleted


def destroy(
    config: Environment,
    runner: Runner,
    *,
    confirm: str | None = None,
    session_factory: Callable[..., Any] | None = None,
) -> None:
    if config.protect_data and confirm != config.name:
        raise DeployError(
            f"{config.name} holds production data: run `make destroy ENV={config.name} "
            f"CONFIRM={config.name}` if you really mean it (buckets, logs and a final database snapshot "
            "are kept)"
        )
    if session_factory is None and not runner.dry_run:
        import boto3

        session_factory = boto3.Session
    sec, work = config.security, config.workload
    print(
        f"Destroy {config.name}: Frontend and Tasks in {work.account} (profile {work.profile}), then the IdP "
        f"in {sec.account} (profile {sec.profile})"
        + (" -- DRY RUN: nothing is called" if runner.dry_run else ""),
        file=runner.out,
    )

    def check_both() -> None:
        assert session_factory is not None
        check_session(sec.profile, sec.account, sec.region, session_factory)
        check_session(work.profile, work.account, work.region, session_factory)

    runner.action(
        "Check the AWS sessions", check_both, f"sts get-caller-identity as {sec.profile} and {work.profile}"
    )
    for kind in TEARDOWN_ORDER:
        stack = config.stack_name(kind)
        target = sec if kind == "Idp" else work
        if kind != "Idp" and not config.protect_data:

            def empty(stack: str = stack, target: Any = target) -> None:
                assert session_factory is not None
                session = session_factory(profile_name=target.profile)
                cloudformation = session.client("cloudformation", region_name=target.region)
                s3 = session.client("s3", region_name=target.region)
                for bucket in stack_buckets(cloudformation, stack):
                    count = empty_bucket(s3, bucket)
                    print(f"   emptied {bucket} ({count} object versions)", file=runner.out)

            runner.action(f"Empty the S3 buckets of {stack}", empty, "every object version and delete marker")
        runner.cdk(f"Destroy {stack}", destroy_command(config, kind))


def destroy_command(config: Environment, kind: str) -> Command:
    command = cdk_command("destroy", config, kind)
    return Command((*command.argv, "--force"), command.profile)
