"""The two delivery pipelines, read from their synthesized templates (`ENV=pipelines`)."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from infra.environments import load_pipelines
from infra.pipelines.app import PROD_STACK, SDLC_STACK
from infra.pipelines.sdlc import PROMOTER_ROLE

PIPELINES = load_pipelines()
SDLC_ACCOUNT = PIPELINES.sdlc.deployments.account
PROD_ACCOUNT = PIPELINES.prod.deployments.account


def _pipeline(synth, stack: str) -> dict:
    (pipeline,) = synth.resources(stack, "AWS::CodePipeline::Pipeline").values()
    return pipeline["Properties"]


def _stages(synth, stack: str) -> list[str]:
    return [stage["Name"] for stage in _pipeline(synth, stack)["Stages"]]


def _actions(synth, stack: str, stage: str) -> list[dict]:
    (found,) = [s for s in _pipeline(synth, stack)["Stages"] if s["Name"] == stage]
    return sorted(found["Actions"], key=lambda a: a["RunOrder"])


def _project_of(synth, stack: str, action: dict) -> dict:
    return synth.templates[stack]["Resources"][action["Configuration"]["ProjectName"]["Ref"]]["Properties"]


def _buildspec(project: dict) -> dict:
    return yaml.safe_load(project["Source"]["BuildSpec"])


def _statements(synth, stack: str, role_logical_id: str) -> list[dict]:
    statements = []
    for policy in synth.resources(stack, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _assumable(synth, stack: str, project: dict) -> set[str]:
    role_id = project["ServiceRole"]["Fn::GetAtt"][0]
    found: set[str] = set()
    for statement in _statements(synth, stack, role_id):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if "sts:AssumeRole" in actions:
            resources = statement["Resource"]
            found |= set(resources if isinstance(resources, list) else [resources])
    return found


def _accounts(arns: set[str]) -> set[str]:
    return {arn.split(":")[4] for arn in arns}


def test_sdlc_stages_run_in_the_issue_order(pipeline_synth):
    envs = PIPELINES.sdlc.environments
    assert _stages(pipeline_synth, SDLC_STACK) == [
        "Source",
        "LintAndTest",
        "SynthAndNag",
        "BuildImages",
        *(f"Deploy-{name}" for name in envs),
    ]
    for name in envs:
        names = [a["Name"] for a in _actions(pipeline_synth, SDLC_STACK, f"Deploy-{name}")]
        assert names[:2] == ["Deploy", "SmokeTest"]
    # Prod gets only what passed the last SDLC environment's smoke test.
    assert [a["Name"] for a in _actions(pipeline_synth, SDLC_STACK, f"Deploy-{envs[-1]}")][
        -1
    ] == "PromoteToProd"


def test_sdlc_pipeline_is_v2_and_starts_on_pushes_to_main_through_the_connection(pipeline_synth):
    props = _pipeline(pipeline_synth, SDLC_STACK)
    assert props["PipelineType"] == "V2"
    (trigger,) = props["Triggers"]
    assert trigger["ProviderType"] == "CodeStarSourceConnection"
    assert trigger["GitConfiguration"]["Push"] == [{"Branches": {"Includes": [PIPELINES.branch]}}]
    (source,) = _actions(pipeline_synth, SDLC_STACK, "Source")
    assert source["Configuration"]["ConnectionArn"] == PIPELINES.connection_arn
    assert source["Configuration"]["FullRepositoryId"] == PIPELINES.repository


def test_every_build_runs_on_arm64_linux(pipeline_synth):
    for stack in (SDLC_STACK, PROD_STACK):
        projects = pipeline_synth.resources(stack, "AWS::CodeBuild::Project")
        assert projects
        for project in projects.values():
            assert project["Properties"]["Environment"]["Type"] == "ARM_CONTAINER"


def test_images_are_built_natively_once_and_the_digests_travel_as_the_release(pipeline_synth):
    (build,) = _actions(pipeline_synth, SDLC_STACK, "BuildImages")
    project = _project_of(pipeline_synth, SDLC_STACK, build)
    assert project["Environment"]["Image"].startswith("aws/codebuild/amazonlinux-aarch64-standard")
    assert project["Environment"]["PrivilegedMode"] is True  # the Docker daemon, no emulation
    # The commit tags the images: the source action's CommitId variable.
    variables = json.loads(build["Configuration"]["EnvironmentVariables"])
    assert variables == [{"name": "COMMIT", "type": "PLAINTEXT", "value": "#{Source.CommitId}"}]
    (release,) = build["OutputArtifacts"]
    for name in PIPELINES.sdlc.environments:
        for action in _actions(pipeline_synth, SDLC_STACK, f"Deploy-{name}"):
            assert action["InputArtifacts"] == [release]


def test_image_repositories_are_immutable_and_only_the_workload_accounts_pull_the_api(
    pipeline_synth, environments
):
    repositories = pipeline_synth.resources(SDLC_STACK, "AWS::ECR::Repository")
    by_name = {r["Properties"]["RepositoryName"]: r["Properties"] for r in repositories.values()}
    assert set(by_name) == {"city-tasks/api", "city-tasks/idp", "city-tasks/web"}
    assert all(p["ImageTagMutability"] == "IMMUTABLE" for p in by_name.values())
    (statement,) = by_name["city-tasks/api"]["RepositoryPolicyText"]["Statement"]
    assert sorted(statement["Action"]) == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]
    principals = json.dumps(statement["Principal"])
    for config in environments.values():
        assert config.workload.account in principals
    assert "RepositoryPolicyText" not in by_name["city-tasks/idp"]


def test_prod_asks_a_person_before_deploying_and_smoke_tests_after(pipeline_synth):
    assert _stages(pipeline_synth, PROD_STACK) == ["Source", "Preflight", "Approve", "Deploy-prod"]
    (approval,) = _actions(pipeline_synth, PROD_STACK, "Approve")
    assert approval["ActionTypeId"] == {
        "Category": "Approval",
        "Owner": "AWS",
        "Provider": "Manual",
        "Version": "1",
    }
    assert [a["Name"] for a in _actions(pipeline_synth, PROD_STACK, "Deploy-prod")] == ["Deploy", "SmokeTest"]


def test_prod_never_builds_an_image(pipeline_synth):
    template = json.dumps(pipeline_synth.templates[PROD_STACK])
    assert not pipeline_synth.resources(PROD_STACK, "AWS::ECR::Repository")
    for project in pipeline_synth.resources(PROD_STACK, "AWS::CodeBuild::Project").values():
        assert project["Properties"]["Environment"].get("PrivilegedMode") is not True
        commands = _buildspec(project["Properties"])["phases"]["build"]["commands"]
        assert not [c for c in commands if re.search(r"\bmake (image|release)\b|docker", c)]
    assert "make deploy ENV=prod RELEASE=release.json" in template


def test_prod_starts_from_the_release_the_sdlc_promoter_wrote(pipeline_synth):
    (source,) = _actions(pipeline_synth, PROD_STACK, "Source")
    assert source["ActionTypeId"]["Provider"] == "S3"
    assert source["Configuration"]["S3ObjectKey"] == "release.zip"
    promoter = f"arn:aws:iam::{SDLC_ACCOUNT}:role/{PROMOTER_ROLE}"
    (policy,) = pipeline_synth.resources(PROD_STACK, "AWS::S3::BucketPolicy").values() and [
        p
        for p in pipeline_synth.resources(PROD_STACK, "AWS::S3::BucketPolicy").values()
        if "SdlcPromoterWrites" in json.dumps(p)
    ]
    (writes,) = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "SdlcPromoterWrites"
    ]
    assert writes["Principal"] == {"AWS": promoter}
    assert writes["Action"] == "s3:PutObject"
    roles = pipeline_synth.resources(SDLC_STACK, "AWS::IAM::Role").values()
    assert [r for r in roles if r["Properties"].get("RoleName") == PROMOTER_ROLE]
    (rule,) = pipeline_synth.resources(PROD_STACK, "AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"]["detail"]["object"] == {"key": ["release.zip"]}


@pytest.mark.parametrize("stack", [SDLC_STACK, PROD_STACK])
def test_cross_account_roles_reach_only_the_accounts_of_their_environment(
    pipeline_synth, environments, stack
):
    checked = 0
    for stage in _pipeline(pipeline_synth, stack)["Stages"]:
        for action in stage["Actions"]:
            if action["ActionTypeId"]["Provider"] != "CodeBuild":
                continue
            arns = _assumable(pipeline_synth, stack, _project_of(pipeline_synth, stack, action))
            where = f"{stage['Name']}/{action['Name']}"
            if action["Name"] not in {"Deploy", "SmokeTest"}:
                assert arns == set(), f"{where} must not leave its own account"
                continue
            name = "prod" if stack == PROD_STACK else stage["Name"].removeprefix("Deploy-")
            config = environments[name]
            assert _accounts(arns) == {config.security.account, config.workload.account}, where
            for arn in arns:
                assert re.fullmatch(
                    r"arn:aws:iam::\d{12}:role/cdk-hnb659fds-[a-z-]+-role-\d{12}-us-east-1", arn
                )
            checked += 1
    assert checked >= 2
    # Beyond the image repositories (prod pulls the tested image from them), SDLC never names prod.
    resources = pipeline_synth.templates[stack]["Resources"]
    everything = json.dumps({k: v for k, v in resources.items() if v["Type"] != "AWS::ECR::Repository"})
    if stack == SDLC_STACK:
        assert environments["prod"].workload.account not in everything
    else:
        for name in PIPELINES.sdlc.environments:
            assert environments[name].workload.account not in everything


def test_smoke_steps_may_only_read(pipeline_synth):
    for stack in (SDLC_STACK, PROD_STACK):
        for stage in _pipeline(pipeline_synth, stack)["Stages"]:
            for action in stage["Actions"]:
                if action["Name"] == "SmokeTest":
                    arns = _assumable(pipeline_synth, stack, _project_of(pipeline_synth, stack, action))
                    assert arns
                    assert all("-lookup-role-" in arn for arn in arns)


def test_artifact_and_release_buckets_are_encrypted_with_a_rotated_key_and_tls_only(pipeline_synth):
    for stack in (SDLC_STACK, PROD_STACK):
        resources = pipeline_synth.templates[stack]["Resources"]
        store = _pipeline(pipeline_synth, stack)["ArtifactStore"]
        assert store["Type"] == "S3"
        bucket = resources[store["Location"]["Ref"]]["Properties"]
        (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        key_id = rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]["Fn::GetAtt"][0]
        assert resources[key_id]["Properties"]["EnableKeyRotation"] is True
        for name, props in (
            (k, v["Properties"]) for k, v in resources.items() if v["Type"] == "AWS::S3::Bucket"
        ):
            assert "BucketEncryption" in props, name
            assert props["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
        policies = pipeline_synth.resources(stack, "AWS::S3::BucketPolicy").values()
        denies = [
            s
            for p in policies
            for s in p["Properties"]["PolicyDocument"]["Statement"]
            if s["Effect"] == "Deny"
        ]
        assert {json.dumps(s["Condition"]) for s in denies} == {'{"Bool": {"aws:SecureTransport": "false"}}'}
        for project in pipeline_synth.resources(stack, "AWS::CodeBuild::Project").values():
            assert "EncryptionKey" in project["Properties"]


def test_cdk_nag_passes_and_every_acknowledgment_says_why(pipeline_synth):
    report = json.loads((pipeline_synth.outdir / "validation-report.json").read_text())
    assert [v for p in report["pluginReports"] for v in p["violations"]] == []
    reasons = [
        rule["reason"]
        for template in pipeline_synth.templates.values()
        for resource in template["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert reasons  # the privileged image build, CDK's own grants...
    assert all(len(reason) >= 40 for reason in reasons)
