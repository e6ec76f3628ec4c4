"""The CloudFormation execution policy each bootstrapped account gets (`cdk bootstrap
--cloudformation-execution-policies`): the actions the account's own templates need, not AdministratorAccess.

The actions per resource type are the preflight's table (infra/preflight/actions.py: the CloudFormation
resource schemas' create/update/delete handler permissions), so what the bootstrap allows and what the
preflight checks against the SCPs are one list. A type the table does not hold yet (the pipeline stacks'
own types) is read from the same schemas directly; CloudFormation also reads the bootstrap version parameter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

ActionsSource = Callable[[Mapping[str, Any]], set[str]]
POLICY_NAME = "city-tasks-cdk-execution"
# IAM's limit for a managed policy is 6,144 characters (whitespace excluded); keep a margin.
MAX_POLICY_CHARS = 6000
# Needed by any CDK stack: the `BootstrapVersion` parameter is an SSM parameter.
_ALWAYS = {"ssm:GetParameters"}
# Pipeline types whose resource schema lists no handler permissions (CodeBuild is not a registry type):
# the project's CRUD calls and passing its service role, as CodeBuild's API reference names them.
_MANUAL = {
    "AWS::CodeBuild::Project": {
        "codebuild:BatchGetProjects",
        "codebuild:CreateProject",
        "codebuild:DeleteProject",
        "codebuild:UpdateProject",
        "iam:PassRole",
    },
}


@lru_cache(maxsize=1)
def _schemas() -> Mapping[str, Mapping[str, list[str]]]:
    from infra.preflight.table import schema_permissions

    return schema_permissions()


def template_actions(template: Mapping[str, Any]) -> set[str]:
    """The create, update and delete permissions of every resource type in the template."""
    from infra.preflight.actions import UnknownResourceType, actions_for_type, resource_types

    actions: set[str] = set()
    for resource_type in resource_types(template):
        try:
            actions.update(actions_for_type(resource_type).all())
        except UnknownResourceType:
            if resource_type in _MANUAL:
                actions.update(_MANUAL[resource_type])
            elif resource_type in _schemas():
                for operation in _schemas()[resource_type].values():
                    actions.update(operation)
            else:
                raise
    return actions


def required_actions(
    templates: Iterable[Mapping[str, Any]], source: ActionsSource = template_actions
) -> list[str]:
    actions = set(_ALWAYS)
    for template in templates:
        actions |= source(template)
    return sorted(actions)


def policy_documents(actions: list[str]) -> list[dict[str, Any]]:
    """One or more policy documents (each under IAM's size limit) that allow exactly `actions`."""
    documents: list[dict[str, Any]] = []
    chunk: list[str] = []
    for action in actions:
        candidate = _document([*chunk, action])
        if chunk and len(json.dumps(candidate, separators=(",", ":"))) > MAX_POLICY_CHARS:
            documents.append(_document(chunk))
            chunk = []
        chunk.append(action)
    if chunk:
        documents.append(_document(chunk))
    return documents


def _document(actions: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "StacksNeed", "Effect": "Allow", "Action": actions, "Resource": "*"}],
    }


def policy_names(count: int) -> list[str]:
    return [f"{POLICY_NAME}-{index}" for index in range(1, count + 1)]


def upsert_policies(iam: Any, account: str, documents: list[dict[str, Any]]) -> list[str]:
    """Create each managed policy, or make the document its new default version; returns their ARNs."""
    arns = []
    for name, document in zip(policy_names(len(documents)), documents, strict=True):
        arn = f"arn:aws:iam::{account}:policy/{name}"
        body = json.dumps(document, separators=(",", ":"))
        try:
            versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        except iam.exceptions.NoSuchEntityException:
            iam.create_policy(
                PolicyName=name,
                PolicyDocument=body,
                Description="City Tasks: what CloudFormation may do here",
            )
        else:
            if len(versions) >= 5:  # IAM keeps at most five: drop the oldest that is not the default
                oldest = min(
                    (v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"]
                )
                iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=body, SetAsDefault=True)
        arns.append(arn)
    return arns
