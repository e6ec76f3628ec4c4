"""`make up`, `make down` and `make image`: what they run, and a clear message where Docker is missing."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.stack.dockerfile import REPO


def _make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=REPO, capture_output=True, text=True, timeout=60, env=env
    )


def test_up_builds_and_starts_the_compose_stack_then_waits_for_it() -> None:
    planned = _make("-n", "up").stdout
    assert "docker compose up --build --detach" in planned
    assert "http://localhost:8100/healthz" in planned
    assert "devstack.seed" in planned  # the demo login is printed


@pytest.mark.parametrize(
    ("target", "command"),
    [
        ("down", "docker compose down --remove-orphans"),
        ("image", "docker buildx build --platform linux/arm64"),
    ],
)
def test_down_and_image_run_docker(target: str, command: str) -> None:
    assert command in _make("-n", target).stdout


def test_down_drops_volumes_only_when_asked() -> None:
    assert "--volumes" not in _make("-n", "down").stdout
    assert "--volumes" in _make("-n", "down", "V=1").stdout


def test_image_builds_every_target_for_arm64() -> None:
    planned = _make("-n", "image").stdout
    assert "for target in api idp web" in planned
    assert "-f Dockerfile.arm64 --target $target" in planned


def test_without_docker_the_targets_say_what_to_use_instead(tmp_path: os.PathLike[str]) -> None:
    # A PATH with make and the shell's tools but no docker.
    bin_dir = tmp_path / "bin"  # type: ignore[operator]
    bin_dir.mkdir()
    for tool in ("make", "sh", "bash"):
        found = shutil.which(tool)
        assert found
        (bin_dir / tool).symlink_to(found)
    env = {**os.environ, "PATH": str(bin_dir)}
    result = _make("up", env=env)
    assert result.returncode != 0
    assert "docker is not installed; use 'make dev'" in result.stderr
