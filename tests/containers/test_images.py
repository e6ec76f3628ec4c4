"""The three images of Dockerfile.arm64 built for linux/arm64 with podman: architecture, user and size."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.containers.engine import podman
from tests.stack.dockerfile import parse

pytestmark = [pytest.mark.slow, pytest.mark.timeout(7200)]


def _config(image: str) -> dict[str, Any]:
    (inspected,) = json.loads(podman("image", "inspect", image).stdout)
    return inspected


def _dockerfile_user(target: str) -> str | None:
    users = parse().stage(target).all("USER")
    return users[-1].args if users else None


@pytest.mark.parametrize("target", ["api", "idp", "web"])
def test_each_image_is_arm64_and_runs_as_its_non_root_user(
    target: str, images: dict[str, str], results: dict[str, Any]
) -> None:
    image = images[target]
    inspected = _config(image)
    assert inspected["Architecture"] == "arm64"
    assert inspected["Os"] == "linux"
    # The process really runs on (emulated) aarch64, as the user the image says.
    machine = podman("run", "--rm", "--entrypoint", "uname", image, "-m").stdout.strip()
    assert machine == "aarch64"
    uid, gid = podman("run", "--rm", "--entrypoint", "sh", image, "-c", "id -u; id -g").stdout.split()
    assert uid != "0", f"{target} runs as root"
    named = _dockerfile_user(target)
    if named is not None:
        assert f"{uid}:{gid}" == named  # USER 10001:10001
    else:
        # The web stage keeps its base image's user (nginx-unprivileged: 101).
        assert inspected["Config"]["User"] in (uid, f"{uid}:{gid}", "nginx")
    results.setdefault("image_mb", {})[target] = round(inspected["Size"] / 1e6, 1)
