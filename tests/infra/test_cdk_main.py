"""What the CDK CLI runs (infra/cdk.json -> infra.cdk_main): one environment's stacks, or the pipelines."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import aws_cdk as cdk
import pytest

from infra import cdk_main

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_cdk_json_runs_the_app_without_uv_on_the_path(tmp_path):
    """`cdk` runs infra/cdk.json's app command; it must not need `uv` on PATH."""
    app = json.loads((REPO_ROOT / "infra" / "cdk.json").read_text())["app"]
    argv = app.split()
    assert argv[0] != "uv"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CDK_OUTDIR": str(tmp_path / "out"),
        "CDK_CONTEXT_JSON": json.dumps({"env": "sandbox"}),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    node = shutil.which("node")
    assert node, "node is needed by the CDK app"
    env["PATH"] = f"{Path(node).parent}:{env['PATH']}"
    assert shutil.which("uv", path=env["PATH"]) is None
    result = subprocess.run(
        argv, cwd=REPO_ROOT / "infra", env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "out" / "CityTasks-Tasks-sandbox.template.json").is_file()


def test_env_pipelines_synthesizes_the_two_pipeline_stacks(tmp_path):
    cdk_main.main(cdk.App(outdir=str(tmp_path), context={"env": "pipelines"}))
    assert sorted(p.name for p in tmp_path.glob("*.template.json")) == [
        "CityTasks-Pipeline-prod.template.json",
        "CityTasks-Pipeline-sdlc.template.json",
    ]


def test_without_an_environment_the_cli_says_how_to_choose_one(monkeypatch, tmp_path):
    monkeypatch.delenv("CITY_ENV", raising=False)
    with pytest.raises(SystemExit, match="-c env=sandbox"):
        cdk_main.main(cdk.App(outdir=str(tmp_path)))
