"""A release (commit + image digests): read, published, deployed by digest, promoted and rolled back."""

from __future__ import annotations

import base64
import io
import json
import zipfile

import boto3
import pytest
from botocore.stub import Stubber
from infra.constructs.api_image import PinnedImage
from infra.pipelines import release as rel
from infra.pipelines.release import Release, ReleaseError, api_image_of
from infra.runner import Runner

from infra import deploy
from tests.infra.conftest import synthesize
from tests.infra.test_deploy import API_ORIGIN, IDP_OUTPUTS, NEW_FRONTEND, FakeCdk, StubbedSessions
from tests.support.moto import client, moto_server

REGISTRY = "555555555555.dkr.ecr.us-east-1.amazonaws.com"
DIGEST = "sha256:" + "ab" * 32
API_IMAGE = f"{REGISTRY}/city-tasks/api@{DIGEST}"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _release_file(tmp_path, **images: str):
    path = tmp_path / "release.json"
    Release(commit=COMMIT, images=images or {"api": API_IMAGE}).save(path)
    return path


def test_the_api_image_is_read_from_the_release(tmp_path):
    assert api_image_of(_release_file(tmp_path)) == API_IMAGE


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no release file"),
        ("{not json", "not a release file"),
        (json.dumps({"commit": COMMIT}), "not a release file"),
        (
            json.dumps({"commit": COMMIT, "images": {"api": "city-tasks-api:latest"}}),
            "not an ECR image by digest",
        ),
        (json.dumps({"commit": COMMIT, "images": {"web": API_IMAGE}}), "has no api image"),
    ],
)
def test_a_broken_release_file_is_refused_with_a_reason(tmp_path, content, message):
    path = tmp_path / "release.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ReleaseError, match=message):
        api_image_of(path)


def test_a_pipeline_deploy_pins_the_digest_on_every_tasks_deploy_and_uses_no_profile(environments, tmp_path):
    config = environments["sandbox"]
    cdk = FakeCdk(
        tmp_path,
        {
            "CityTasks-Idp-sandbox": IDP_OUTPUTS,
            "CityTasks-Tasks-sandbox": API_ORIGIN,
            "CityTasks-Frontend-sandbox": {"FrontendUrl": NEW_FRONTEND},
        },
    )
    runner = Runner(
        dry_run=False, out=io.StringIO(), run=cdk, cwd=tmp_path, check_tools=False, ambient_credentials=True
    )
    sessions = StubbedSessions(
        {config.security.profile: config.security.account, config.workload.profile: config.workload.account},
        None,
    )
    deploy.deploy(config, runner, session_factory=sessions, api_image=API_IMAGE)
    tasks_calls = [call for call in cdk.calls if call[2] == "CityTasks-Tasks-sandbox"]
    assert len(tasks_calls) == 2  # the first deploy and the CORS update
    assert all(cdk.context(call)["apiImage"] == API_IMAGE for call in tasks_calls)
    assert not [call for call in cdk.calls if "--profile" in call]


def test_the_cli_dry_run_shows_the_pipeline_deploy(tmp_path, capfd):
    path = _release_file(tmp_path)
    assert deploy.main(["deploy", "--env", "dev", "--dry-run", "--release", str(path), "--pipeline"]) == 0
    out = capfd.readouterr().out
    assert f"-c apiImage={API_IMAGE}" in out
    assert "--profile" not in out.split("Deploy the IdP stack", 1)[1]


def test_a_broken_release_is_a_clear_cli_error(tmp_path, capsys):
    assert deploy.main(["deploy", "--env", "dev", "--dry-run", "--release", str(tmp_path / "none.json")]) == 2
    assert "no release file" in capsys.readouterr().err


