"""AWS sessions in a pipeline: no profiles there, so each profile name of the config stands for a CDK
bootstrap role of that profile's account, assumed from the build's own role (which may assume only those)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.environments import AwsTarget, Environment, load_pipelines
from infra.pipelines.roles import bootstrap_role_arn, targets_of

SESSION_NAME = "city-tasks-pipeline"


@dataclass
class AssumedRoleSessions:
    """`session_factory(profile_name=...)` as deploy.py calls it, backed by sts:AssumeRole."""

    targets: dict[str, AwsTarget]  # profile name -> the account it stands for
    role_kind: str  # "deploy" or "lookup" (see roles.py)
    qualifier: str
    base_session: Callable[[], Any] | None = None  # boto3.Session on the build's role by default
    _cache: dict[str, Any] = field(default_factory=dict, init=False)

    @classmethod
    def for_environment(cls, config: Environment, role_kind: str, **kwargs: Any) -> AssumedRoleSessions:
        targets = {t.profile: t for t in targets_of(config)}
        return cls(targets, role_kind, load_pipelines().bootstrap_qualifier, **kwargs)

    def __call__(self, profile_name: str) -> Any:
        import boto3

        if profile_name not in self._cache:
            target = self.targets[profile_name]
            base = (self.base_session or boto3.Session)()
            credentials = base.client("sts", region_name=target.region).assume_role(
                RoleArn=bootstrap_role_arn(self.role_kind, target, self.qualifier),
                RoleSessionName=SESSION_NAME,
            )["Credentials"]
            self._cache[profile_name] = boto3.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                region_name=target.region,
            )
        return self._cache[profile_name]
