"""What the CDK CLI runs (infra/cdk.json): `-c env=<name>` picks one environment's stacks (infra.app), and
`-c env=pipelines` the two delivery pipelines (infra.pipelines.app). Kept apart from both apps so that
neither imports the other."""

from __future__ import annotations

import os

import aws_cdk as cdk

from infra.app import build_app
from infra.environments import get_environment, load_pipelines
from infra.pipelines.deploy import CONTEXT_ENV as PIPELINES
from infra.pipelines.deploy import builder as pipelines_builder


def main(app: cdk.App | None = None) -> None:
    """Synthesize into `app` (by default the CLI's: its context and output directory come from the CLI)."""
    app = app or cdk.App()
    name = app.node.try_get_context("env") or os.environ.get("CITY_ENV")
    if not name:
        raise SystemExit("choose an environment: cdk ... -c env=sandbox (or make synth ENV=sandbox)")
    if name == PIPELINES:
        pipelines_builder(load_pipelines())(app)
    else:
        build_app(get_environment(str(name)), app=app)
    app.synth()


if __name__ == "__main__":
    main()
