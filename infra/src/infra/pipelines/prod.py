"""The prod pipeline (Deployments-Prod account): takes a release that passed test from its bucket, checks it,
waits for a person's approval, deploys prod with the release's image digests and smoke-tests it.
It never builds an image: the digests it deploys are the ones test ran."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.constructs.nag import acknowledge
from infra.environments import Environment, Pipelines
from infra.pipelines import commands
from infra.pipelines.parts import ArtifactStore, acknowledge_artifact_grants, build_project
from infra.pipelines.roles import DEPLOY_ROLES, SMOKE_ROLES, role_arns
from infra.pipelines.sdlc import RELEASE_KEY, RELEASES_PREFIX, promoter_role_arn, release_bucket_name


class ProdPipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipelines: Pipelines,
        environment: Environment,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        qualifier = pipelines.bootstrap_qualifier
        store = ArtifactStore(self, "Store")
        promoter = iam.ArnPrincipal(promoter_role_arn(pipelines))
        self.releases = store.encrypted_bucket(
            "Releases", "releases/", bucket_name=release_bucket_name(pipelines), event_bridge_enabled=True
        )
        # Only the SDLC pipeline's promote step writes here, and only after test passed.
        self.releases.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SdlcPromoterWrites",
                actions=["s3:PutObject"],
                principals=[promoter],
                resources=[
                    self.releases.arn_for_objects(RELEASE_KEY),
                    self.releases.arn_for_objects(f"{RELEASES_PREFIX}*"),
                ],
            )
        )
        store.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SdlcPromoterEncrypts",
                actions=["kms:GenerateDataKey", "kms:Encrypt"],
                principals=[promoter],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"}},
            )
        )

        release = codepipeline.Artifact("Release")
        name = environment.name

        def project(construct_id: str, description: str, cmds: list[str], kinds: tuple[str, ...]) -> Any:
            return build_project(
                self,
                construct_id,
                store=store,
                description=description,
                commands=cmds,
                assume_roles=role_arns([environment], kinds, qualifier),
            )

        check = project(
            "Preflight",
            f"make preflight ENV={name} before anyone approves",
            commands.preflight(name),
            (),  # offline: the synthesized templates against the organization spec's SCPs
        )
        deploy = project(
            "Deploy", f"make deploy ENV={name} with the promoted digests", commands.deploy(name), DEPLOY_ROLES
        )
        smoke = project(
            "Smoke", f"make smoke ENV={name} through CloudFront", commands.smoke(name), SMOKE_ROLES
        )

        def run(action_name: str, build: Any, run_order: int = 1) -> actions.CodeBuildAction:
            return actions.CodeBuildAction(
                action_name=action_name, project=build, input=release, run_order=run_order
            )

        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_name="city-tasks-prod",
            pipeline_type=codepipeline.PipelineType.V2,
            execution_mode=codepipeline.ExecutionMode.QUEUED,  # one release at a time, none dropped
            artifact_bucket=store.bucket,
            restart_execution_on_update=False,
            stages=[
                codepipeline.StageProps(
                    stage_name="Source",
                    actions=[
                        actions.S3SourceAction(
                            action_name="TestedRelease",
                            bucket=self.releases,
                            bucket_key=RELEASE_KEY,
                            output=release,
                            trigger=actions.S3Trigger.NONE,  # the EventBridge rule below starts it
                            variables_namespace="Release",
                        )
                    ],
                ),
                codepipeline.StageProps(stage_name="Preflight", actions=[run("Preflight", check)]),
                codepipeline.StageProps(
                    stage_name="Approve",
                    actions=[
                        actions.ManualApprovalAction(
                            action_name="ApproveProdDeploy",
                            additional_information=(
                                "Deploys to prod the images that passed dev and test (release.zip version "
                                "#{Release.VersionId}). Approve only after reading the test run."
                            ),
                        )
                    ],
                ),
                codepipeline.StageProps(
                    stage_name=f"Deploy-{name}",
                    actions=[run("Deploy", deploy, 1), run("SmokeTest", smoke, 2)],
                ),
            ],
        )
        events.Rule(
            self,
            "OnRelease",
            description="Start the prod pipeline when the SDLC pipeline promotes a release",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={"bucket": {"name": [self.releases.bucket_name]}, "object": {"key": [RELEASE_KEY]}},
            ),
            targets=[targets.CodePipeline(self.pipeline)],
        )
        acknowledge_artifact_grants(self, store)
        handler = next(c for c in self.node.children if c.node.id.startswith("BucketNotificationsHandler"))
        acknowledge(
            handler,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's handler that turns on the bucket's EventBridge notifications only writes its own logs.",
        )
        CfnOutput(self, "PipelineName", value=self.pipeline.pipeline_name)
        CfnOutput(self, "ReleaseBucket", value=self.releases.bucket_name)
