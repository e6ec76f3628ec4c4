"""Every runtime dependency of the images exists as a linux/aarch64 wheel, so the arm64 build never compiles.

Needs PyPI; skipped (with the reason) only when PyPI cannot be reached.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.stack.dockerfile import REPO, parse
from tests.support.uv import uv_executable

PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64")


def _image_python() -> str:
    base = parse().global_args["BASE_IMAGE"]  # e.g. python:3.11-slim-bookworm
    match = re.match(r"python:(\d+)\.(\d+)", base)
    assert match, f"cannot tell the Python version of BASE_IMAGE={base}"
    return f"{match[1]}.{match[2]}"


@pytest.fixture(scope="module")
def pypi() -> None:
    try:
        httpx.head("https://pypi.org/simple/pip/", timeout=10, follow_redirects=True).raise_for_status()
    except httpx.HTTPError as exc:
        pytest.skip(f"PyPI is unreachable ({exc.__class__.__name__}); the aarch64 wheel check needs it")


def _export(package: str) -> list[str]:
    out = subprocess.run(
        [
            uv_executable(),
            "export",
            "--package",
            package,
            "--no-dev",
            "--frozen",
            "--no-hashes",
            "--no-emit-workspace",
            "--no-header",
            "--no-annotate",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [line.strip() for line in out.splitlines() if line.strip() and not line.startswith(("#", "-"))]


@pytest.mark.slow
@pytest.mark.usefixtures("pypi")
@pytest.mark.parametrize("package", ["city-tasks-api", "city-idp"])
def test_every_runtime_dependency_has_an_aarch64_wheel(package: str, tmp_path: Path) -> None:
    requirements = _export(package)
    assert any(r.startswith("fastapi==") for r in requirements)
    assert not any(r.startswith("aws-cdk-lib") for r in requirements), "the image must not carry aws-cdk-lib"
    (tmp_path / "requirements.txt").write_text("\n".join(requirements) + "\n")
    python = _image_python()
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--python-version", python, "--implementation", "cp", "--abi", f"cp{python.replace('.', '')}",
               "--abi", "abi3", "--abi", "none", "-r", str(tmp_path / "requirements.txt"),
               "-d", str(tmp_path / "wheels")]  # fmt: skip
    for platform in PLATFORMS:
        command += ["--platform", platform]
    # Only PyPI counts: ignore this machine's pip config, local wheel folders and constraints.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") or k == "PIP_CERT"}
    env["PIP_CONFIG_FILE"] = os.devnull
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, "no linux/aarch64 wheel for:\n" + result.stderr[-3000:]
    wheels = sorted(p.name for p in (tmp_path / "wheels").iterdir())
    for wheel in wheels:
        assert wheel.endswith(("-any.whl", "aarch64.whl")), wheel
    downloaded = {canonicalize_name(w.split("-")[0]) for w in wheels}
    assert downloaded == _needed_on_linux_aarch64(requirements, python)


def _needed_on_linux_aarch64(requirements: list[str], python: str) -> set[str]:
    environment = {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64",
                   "os_name": "posix", "implementation_name": "cpython",
                   "platform_python_implementation": "CPython", "python_version": python,
                   "python_full_version": f"{python}.0"}  # fmt: skip
    needed: set[str] = set()
    for line in requirements:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            needed.add(canonicalize_name(requirement.name))
    return needed
