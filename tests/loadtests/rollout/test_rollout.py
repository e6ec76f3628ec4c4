"""CI form of ``make rollout-test``: three replicas behind HAProxy (configured from the synthesized sandbox
Tasks stack, every duration x0.15) under Locust load through a roll with an expand migration, a scale-in,
a scale-out and a SIGKILL. About three minutes: synth, stack start, then roughly two minutes of phases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from devstack.config import REPO
from loadtests.rollout.accounting import REPORT_KEYS, SIGKILL
from loadtests.rollout.builds import EXPAND_COLUMN, EXPAND_TABLE
from tests.support.postgres import with_driver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(330)]
ROOT = REPO
PHASES = ["steady", "roll", "scale_in", "scale_out", SIGKILL]


def test_the_bounded_rollout_loses_nothing(postgres_url: str, tmp_path: Path) -> None:
    report_path = tmp_path / "rollout.json"
    command = [sys.executable, "-m", "loadtests.rollout.run", "--bounded", "--report", str(report_path),
               "--workdir", str(tmp_path / "run")]  # fmt: skip
    env = {**os.environ, "DATABASE_URL": postgres_url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=310, check=False
    )
    output = done.stdout[-4000:] + done.stderr[-4000:]
    assert report_path.exists(), output
    report = json.loads(report_path.read_text())
    assert done.returncode == 0, (report["problems"], output)

    phases = {p["phase"]: p for p in report["phases"]}
    assert list(phases) == PHASES
    for name, phase in phases.items():
        assert set(REPORT_KEYS) <= set(phase)
        assert phase["requests"] > 0, name
        if name != SIGKILL:
            assert phase["failed"] == phase["status_5xx"] == phase["connection_errors"] == 0, name
        assert phase["lost_writes"] == phase["missed_executions"] == 0, name
    assert phases["roll"]["executions_due"] > 0  # the roll was timed to span a whole minute
    assert phases[SIGKILL]["failed"] <= phases[SIGKILL]["in_flight_on_killed"]
    assert report["old_build_answers_on_new_schema"] > 0

    # The ALB settings came from the template: 15 s checks, 3 to be healthy, 2 to be taken out.
    profile = report["alb_profile"]
    assert (profile["healthy_threshold"], profile["unhealthy_threshold"]) == (3, 2)
    assert profile["idle_timeout_s"] == 60
    with psycopg.connect(with_driver(postgres_url, "postgresql")) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (EXPAND_TABLE,)
        ).fetchall()
    assert (EXPAND_COLUMN,) in columns  # the new build's migration ran
