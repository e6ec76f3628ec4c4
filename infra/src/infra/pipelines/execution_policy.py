"""The CloudFormation execution policy each bootstrapped account gets (`cdk bootstrap
--cloudformation-execution-policies`): the actions the account's own templates need, not AdministratorAccess.

The actions come from the resource types in the synthesized templates. `actions_source` is where they are
looked up; by default each type grants its service's actions (`AWS::RDS::DBCluster` -> `rds:*`), plus what
CloudFormation itself needs around them (custom resources, the bootstrap version parameter).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

ActionsSource = Callable[[Mapping[str, Any]], set[str]]
POLICY_NAME = "city-tasks-cdk-execution"
# IAM's limit for a managed policy is 6,144 characters (whitespace excluded); keep a margin.
MAX_POLICY_CHARS = 6000
# CloudFormation namespaces whose IAM service prefix is not the namespace in lower case.
_PREFIXES = {
    "ApplicationAutoScaling": "application-autoscaling",
    "CertificateManager": "acm",
    "Cognito": "cognito-idp",
    "ElasticLoadBalancingV2": "elasticloadbalancing",
    "StepFunctions": "states",
}
# Needed by any CDK stack: reading the bootstrap version parameter and invoking custom resource handlers.
_ALWAYS = {"ssm:GetParameters"}
_CUSTOM_RESOURCE = {"lambda:InvokeFunction"}
_NO_ACTIONS = {"AWS::CDK::Metadata"}


def resource_types(template: Mapping[str, Any]) -> set[str]:
    return {str(r["Type"]) for r in template.get("Resources", {}).values()}


def service_actions(template: Mapping[str, Any]) -> set[str]:
    """Service-wide actions for every resource type of the template."""
    actions: set[str] = set()
    for resource_type in resource_types(template) - _NO_ACTIONS:
        if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
            actions |= _CUSTOM_RESOURCE
            continue
        _, namespace, _ = resource_type.split("::", 2)
        actions.add(f"{_PREFIXES.get(namespace, namespace.lower())}:*")
    return actions


def required_actions(
    templates: Iterable[Mapping[str, Any]], source: ActionsSource = service_actions
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
