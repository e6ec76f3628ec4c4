"""Figures for city-org against a local moto server: API calls and wall time of apply, plan and drift.

Run: uv run python -m tests.org.bench_plan   (not a test; prints figures for docs/organization.md)
"""

from __future__ import annotations

import io
import os
import statistics
import time
from collections import Counter
from pathlib import Path

import boto3
from city_org.aws import OrgClients, make_org_clients
from city_org.cli import main

from tests.support.moto import moto_server

SPEC = Path(__file__).resolve().parents[2] / "infra" / "org" / "organization.yaml"


def counted_clients(calls: Counter[str]) -> OrgClients:
    clients = make_org_clients()
    for client in (clients.organizations, clients.sso_admin, clients.identitystore):
        client.meta.events.register("before-call", lambda model, **_: calls.update([model.name]))
    return clients


def timed(argv: list[str], calls: Counter[str]) -> float:
    start = time.perf_counter()
    code = main(argv, clients_factory=lambda _a: counted_clients(calls), out=io.StringIO(), err=io.StringIO())
    elapsed = time.perf_counter() - start
    assert code == 0, argv
    return elapsed


def run() -> None:
    with moto_server() as url:
        os.environ.update(
            AWS_ENDPOINT_URL=url,
            AWS_ACCESS_KEY_ID="bench",
            AWS_SECRET_ACCESS_KEY="bench",
            AWS_DEFAULT_REGION="us-east-1",
        )
        boto3.client("organizations").create_organization(FeatureSet="ALL")
        apply_calls: Counter[str] = Counter()
        apply_time = timed(["apply", "--spec", str(SPEC), "--auto-approve"], apply_calls)
        plan_times, plan_calls = [], Counter[str]()
        for _ in range(5):
            plan_calls.clear()
            plan_times.append(timed(["plan", "--spec", str(SPEC), "--detailed-exitcode"], plan_calls))
        print(f"apply on an empty organization: {apply_time:.2f} s, {sum(apply_calls.values())} API calls")
        print(
            f"plan of the converged organization: median {statistics.median(plan_times):.2f} s over 5 runs, "
            f"{sum(plan_calls.values())} API calls each"
        )
        print("calls per plan:", ", ".join(f"{name} {n}" for name, n in plan_calls.most_common()))


if __name__ == "__main__":
    run()
