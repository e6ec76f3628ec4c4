"""`ENV=pipelines`: the two pipeline stacks, each in its Deployments account, checked by cdk-nag."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.environments import Environment, Pipelines
from infra.pipelines.prod import ProdPipelineStack
from infra.pipelines.sdlc import SdlcPipelineStack

SDLC_STACK = "CityTasks-Pipeline-sdlc"
PROD_STACK = "CityTasks-Pipeline-prod"


@dataclass(frozen=True)
class PipelineStacks:
    app: cdk.App
    sdlc: SdlcPipelineStack
    prod: ProdPipelineStack


def build_pipelines_app(
    pipelines: Pipelines,
    environments: dict[str, Environment],
    *,
    app: cdk.App | None = None,
    with_nag: bool = True,
) -> PipelineStacks:
    app = app or cdk.App()
    tags = {"project": "city-tasks", "environment": "deployments"}

    def where(side: str) -> cdk.Environment:
        target = getattr(pipelines, side).deployments
        return cdk.Environment(account=target.account, region=target.region)

    sdlc = SdlcPipelineStack(
        app,
        SDLC_STACK,
        pipelines=pipelines,
        environments=environments,
        env=where("sdlc"),
        description="City Tasks SDLC pipeline: test, build arm64 images once, deploy dev and test",
        tags=tags,
    )
    prod = ProdPipelineStack(
        app,
        PROD_STACK,
        pipelines=pipelines,
        environment=environments["prod"],
        env=where("prod"),
        description="City Tasks prod pipeline: promote a tested release after approval",
        tags=tags,
    )
    prod.add_stack_dependency(
        sdlc, "the release bucket trusts the SDLC promoter role, which must exist first"
    )
    if with_nag:
        cdk.Validations.of(app).add_plugins(
            AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)
        )
    return PipelineStacks(app=app, sdlc=sdlc, prod=prod)
