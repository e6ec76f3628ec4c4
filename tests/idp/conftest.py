from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from idp.settings import DEFAULT_SEED

from devstack.net import free_port
from tests.idp.support import RunningIdp, idp_settings, running_idp


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIdp]:
    tmp: Path = tmp_path_factory.mktemp("idp")
    port = free_port()
    with running_idp(idp_settings(tmp, port)) as running:
        yield running


@pytest.fixture(scope="module")
def optional_mfa_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIdp]:
    """The app's seed with `pool.mfa: OPTIONAL`: users without a software token sign in without MFA, as
    clients written for such pools (pycognito's `authenticate`, `admin_authenticate`) expect."""
    tmp: Path = tmp_path_factory.mktemp("idp-optional")
    seed = yaml.safe_load(DEFAULT_SEED.read_text())
    seed["pool"]["mfa"] = "OPTIONAL"
    seed_file = tmp / "seed.yaml"
    seed_file.write_text(yaml.safe_dump(seed))
    port = free_port()
    with running_idp(idp_settings(tmp, port, IDP_SEED_FILE=str(seed_file))) as running:
        yield running
