"""CI smoke: a short Locust run against the real local stack (IdP + Tasks API on Postgres) with thresholds.

Bounded: about 15 s of load with a few users; the whole test stays under a minute on a 2-core machine.
"""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import pytest

from devstack.headless import HeadlessConfig, HeadlessStack
from loadtests.locust.mix import ENDPOINT_NAMES
from loadtests.locust.run_local import create_pool, locust_settings
from loadtests.locust.runner import RunSpec, run_locust
from loadtests.locust.thresholds import AGGREGATED, Thresholds, read_stats_csv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

# Generous for a shared CI box; the real local figures are in docs/performance.md.
SMOKE_LIMITS = Thresholds(max_failures=0, p95_ms=1500, auth_p95_ms=15_000)


def test_a_short_headless_run_meets_the_thresholds(postgres_url: str, tmp_path: Path) -> None:
    config = HeadlessConfig(
        database_url=postgres_url,
        workdir=tmp_path / "stack",
        cheap_password_hashing=True,
    )
    with HeadlessStack(config) as stack:
        pool_file = tmp_path / "pool.json"
        create_pool(stack, 5, pool_file)
        options = Namespace(think_min=0.1, think_max=0.3, shape=None, machine_weight=3)
        spec = RunSpec(
            host=stack.api_url,
            csv_prefix=tmp_path / "smoke",
            users=5,
            spawn_rate=5,
            duration_s=15,
            thresholds=SMOKE_LIMITS,
            # Every simulated user renews its token during the run: people with their refresh token
            # (REFRESH_TOKEN_AUTH), machines with a new client_credentials grant.
            settings={**locust_settings(stack, pool_file, options), "LOAD_TOKEN_MAX_AGE_S": "6"},
        )
        result = run_locust(spec, grace_s=40)

    assert result.broken == [], result.table
    assert result.exit_code == 0, result.table
    assert spec.html_report.stat().st_size > 0
    rows = {row.label: row for row in read_stats_csv(spec.stats_csv)}
    # Every call of the app's mix was exercised, and people and machines both signed in.
    for name in ENDPOINT_NAMES.values():
        assert rows[name].requests > 0, f"{name} was never called:\n{result.table}"
    assert rows["AUTH cognito sign in"].requests >= 1
    assert rows["AUTH oauth2 sign in"].requests >= 1
    # Tokens were renewed before they expired (refresh token for people, a new grant for machines),
    # and no request was refused for an expired token (0 failures above).
    assert rows["AUTH cognito renew"].requests >= 1
    assert rows["AUTH oauth2 renew"].requests >= 1
    assert rows[AGGREGATED].failures == 0