def test_the_tasks_stack_runs_the_pinned_image_and_may_pull_only_that_repository(environments, tmp_path):
    from infra.app import DeployInputs

    synth = synthesize(
        environments["dev"],
        tmp_path / "cdk",
        inputs=DeployInputs(api_image=API_IMAGE),
        frontend_dist=tmp_path,
    )
    # The API service, its migrations task and the scheduler worker all run the one pinned image.
    tasks = synth.resources("Tasks", "AWS::ECS::TaskDefinition").values()
    images = [json.dumps(c["Image"]) for t in tasks for c in t["Properties"]["ContainerDefinitions"]]
    assert images
    for image in images:
        assert "555555555555.dkr.ecr.us-east-1" in image
        assert f"city-tasks/api@{DIGEST}" in image
    assets = json.loads((synth.outdir / "CityTasks-Tasks-dev.assets.json").read_text())
    assert assets.get("dockerImages", {}) == {}  # nothing is built
    pulls = [
        s
        for p in synth.resources("Tasks", "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "ecr:BatchGetImage" in s["Action"]
    ]
    assert pulls  # the API and the worker execution roles
    assert {s["Resource"] for s in pulls} == {"arn:aws:ecr:us-east-1:555555555555:repository/city-tasks/api"}


def test_an_image_that_is_not_pinned_by_digest_is_refused():
    with pytest.raises(ValueError, match="not an ECR image by digest"):
        PinnedImage.parse(f"{REGISTRY}/city-tasks/api:latest")


def test_publish_pushes_each_image_once_and_records_its_digest():
    ecr = boto3.client("ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(ecr)
    token = base64.b64encode(b"AWS:secret-password").decode()
    stubber.add_response(
        "get_authorization_token",
        {"authorizationData": [{"authorizationToken": token, "proxyEndpoint": REGISTRY}]},
    )
    stubber.activate()
    calls: list[tuple[list[str], str | None]] = []

    def docker(argv: list[str], stdin: str | None) -> str:
        calls.append((argv, stdin))
        if argv[1] == "inspect":
            repository = argv[-1].rsplit(":", 1)[0]
            return json.dumps([f"{repository}@sha256:{argv[-1].split('/')[-1][:2] * 32}", "other@sha256:00"])
        return ""

    release = rel.publish(COMMIT, REGISTRY, ecr, run=docker)
    assert calls[0] == (
        ["docker", "login", "--username", "AWS", "--password-stdin", REGISTRY],
        "secret-password",
    )
    pushes = [argv[2] for argv, _ in calls if argv[1] == "push"]
    assert pushes == [f"{REGISTRY}/city-tasks/{n}:{COMMIT}" for n in ("api", "idp", "web")]
    assert release.commit == COMMIT
    assert set(release.images) == {"api", "idp", "web"}
    for name, uri in release.images.items():
        assert uri.startswith(f"{REGISTRY}/city-tasks/{name}@sha256:")


@pytest.fixture(scope="module")
def s3_url():
    with moto_server() as url:
        yield url


def test_promote_hands_the_release_to_prod_and_rollback_makes_an_earlier_one_current(tmp_path, s3_url):
    s3 = client("s3", s3_url)
    bucket = "city-tasks-releases-666666666666-us-east-1"
    s3.create_bucket(Bucket=bucket)
    first, second = tmp_path / "first" / "src", tmp_path / "second" / "src"
    for source, commit in ((first, "a" * 40), (second, "b" * 40)):
        (source / ".git").mkdir(parents=True)
        (source / ".git" / "HEAD").write_text("ref")
        (source / "Makefile").write_text(f"# {commit}\n")
        Release(commit=commit, images={"api": API_IMAGE}).save(source / "release.json")
        assert rel.promote(source, bucket, s3) == f"releases/{commit}.zip"

    def current() -> zipfile.ZipFile:
        return zipfile.ZipFile(io.BytesIO(s3.get_object(Bucket=bucket, Key="release.zip")["Body"].read()))

    assert sorted(current().namelist()) == ["Makefile", "release.json"]  # no .git
    assert json.loads(current().read("release.json"))["commit"] == "b" * 40
    rel.rollback("a" * 40, bucket, s3)
    assert json.loads(current().read("release.json"))["commit"] == "a" * 40
    with pytest.raises(ReleaseError, match="only releases that passed test"):
        rel.rollback("c" * 40, bucket, s3)
