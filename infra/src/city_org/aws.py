"""boto3 clients for the organization tool: one session, standard retries, endpoint and profile from env."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

# Standard mode retries throttling and transient errors with exponential backoff and jitter.
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})
DEFAULT_REGION = "us-east-1"  # Organizations is a global service homed in us-east-1.


@dataclass(frozen=True)
class OrgClients:
    organizations: Any
    sso_admin: Any
    identitystore: Any


def make_session(profile: str | None = None, region: str | None = None) -> boto3.Session:
    """A session that honours AWS_PROFILE (or --profile) and AWS_REGION/AWS_DEFAULT_REGION."""
    profile = profile or os.environ.get("AWS_PROFILE") or None
    session = boto3.Session(profile_name=profile, region_name=region)
    if session.region_name is None:
        session = boto3.Session(profile_name=profile, region_name=DEFAULT_REGION)
    return session


def make_client(session: boto3.Session, service: str, endpoint_url: str | None = None) -> Any:
    """A client with standard retries; AWS_ENDPOINT_URL (e.g. a local moto server) is used when set."""
    endpoint_url = endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    return session.client(service, endpoint_url=endpoint_url, config=RETRY_CONFIG)


def make_org_clients(
    profile: str | None = None, region: str | None = None, endpoint_url: str | None = None
) -> OrgClients:
    session = make_session(profile, region)
    return OrgClients(
        organizations=make_client(session, "organizations", endpoint_url),
        sso_admin=make_client(session, "sso-admin", endpoint_url),
        identitystore=make_client(session, "identitystore", endpoint_url),
    )


def paginate(client: Any, operation: str, result_key: str, **params: Any) -> Iterator[Any]:
    """Yield every item of a list call, following NextToken whether or not botocore has a paginator."""
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**params):
            yield from page.get(result_key, [])
        return
    call = getattr(client, operation)
    token: str | None = None
    for _ in range(10_000):  # bound the loop: no listing has this many pages
        page = call(**params, **({"NextToken": token} if token else {}))
        yield from page.get(result_key, [])
        token = page.get("NextToken")
        if not token:
            return
