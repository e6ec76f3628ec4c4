"""`make up`, `make down` and `make image`: what they run, and a clear message where Docker is missing."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.stack.dockerfile import REPO
from tests.support.uv import uv_executable


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


def test_what_make_starts_finds_the_makefiles_uv_without_it_on_path() -> None:
    uv = uv_executable()
    env = {k: v for k, v in os.environ.items() if k != "UV"}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"  # no ~/.local/bin, where `make uv` installs it
    if shutil.which("uv", path=env["PATH"]):
        pytest.skip("uv is installed system-wide here; the case of a PATH without it cannot be shown")
    # --eval adds a throwaway target that asks, as any recipe would, which `uv` the shell finds.
    result = _make("-s", "--eval", "which-uv: ; @command -v uv; echo $$UV", "which-uv", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [uv, uv]
