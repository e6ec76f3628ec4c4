"""`make images|up|down`: what they run with each engine; clear messages when no engine or port is free."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

import pytest

from tests.stack.dockerfile import REPO
from tests.support.uv import uv_executable


def _make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=REPO, capture_output=True, text=True, timeout=60, env=env
    )


def test_up_builds_the_images_starts_the_compose_stack_then_waits_for_it() -> None:
    planned = _make("-n", "up", "ENGINE=docker").stdout
    assert "docker buildx build --platform linux/arm64" in planned  # `images` first
    assert "docker compose up --detach" in planned
    assert "http://localhost:8100/healthz" in planned
    assert "devstack.seed" in planned  # the demo login is printed


def test_up_refuses_ports_that_are_taken() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = _make("up", f"STACK_PORTS={port}")
    assert result.returncode != 0
    assert f"port {port} is already in use" in result.stderr


@pytest.mark.parametrize(
    ("engine", "target", "command"),
    [
        ("docker", "down", "docker compose down --remove-orphans"),
        ("docker", "images", "docker buildx build --platform linux/arm64"),
        ("podman", "down", "podman-compose down --remove-orphans"),
        ("podman", "images", "podman build --format docker --platform linux/arm64 --pull=missing"),
        ("podman", "up", "podman-compose up --detach --no-deps"),
    ],
)
def test_the_targets_use_the_chosen_engine(engine: str, target: str, command: str) -> None:
    assert command in _make("-n", target, f"ENGINE={engine}").stdout


def test_podman_builds_use_only_stored_images_when_told() -> None:
    assert "--pull=never" in _make("-n", "images", "ENGINE=podman", "IMAGE_PULL=never").stdout


def test_down_drops_volumes_only_when_asked() -> None:
    assert "--volumes" not in _make("-n", "down", "ENGINE=docker").stdout
    assert "--volumes" in _make("-n", "down", "ENGINE=docker", "V=1").stdout


def test_images_builds_every_target_for_arm64() -> None:
    planned = _make("-n", "images", "ENGINE=docker").stdout
    assert "for target in api idp web" in planned
    assert "-f Dockerfile.arm64 --target $target" in planned


def test_an_unknown_engine_is_refused_with_the_choices() -> None:
    result = _make("images", "ENGINE=lxc")
    assert result.returncode != 0
    assert "ENGINE must be docker or podman, not 'lxc'" in result.stderr


def test_without_an_engine_the_targets_say_what_to_use_instead(tmp_path: os.PathLike[str]) -> None:
    # A PATH with make and the shell's tools but neither docker nor podman.
    bin_dir = tmp_path / "bin"  # type: ignore[operator]
    bin_dir.mkdir()
    for tool in ("make", "sh", "bash"):
        found = shutil.which(tool)
        assert found
        (bin_dir / tool).symlink_to(found)
    env = {**os.environ, "PATH": str(bin_dir)}
    result = _make("up", env=env)
    assert result.returncode != 0
    assert "neither docker nor podman is installed; use 'make dev'" in result.stderr


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
