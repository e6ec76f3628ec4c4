"""Time an offline synth of all stacks for every environment (figures go to docs/performance.md).

    uv run python -m tests.infra.bench_synth [--rounds N]

Prints the jsii/aws-cdk-lib import cost once, then each environment's build+synth (three stacks, cdk-nag
included) per round, and the total for all four environments.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    import aws_cdk as cdk
    from infra.app import build_app
    from infra.environments import load_environments

    print(f"import aws_cdk + infra: {time.perf_counter() - started:.2f} s")
    environments = load_environments()
    totals: list[float] = []
    per_env: dict[str, list[float]] = {name: [] for name in environments}
    for _ in range(args.rounds):
        round_start = time.perf_counter()
        for name, config in environments.items():
            with tempfile.TemporaryDirectory() as outdir:
                t0 = time.perf_counter()
                app = cdk.App(outdir=str(Path(outdir)))
                build_app(config, app=app)
                app.synth()
                per_env[name].append(time.perf_counter() - t0)
        totals.append(time.perf_counter() - round_start)
    for name, times in per_env.items():
        print(
            f"{name:8s} (3 stacks, cdk-nag): median {statistics.median(times):.2f} s  min {min(times):.2f} s"
        )
    print(f"all four environments, first round (cold jsii caches): {totals[0]:.2f} s")
    print(
        f"all four environments: median {statistics.median(totals):.2f} s  min {min(totals):.2f} s "
        f"({args.rounds} rounds)"
    )


if __name__ == "__main__":
    main()
