from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.idp.support import RunningIdp, idp_settings, running_idp
from tests.support.net import free_port


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningIdp]:
    tmp: Path = tmp_path_factory.mktemp("idp")
    port = free_port()
    with running_idp(idp_settings(tmp, port)) as running:
        yield running
