"""Two builds of the Tasks API for a rolling deploy: the checkout as it is, and a new one with one more
migration (an expand step: a nullable column), as a copy of ``services/tasks_api`` in a directory of its own.

The new build is real code on disk, run from that copy (its ``src`` first on ``PYTHONPATH``), not a switch
in the service: old replicas keep running the checkout's code against the schema the new build migrated.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from loadtests.locust.runner import ROOT

SERVICE_DIR = ROOT / "services" / "tasks_api"
VERSIONS = Path("src") / "tasks_api" / "db" / "migrations" / "versions"
EXPAND_REVISION = "9001_rollout_expand"
EXPAND_TABLE = "tasks"
EXPAND_COLUMN = "rollout_note"


@dataclass(frozen=True)
class Build:
    name: str
    # Prepended to PYTHONPATH; None runs the installed (checkout) package.
    source: Path | None = None

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        if self.source is not None:
            env["PYTHONPATH"] = ":".join(filter(None, [str(self.source), env.get("PYTHONPATH")]))
        return env


CURRENT = Build("current")


def current_head() -> str:
    from alembic.script import ScriptDirectory
    from tasks_api.db.migrate import alembic_config

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads; a rolling deploy needs one")
    return heads[0]


def expand_migration(down_revision: str) -> str:
    return f'''"""Rollout test: an expand step (a nullable column the old code does not know).

Revision ID: {EXPAND_REVISION}
Revises: {down_revision}
"""

import sqlalchemy as sa
from alembic import op

revision = "{EXPAND_REVISION}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("{EXPAND_TABLE}", sa.Column("{EXPAND_COLUMN}", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("{EXPAND_TABLE}", "{EXPAND_COLUMN}")
'''


def make_expand_build(workdir: Path) -> Build:
    """Copy the service's sources to ``workdir/new-build`` and add the expand migration on top of head."""
    target = workdir / "new-build"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(SERVICE_DIR / "src", target / "src", ignore=shutil.ignore_patterns("__pycache__"))
    (target / VERSIONS / f"{EXPAND_REVISION}.py").write_text(expand_migration(current_head()))
    return Build("new", target / "src")
