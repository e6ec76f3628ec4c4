"""cdk-nag AwsSolutions and cfn-lint over every synthesized template of every environment."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from cfnlint.api import ManualArgs, lint_file
from infra.constructs.nag import acknowledge

from tests.infra.conftest import KINDS


def _nag_violations(synth) -> list:
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    return [v for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions" for v in p["violations"]]


def _acknowledged(synth) -> dict[str, str]:
    """Rule id -> reason, as cdk-nag wrote them into the templates' metadata."""
    found: dict[str, str] = {}
    for kind in KINDS:
        for resource in synth.templates[kind]["Resources"].values():
            for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                found[f"{kind}:{rule['id']}"] = rule["reason"]
    return found


def test_cdk_nag_has_no_unacknowledged_findings(synth_env, env_name):
    # Synth itself fails on any unacknowledged finding (see the probe below); the report agrees.
    synth = synth_env(env_name)
    assert _nag_violations(synth) == []
    acknowledged = _acknowledged(synth)
    assert "Tasks:AwsSolutions-ECS2" in acknowledged
    assert all(len(reason) >= 20 for reason in acknowledged.values())
    assert ("Tasks:AwsSolutions-RDS10" in acknowledged) is (not synth.config.protect_data)


def test_cdk_nag_also_passes_with_deploy_context(sandbox_deployed):
    assert _nag_violations(sandbox_deployed) == []


def test_cdk_nag_actually_reports_an_unacknowledged_finding(tmp_path):
    from aws_cdk import aws_s3 as s3
    from cdk_nag import AwsSolutionsChecks

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(account="111111111111", region="us-east-1"))
    s3.Bucket(stack, "NoLogs", enforce_ssl=True)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="AwsSolutions-S1"):
        app.synth()


def test_every_acknowledgment_needs_a_real_reason():
    app = cdk.App()
    stack = cdk.Stack(app, "Probe")
    with pytest.raises(ValueError, match="must explain itself"):
        acknowledge(stack, "S1", "ok")


def test_cfn_lint_finds_no_errors(synth_env, env_name):
    synth = synth_env(env_name)
    errors = []
    for kind in KINDS:
        config = ManualArgs(regions=[synth.config.workload.region])
        matches = lint_file(synth.template_path(kind), config=config)
        errors += [f"{kind}: {m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []


def test_cfn_lint_finds_no_errors_with_deploy_context(sandbox_deployed):
    errors = []
    for kind in KINDS:
        matches = lint_file(sandbox_deployed.template_path(kind), config=ManualArgs(regions=["us-east-1"]))
        errors += [f"{kind}: {m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []


def test_synth_needs_no_lookups(synth_env, env_name):
    # A lookup would show up as missing context in the manifest (and the CLI would then call AWS).
    manifest = json.loads((synth_env(env_name).outdir / "manifest.json").read_text())
    assert manifest.get("missing", []) == []
