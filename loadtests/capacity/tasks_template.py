"""The Tasks stack's CloudFormation template for one environment, synthesized offline in this process.

The rollout harness configures HAProxy from the template's target group and the autoscaling simulation reads
its scaling policies from it, so both follow what would be deployed, not a copy of the numbers.
``--template FILE`` on either command reads a template written earlier (``make synth`` or this module:
``python -m loadtests.capacity.tasks_template --env sandbox --out tasks-sandbox.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

Template = dict[str, Any]


def synthesize(env_name: str) -> Template:
    """Synthesize the environment's app (no context: a first deploy's view, cdk-nag off) and return the
    Tasks stack's template. Takes 10-30 s: jsii starts a node process and loads aws-cdk-lib."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk
    from infra.app import build_app
    from infra.environments import get_environment

    config = get_environment(env_name)
    with tempfile.TemporaryDirectory(prefix="city-synth-") as outdir:
        app = cdk.App(outdir=outdir)
        build_app(config, app=app, with_nag=False)
        app.synth()
        return json.loads((Path(outdir) / f"{config.stack_name('Tasks')}.template.json").read_text())


def load(path: Path | None, env_name: str) -> Template:
    """The template in ``path`` when given, else a fresh synth of ``env_name``."""
    if path is None:
        return synthesize(env_name)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot read the Tasks template {path}: {exc}") from None


def resources(template: Template, cfn_type: str) -> dict[str, dict[str, Any]]:
    return {
        name: body for name, body in template.get("Resources", {}).items() if body.get("Type") == cfn_type
    }


def one_resource(template: Template, cfn_type: str) -> dict[str, Any]:
    found = resources(template, cfn_type)
    if len(found) != 1:
        raise ValueError(f"expected one {cfn_type} in the Tasks template, found {len(found)}")
    return next(iter(found.values()))["Properties"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the Tasks stack's template for an environment.")
    parser.add_argument("--env", default="sandbox")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.write_text(json.dumps(synthesize(args.env), indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
