"""The SDLC pipeline (Deployments-SDLC account): on every push to main, test, synth, build the images once,
deploy the non-prod environments in order with a smoke test after each, then hand the release to prod."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.nag import acknowledge
from infra.environments import Environment, Pipelines
from infra.pipelines import commands
from infra.pipelines.parts import ArtifactStore, acknowledge_artifact_grants, build_project
from infra.pipelines.roles import DEPLOY_ROLES, SMOKE_ROLES, role_arns

IMAGE_NAMES = ("api", "idp", "web")  # the Dockerfile.arm64 targets `make image` builds
REPOSITORY_PREFIX = "city-tasks"
PROMOTER_ROLE = "city-tasks-release-promoter"
RELEASE_KEY = "release.zip"  # the prod pipeline's source; starts it
RELEASES_PREFIX = "releases/"  # every promoted release, by commit, for rollbacks
# What a workload account's ECS execution role needs to pull an image (by digest).
PULL_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]


def release_bucket_name(pipelines: Pipelines) -> str:
    prod = pipelines.prod.deployments
    return f"city-tasks-releases-{prod.account}-{prod.region}"


def promoter_role_arn(pipelines: Pipelines) -> str:
    return f"arn:aws:iam::{pipelines.sdlc.deployments.account}:role/{PROMOTER_ROLE}"


class SdlcPipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipelines: Pipelines,
        environments: dict[str, Environment],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        home = pipelines.sdlc.deployments
        qualifier = pipelines.bootstrap_qualifier
        registry = f"{home.account}.dkr.ecr.{home.region}.amazonaws.com"
        store = ArtifactStore(self, "Store")

        # One repository per image; tags never move, so a digest names one build forever.
        pullers = sorted({environments[n].workload.account for n in environments})
        self.repositories = {
            name: self._repository(name, pullers if name == "api" else []) for name in IMAGE_NAMES
        }

        source = codepipeline.Artifact("Source")
        release = codepipeline.Artifact("Release")
        source_action = actions.CodeStarConnectionsSourceAction(
            action_name="GitHub",
            connection_arn=pipelines.connection_arn,
            owner=pipelines.repository.split("/")[0],
            repo=pipelines.repository.split("/")[1],
            branch=pipelines.branch,
            output=source,
            variables_namespace="Source",  # the image build reads #{Source.CommitId}
        )  # pushes start the pipeline through the V2 trigger below, filtered on the branch

        def project(
            construct_id: str, description: str, cmds: list[str], **options: Any
        ) -> codebuild.PipelineProject:
            return build_project(
                self, construct_id, store=store, description=description, commands=cmds, **options
            )

        test = project(
            "LintAndTest",
            ".ci/run (make lint, then make test with PostgreSQL and Chromium) on arm64 Debian",
            commands.lint_and_test(),
            compute=codebuild.ComputeType.LARGE,
        )
        synth = project(
            "SynthAll",
            "make synth (cdk-nag included) for every environment",
            commands.synth_all(),
            compute=codebuild.ComputeType.MEDIUM,
        )
        images = project(
            "BuildImages",
            "Build the arm64 images natively, push them to ECR once and record their digests",
            commands.build_images(registry),
            install=[],
            image=codebuild.LinuxArmBuildImage.AMAZON_LINUX_2023_STANDARD_3_0,
            runtimes={"python": "3.11"},  # `make release` runs the workspace's Python (3.11+)
            compute=codebuild.ComputeType.LARGE,
            privileged=True,  # Docker builds need the daemon
        )
        for repository in self.repositories.values():
            repository.grant_pull_push(images)
        acknowledge(
            images,
            "CB3",
            "Privileged mode runs the Docker daemon that builds the arm64 images natively; nothing else "
            "runs in this project.",
        )
        acknowledge(
            images.role,  # type: ignore[arg-type]
            "IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions; push and pull are scoped to the "
            "three image repositories.",
        )

        stages: list[codepipeline.StageProps] = [
            codepipeline.StageProps(stage_name="Source", actions=[source_action]),
            codepipeline.StageProps(
                stage_name="LintAndTest", actions=[self._run("LintAndTest", test, source)]
            ),
            codepipeline.StageProps(stage_name="SynthAndNag", actions=[self._run("Synth", synth, source)]),
            codepipeline.StageProps(
                stage_name="BuildImages",
                actions=[
                    self._run(
                        "BuildImages",
                        images,
                        source,
                        output=release,
                        variables={commands.COMMIT_VARIABLE: source_action.variables.commit_id},
                    )
                ],
            ),
        ]
        order = pipelines.sdlc.environments
        for position, name in enumerate(order):
            config = environments[name]
            deploy = project(
                f"Deploy{name.title()}",
                f"make deploy ENV={name} (preflight first) with the release's image digests",
                commands.deploy(name),
                assume_roles=role_arns([config], DEPLOY_ROLES, qualifier),
            )
            smoke = project(
                f"Smoke{name.title()}",
                f"make smoke ENV={name}: through CloudFront with a machine token",
                commands.smoke(name),
                assume_roles=role_arns([config], SMOKE_ROLES, qualifier),
            )
            steps = [self._run("Deploy", deploy, release, 1), self._run("SmokeTest", smoke, release, 2)]
            if position == len(order) - 1:
                steps.append(self._run("PromoteToProd", self._promoter(project, pipelines), release, 3))
            stages.append(codepipeline.StageProps(stage_name=f"Deploy-{name}", actions=steps))

        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_name="city-tasks-sdlc",
            pipeline_type=codepipeline.PipelineType.V2,
            artifact_bucket=store.bucket,
            restart_execution_on_update=False,
            stages=stages,
            triggers=[
                codepipeline.TriggerProps(
                    provider_type=codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
                    git_configuration=codepipeline.GitConfiguration(
                        source_action=source_action,
                        push_filter=[codepipeline.GitPushFilter(branches_includes=[pipelines.branch])],
                    ),
                )
            ],
        )
        acknowledge_artifact_grants(self, store)
        CfnOutput(self, "PipelineName", value=self.pipeline.pipeline_name)
        CfnOutput(self, "Registry", value=registry)

    def _repository(self, name: str, pullers: list[str]) -> ecr.Repository:
        repository = ecr.Repository(
            self,
            f"{name.title()}Repository",
            repository_name=f"{REPOSITORY_PREFIX}/{name}",
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            image_scan_on_push=True,
            lifecycle_rules=[ecr.LifecycleRule(max_image_count=200, description="keep the last 200 builds")],
        )
        if pullers:
            # Workload accounts pull (by digest) and nothing more; their execution roles hold the other half.
            repository.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="WorkloadAccountsPull",
                    actions=PULL_ACTIONS,
                    principals=[iam.AccountPrincipal(account) for account in pullers],
                )
            )
        return repository

    def _promoter(self, project: Any, pipelines: Pipelines) -> codebuild.PipelineProject:
        """Copies the tested release (sources + digests) into the prod pipeline's bucket; builds nothing."""
        bucket = release_bucket_name(pipelines)
        promoter = project(
            "Promote",
            "Hand the release that passed test to the prod pipeline",
            commands.promote(bucket),
            role_name=PROMOTER_ROLE,
        )
        prod = pipelines.prod.deployments
        promoter.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[
                    f"arn:aws:s3:::{bucket}/{RELEASE_KEY}",
                    f"arn:aws:s3:::{bucket}/{RELEASES_PREFIX}*",
                ],
            )
        )
        promoter.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Encrypt"],
                resources=[f"arn:aws:kms:{prod.region}:{prod.account}:key/*"],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{prod.region}.amazonaws.com"}},
            )
        )
        acknowledge(
            promoter.role,  # type: ignore[arg-type]
            f"IAM5[Resource::arn:aws:s3:::{bucket}/{RELEASES_PREFIX}*]",
            "Each promoted release is kept under its commit id (for rollbacks); write-only, one prefix.",
        )
        acknowledge(
            promoter.role,  # type: ignore[arg-type]
            f"IAM5[Resource::arn:aws:kms:{prod.region}:{prod.account}:key/*]",
            "The release bucket's key is created in the prod Deployments account, so its id is unknown here; "
            "the grant is limited to that account and to use through S3.",
        )
        return promoter

    @staticmethod
    def _run(
        name: str,
        project: codebuild.IProject,
        source: codepipeline.Artifact,
        run_order: int = 1,
        output: codepipeline.Artifact | None = None,
        variables: dict[str, str] | None = None,
    ) -> actions.CodeBuildAction:
        return actions.CodeBuildAction(
            action_name=name,
            project=project,
            input=source,
            outputs=[output] if output else None,
            run_order=run_order,
            environment_variables={
                k: codebuild.BuildEnvironmentVariable(value=v) for k, v in (variables or {}).items()
            }
            or None,
        )
