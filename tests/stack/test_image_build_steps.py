"""The images' `uv sync` steps, run here on a copy of the Docker build context (what .dockerignore sends).

No Docker engine is needed: this checks that the lock, the context and the exact commands of the build stages
produce an environment with the service's command and none of the dev or infra packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.stack.dockerfile import REPO, dockerignore_rules, in_context, parse

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
TARGETS = {"api-build": ("tasks-api", "tasks_api.settings"), "idp-build": ("idp", "idp")}


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("context")
    rules = dockerignore_rules()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True, timeout=30
    ).stdout.split()
    for name in tracked:
        if in_context(name, rules) and (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    return root


def _uv_sync_steps(stage: str) -> list[list[str]]:
    return [run.args.split() for run in parse().stage(stage).all("RUN")]


@pytest.mark.parametrize("stage", sorted(TARGETS))
def test_build_stage_commands_work_on_the_build_context(stage: str, context: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv), "UV_PYTHON_DOWNLOADS": "never",
           "UV_PYTHON_PREFERENCE": "only-system", "UV_FROZEN": "1"}  # fmt: skip
    env.pop("VIRTUAL_ENV", None)
    steps = _uv_sync_steps(stage)
    assert [step[:2] for step in steps] == [["uv", "sync"], ["uv", "sync"]]
    for step in steps:
        result = subprocess.run(step, cwd=context, env=env, capture_output=True, text=True, timeout=150)
        assert result.returncode == 0, f"{' '.join(step)}:\n{result.stderr[-3000:]}"
    script, module = TARGETS[stage]
    assert (venv / "bin" / script).exists(), f"no {script} command in the image's environment"
    imported = subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"import {module}"], capture_output=True, text=True, timeout=60
    )
    assert imported.returncode == 0, imported.stderr
    site = {p.name.lower() for p in (venv / "lib").glob("python3*/site-packages/*")}
    for unwanted in ("pytest", "aws_cdk", "ruff", "hypothesis", "playwright", "city_infra"):
        assert not any(name.startswith(unwanted) for name in site), f"{unwanted} must not be in the image"
    # Not editable: the code is inside the environment, so the runtime stage needs nothing from /src.
    package = module.split(".")[0]
    assert (next(venv.glob("lib/python3*/site-packages")) / package).is_dir()
