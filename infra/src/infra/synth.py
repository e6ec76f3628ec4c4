"""Offline, in-process synthesis (no credentials, no lookups): what `make synth`, the SCP preflight and the
bootstrap's execution policy read. One place sets the CDK's environment and writes the cloud assembly."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.environments import Environment

# build(app) adds the stacks of one CDK app to `app`.
Build = Callable[[Any], object]


def synth_into(outdir: Path, context_env: str, build: Build) -> list[Path]:
    """Synthesize the stacks `build` adds into `outdir` (with `-c env=<context_env>`, as the CLI would);
    returns the template files."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk

    app = cdk.App(outdir=str(outdir), context={"env": context_env})
    build(app)
    app.synth()
    return sorted(outdir.glob("*.template.json"))


def environment_builder(config: Environment) -> Build:
    """Adds one environment's stacks (IdP, Tasks, Frontend) to a CDK app."""

    def build(app: Any) -> object:
        from infra.app import build_app  # the stacks' modules load only when a synth runs

        return build_app(config, app=app)

    return build


def synth(config: Environment, outdir: Path) -> list[Path]:
    """One environment's stacks, as `cdk synth -c env=<name>` would write them."""
    return synth_into(outdir, config.name, environment_builder(config))


def read_templates(context_env: str, build: Build) -> dict[str, dict[str, Any]]:
    """Synthesize into a throwaway directory and read every template by stack name."""
    with tempfile.TemporaryDirectory(prefix="city-synth-") as outdir:
        return {
            path.name.removesuffix(".template.json"): json.loads(path.read_text())
            for path in synth_into(Path(outdir), context_env, build)
        }
