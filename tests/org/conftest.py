"""Fixtures for the organization tool: one moto server per session, reset before every test."""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from city_org.aws import OrgClients, make_org_clients

from tests.support.moto import moto_server

REPO = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO / "infra" / "org"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def aws_env(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Point boto3 at the moto server with dummy credentials and a clean state."""
    request = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (local moto server)
        assert response.status == 200
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    # keep a developer's ~/.aws out of the tests
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    return moto_url


@pytest.fixture
def organization(aws_env: str) -> OrgClients:
    """An empty organization (all features) in the moto server."""
    boto3.client("organizations", region_name="us-east-1").create_organization(FeatureSet="ALL")
    return make_org_clients()


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    """The shipped spec and policies copied to a temp dir, so a test may edit them."""
    target = tmp_path / "org"
    shutil.copytree(SPEC_DIR, target)
    return target / "organization.yaml"
