"""Where the API's container image comes from: built from the working tree (a laptop's `make deploy`), or an
image the pipeline already built and pushed, pinned by digest (`-c apiImage=<registry>/<repo>@sha256:...`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk.aws_ecr_assets import Platform
from constructs import Construct

_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*)@(?P<digest>sha256:[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class PinnedImage:
    """An ECR image by digest: digests never move, so what passed test is exactly what prod runs."""

    account: str
    region: str
    repository: str
    digest: str

    @classmethod
    def parse(cls, uri: str) -> PinnedImage:
        match = _IMAGE.match(uri.strip())
        if match is None:
            raise ValueError(
                f"apiImage {uri!r} is not an ECR image by digest: expected "
                "<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex digits>"
            )
        return cls(**match.groupdict())

    @property
    def repository_arn(self) -> str:
        return f"arn:aws:ecr:{self.region}:{self.account}:repository/{self.repository}"

    @property
    def uri(self) -> str:
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{self.repository}@{self.digest}"


def api_container_image(
    scope: Construct, image: str | None, repo_root: Path, excludes: list[str]
) -> ecs.ContainerImage:
    """The pinned image when one is given (its pull permission goes to the execution role), else a build."""
    if image:
        pinned = PinnedImage.parse(image)
        repository = ecr.Repository.from_repository_attributes(
            scope,
            "ApiImageRepository",
            repository_arn=pinned.repository_arn,
            repository_name=pinned.repository,
        )
        return ecs.ContainerImage.from_ecr_repository(repository, pinned.digest)
    return ecs.ContainerImage.from_asset(
        str(repo_root), file="Dockerfile.arm64", platform=Platform.LINUX_ARM64, exclude=excludes
    )
