"""What each pipeline step runs: `make` targets only, so a laptop and the pipeline run the same thing.

The build projects get their commands from here; tests/infra/test_pipeline_commands.py checks that every
command is a target of the Makefile (or `.ci/run`, which ends in `make test`, exactly as pull requests run).
"""

from __future__ import annotations

from infra.environments import ENVIRONMENT_NAMES

# Written by `make release` next to the sources; every later step reads the image digests from it.
RELEASE_FILE = "release.json"
# The commit being built, passed to the image build by the pipeline (the source action's CommitId).
COMMIT_VARIABLE = "COMMIT"
# Debian with Node 20, the base the project's machines and CI have; `.ci/base-packages` adds Python and make.
CI_IMAGE = "public.ecr.aws/docker/library/node:20-bookworm"
# What a bare Debian image needs before any `make` target can run.
BASE_PACKAGES = ("bash .ci/base-packages",)


def lint_and_test() -> list[str]:
    # `.ci/run` installs PostgreSQL and Chromium (as on a pull request), runs `make lint` then `make test`;
    # the images are built natively and tested by the image build and the smoke test, not by emulation here.
    return ["CI_CONTAINERS=skip bash .ci/run"]


def synth_all() -> list[str]:
    """Every environment and the pipelines themselves; cdk-nag runs inside each synth and fails it."""
    return [f"make synth ENV={name}" for name in (*ENVIRONMENT_NAMES, "pipelines")]


def build_images(registry: str) -> list[str]:
    """Build the three arm64 images natively, push them once (tag = commit) and record their digests."""
    tag = f"IMAGE_TAG=${COMMIT_VARIABLE}"
    return [f"make image {tag}", f"make release {tag} REGISTRY={registry}"]


def deploy(environment: str) -> list[str]:
    """The laptop's deploy with the pipeline's image digests and the pipeline's cross-account roles.
    `make deploy` runs the SCP preflight (`make preflight`) before it touches any stack."""
    return [f"make deploy ENV={environment} RELEASE={RELEASE_FILE} PIPELINE=1"]


def preflight(environment: str) -> list[str]:
    """Prod runs it on its own too, before the approval, so that the approver sees it passed."""
    return [f"make preflight ENV={environment}"]


def smoke(environment: str) -> list[str]:
    return [f"make smoke ENV={environment} PIPELINE=1"]


def promote(bucket: str) -> list[str]:
    return [f"make promote RELEASE={RELEASE_FILE} RELEASE_BUCKET={bucket}"]
