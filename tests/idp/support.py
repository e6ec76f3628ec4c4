"""Running a real IdP over HTTP for tests: uvicorn in a thread on a free 127.0.0.1 port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
import uvicorn
from idp.app import build_pool, create_app
from idp.pool import UserPool
from idp.settings import Settings


@dataclass
class RunningIdp:
    url: str
    pool: UserPool
    settings: Settings
    server: uvicorn.Server
    thread: threading.Thread = field(repr=False)

    def cognito(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "cognito-idp",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )

    def outbox(self, email: str, kind: str | None = None) -> list[dict[str, str]]:
        """The local outbox over HTTP (GET /_local/outbox), newest first; optionally one kind only."""
        response = httpx.get(f"{self.url}/_local/outbox", params={"to": email}, timeout=10)
        response.raise_for_status()
        return [m for m in response.json() if kind is None or m["kind"] == kind]

    def latest_code(self, email: str, kind: str) -> str:
        messages = self.outbox(email, kind)
        assert messages, f"no {kind} message to {email} in the outbox"
        return messages[0]["code"]

    def confirmation_code(self, email: str) -> str:
        return self.latest_code(email, "signup")


def idp_settings(tmp: Path, port: int, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "IDP_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "IDP_DATABASE_URL": f"sqlite:///{tmp}/idp.sqlite3",
        "IDP_PORT": port,
        # Cheap Argon2 so the suite stays fast; the production defaults are exercised by the benchmark.
        "IDP_ARGON2_TIME_COST": 1,
        "IDP_ARGON2_MEMORY_KIB": 8 * 1024,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@contextmanager
def running_idp(settings: Settings) -> Iterator[RunningIdp]:
    pool = build_pool(settings)
    app = create_app(settings, pool)
    config = uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{settings.port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the IdP did not start within 20 s")
        time.sleep(0.05)
    try:
        yield RunningIdp(url, pool, settings, server, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        pool.store.dispose()
