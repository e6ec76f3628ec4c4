"""A release: the commit, and the three images built from it, by digest (release.json next to the sources).

`make release` pushes the images `make image` built and writes release.json; `make promote` hands the
release that passed test (sources + release.json) to the prod pipeline's bucket; `make rollback-prod
COMMIT=...` hands it an earlier one again. Nothing here builds an image.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.constructs.api_image import PinnedImage
from infra.pipelines.sdlc import IMAGE_NAMES, RELEASE_KEY, RELEASES_PREFIX, REPOSITORY_PREFIX
from infra.runner import DeployError

# Never part of a release archive: local state, caches and build output.
SKIPPED = {
    ".git",
    ".venv",
    "node_modules",
    "cdk.out",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
}

Run = Callable[[list[str], str | None], str]


class ReleaseError(DeployError):
    """A release cannot be read, published or promoted; the message says why."""


@dataclass(frozen=True)
class Release:
    commit: str
    images: dict[str, str]  # image name -> <registry>/<repository>@sha256:...

    @classmethod
    def load(cls, path: Path) -> Release:
        try:
            raw = json.loads(path.read_text())
            release = cls(commit=str(raw["commit"]), images=dict(raw["images"]))
        except FileNotFoundError:
            raise ReleaseError(f"{path}: no release file (the pipeline's `make release` writes it)") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ReleaseError(f"{path}: not a release file ({exc})") from None
        for name, uri in release.images.items():
            try:
                PinnedImage.parse(uri)
            except ValueError as exc:
                raise ReleaseError(f"{path}: image {name}: {exc}") from None
        return release

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({"commit": self.commit, "images": self.images}, indent=2) + "\n")


def api_image_of(path: Path) -> str:
    release = Release.load(path)
    if "api" not in release.images:
        raise ReleaseError(f"{path}: the release has no api image")
    return release.images["api"]


def _run(argv: list[str], stdin: str | None) -> str:
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise ReleaseError(f"{argv[0]} {argv[1]} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def publish(tag: str, registry: str, ecr: Any, run: Run = _run) -> Release:
    """Push `city-tasks-<name>:<tag>` (from `make image`) to ECR and read back each pushed digest."""
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    password = base64.b64decode(token).decode().split(":", 1)[1]
    run(["docker", "login", "--username", "AWS", "--password-stdin", registry], password)
    images: dict[str, str] = {}
    for name in IMAGE_NAMES:
        repository = f"{registry}/{REPOSITORY_PREFIX}/{name}"
        run(["docker", "tag", f"city-tasks-{name}:{tag}", f"{repository}:{tag}"], None)
        run(["docker", "push", f"{repository}:{tag}"], None)
        digests = json.loads(
            run(["docker", "inspect", "--format", "{{json .RepoDigests}}", f"{repository}:{tag}"], None)
        )
        pushed = [d for d in digests if d.startswith(f"{repository}@sha256:")]
        if not pushed:
            raise ReleaseError(f"docker reports no digest in {repository} for tag {tag}")
        images[name] = pushed[0]
    return Release(commit=tag, images=images)


def archive(source: Path, target: Path) -> None:
    """Zip the release directory (sources + release.json), as CodePipeline's S3 source expects."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive_file:
        for path in sorted(_files(source)):
            archive_file.write(path, path.relative_to(source).as_posix())


def _files(root: Path) -> Iterable[Path]:
    for path in root.iterdir():
        if path.name in SKIPPED or path.is_symlink():
            continue
        if path.is_dir():
            yield from _files(path)
        else:
            yield path


def promote(source: Path, bucket: str, s3: Any) -> str:
    """Upload the release under its commit (kept for rollbacks), then as release.zip (starts prod)."""
    release = Release.load(source / "release.json")
    target = source.parent / f"{release.commit}.zip"
    archive(source, target)
    kept = f"{RELEASES_PREFIX}{release.commit}.zip"
    # Two uploads rather than a copy: the promoter may write to this bucket and nothing more.
    for key in (kept, RELEASE_KEY):
        s3.upload_file(str(target), bucket, key, ExtraArgs={"ServerSideEncryption": "aws:kms"})
    return kept


def rollback(commit: str, bucket: str, s3: Any) -> str:
    """Make an earlier release the current one: the prod pipeline runs again (with its approval)."""
    kept = f"{RELEASES_PREFIX}{commit}.zip"
    try:
        s3.head_object(Bucket=bucket, Key=kept)
    except Exception:  # botocore's ClientError for 404/403; the message names what to check
        raise ReleaseError(
            f"s3://{bucket}/{kept} not found: only releases that passed test can be redeployed"
        ) from None
    s3.copy_object(
        Bucket=bucket,
        Key=RELEASE_KEY,
        CopySource={"Bucket": bucket, "Key": kept},
        ServerSideEncryption="aws:kms",
    )
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.pipelines.release", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    pub = sub.add_parser("publish", help="push the images of `make image` and write release.json")
    pub.add_argument("--tag", required=True)
    pub.add_argument("--registry", required=True)
    pub.add_argument("--out", type=Path, default=Path("release.json"))
    pro = sub.add_parser("promote", help="upload this directory (with release.json) to the prod bucket")
    pro.add_argument("--bucket", required=True)
    pro.add_argument("--source", type=Path, default=Path("."))
    back = sub.add_parser("rollback", help="make an earlier release current (needs the prod profile)")
    back.add_argument("--commit", required=True)
    back.add_argument("--profile", default=None)
    args = parser.parse_args(argv)
    import boto3

    try:
        if args.command == "publish":
            region = args.registry.split(".")[3]
            release = publish(args.tag, args.registry, boto3.client("ecr", region_name=region))
            release.save(args.out)
            print(json.dumps(release.images, indent=2))
        elif args.command == "promote":
            kept = promote(args.source.resolve(), args.bucket, boto3.client("s3"))
            print(f"promoted s3://{args.bucket}/{kept}")
        else:
            from infra.environments import load_pipelines

            pipelines = load_pipelines()
            from infra.pipelines.sdlc import release_bucket_name

            prod = pipelines.prod.deployments
            s3 = boto3.Session(profile_name=args.profile or prod.profile).client(
                "s3", region_name=prod.region
            )
            kept = rollback(args.commit, release_bucket_name(pipelines), s3)
            print(f"{kept} is the current release again: approve it in the city-tasks-prod pipeline")
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
