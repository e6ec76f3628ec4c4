"""The pipelines run `make` targets and nothing else, so a laptop and the pipeline run the same thing."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import yaml
from infra.pipelines import commands
from infra.pipelines.app import PROD_STACK, SDLC_STACK

REPO = Path(__file__).resolve().parents[2]


def _make_targets() -> set[str]:
    """The targets GNU make itself knows from the Makefile and mk/*.mk (its printed database)."""
    result = subprocess.run(
        ["make", "-pRrq", "-f", "Makefile", ":"], cwd=REPO, capture_output=True, text=True, check=False
    )
    return {m.group(1) for m in re.finditer(r"^([a-z][a-z0-9-]*):(?!=)", result.stdout, re.MULTILINE)}


def _buildspecs(pipeline_synth) -> list[dict]:
    return [
        yaml.safe_load(project["Properties"]["Source"]["BuildSpec"])
        for stack in (SDLC_STACK, PROD_STACK)
        for project in pipeline_synth.resources(stack, "AWS::CodeBuild::Project").values()
    ]


def test_every_build_command_is_a_make_target_or_the_ci_entry_point(pipeline_synth):
    targets = _make_targets()
    assert {"lint", "test", "synth", "deploy", "image"} <= targets  # the database was read
    seen = set()
    for spec in _buildspecs(pipeline_synth):
        for command in spec["phases"]["build"]["commands"]:
            argv = shlex.split(command)
            if argv == ["CI_CONTAINERS=skip", "bash", ".ci/run"]:  # images are tested where they are built
                seen.add(".ci/run")
                continue
            assert argv[0] == "make", command
            assert argv[1] in targets, f"{command}: no such make target"
            assert all("=" in arg for arg in argv[2:]), f"{command}: only variables may follow the target"
            seen.add(argv[1])
    assert {".ci/run", "synth", "image", "release", "deploy", "smoke", "promote", "preflight"} <= seen


def test_the_ci_entry_point_lints_then_runs_make_test_and_a_build_without_an_engine_skips_containers():
    lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert lines.index("make lint") < lines.index("make test")
    skip = lines.index('if [ "${CI_CONTAINERS:-run}" = skip ]; then')
    assert lines.index("make test") < skip
    assert lines[skip + 3 : skip + 5] == ["containers_started=$(date +%s)", "make test-containers"]
    assert "CI_CONTAINERS=skip bash .ci/run" in commands.lint_and_test()


def test_setup_is_only_the_base_packages_script(pipeline_synth):
    for spec in _buildspecs(pipeline_synth):
        assert spec["phases"]["install"]["commands"] in ([], list(commands.BASE_PACKAGES))
    assert (REPO / ".ci" / "base-packages").stat().st_mode & 0o111


def test_synth_covers_every_environment_and_the_pipelines(pipeline_synth):
    from infra.environments import ENVIRONMENT_NAMES

    synth_commands = commands.synth_all()
    for spec in _buildspecs(pipeline_synth):
        if spec["phases"]["build"]["commands"] == synth_commands:
            break
    else:
        raise AssertionError("no build project runs commands.synth_all()")
    assert synth_commands == [f"make synth ENV={n}" for n in (*ENVIRONMENT_NAMES, "pipelines")]


def test_deploys_go_through_the_same_make_deploy_with_the_release_and_its_preflight(capfd, tmp_path):
    from infra.deploy import main

    for name in ("dev", "prod"):
        assert commands.deploy(name) == [f"make deploy ENV={name} RELEASE=release.json PIPELINE=1"]
    # ...whose plan runs the SCP preflight before the first stack, and builds no image.
    release = tmp_path / "release.json"
    image = "555555555555.dkr.ecr.us-east-1.amazonaws.com/city-tasks/api@sha256:" + "0" * 64
    release.write_text(json.dumps({"commit": "c", "images": {"api": image}}))
    assert main(["deploy", "--env", "dev", "--dry-run", "--release", str(release), "--pipeline"]) == 0
    plan = capfd.readouterr().out
    assert plan.index("make preflight ENV=dev") < plan.index("cdk deploy CityTasks-Idp-dev")
    assert "docker buildx" not in plan
