"""A throwaway PostgreSQL server for tests and benchmarks.

Order of preference:
1. ``DATABASE_URL`` when set (an existing server; nothing is started or stopped);
2. testcontainers' ``PostgresContainer`` when a Docker API answers (Docker, or podman's API service:
   ``make test-containers`` runs the database tests that way once);
3. a cluster made with the local PostgreSQL binaries (``initdb`` + ``pg_ctl``) in a temporary
   directory, run as the ``postgres`` user when we are root (initdb refuses root).

Every URL handed out uses the asyncpg driver (``postgresql+asyncpg://``); ``sync_url`` gives the
psycopg form for tools that want a blocking driver.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from devstack.net import free_port

ASYNC_SCHEME = "postgresql+asyncpg"


def _find_bindir() -> Path:
    if explicit := os.environ.get("PG_BINDIR"):
        return Path(explicit)
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError(
        "No PostgreSQL server binaries found: install the 'postgresql' package, "
        "set PG_BINDIR, or point DATABASE_URL at a running server."
    )


CONTAINER_IMAGE = "postgres:16-alpine"  # the compose file's database image


def _docker_answers() -> bool:
    """A Docker API answers: Docker's daemon, or podman's (``DOCKER_HOST=unix://.../podman.sock``)."""
    if os.environ.get("TESTS_NO_DOCKER"):
        return False
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=2)
        client.ping()
        return True
    except Exception:
        return False


def with_driver(url: str, scheme: str = ASYNC_SCHEME) -> str:
    """Return ``url`` with its scheme replaced (postgres://, postgresql+psycopg2:// ...)."""
    parts = urlsplit(url)
    return urlunsplit((scheme, *parts[1:]))


async def terminate_backends(url: str, *, pid: int | None = None, application_name: str | None = None) -> int:
    """End the other sessions on ``url``'s database (all of them, one pid, or one application's), as a
    fail-over or an idle-connection kill would; returns how many were ended."""
    import asyncpg

    conn = await asyncpg.connect(with_driver(url, "postgresql"))
    try:
        return await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND ($1::int IS NULL OR pid = $1) AND ($2::text IS NULL OR application_name = $2)",
            pid,
            application_name,
        )
    finally:
        await conn.close()


@dataclass
class ThrowawayPostgres:
    """A PostgreSQL server that lives as long as this object is started."""

    url: str = ""
    kind: str = ""
    _datadir: Path | None = None
    _bindir: Path | None = None
    _port: int = 0
    _container: object | None = None
    _owned_tmp: list[Path] = field(default_factory=list)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> ThrowawayPostgres:
        if env_url := os.environ.get("DATABASE_URL"):
            self.url, self.kind = with_driver(env_url), "external"
        elif _docker_answers():
            self._start_container()
        else:
            self._start_local()
        return self

    def stop(self) -> None:
        if self.kind == "local":
            self.pg_stop()
            for path in self._owned_tmp:
                shutil.rmtree(path, ignore_errors=True)
        elif self.kind == "container" and self._container is not None:
            self._container.stop()  # type: ignore[attr-defined]

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests use --------------------------------------------------------------------
    def describe(self) -> str:
        """Which backend serves this run, for the test log."""
        if self.kind == "container":
            engine = os.environ.get("DOCKER_HOST", "the default Docker socket")
            return f"container (testcontainers, {CONTAINER_IMAGE} through the Docker API at {engine})"
        if self.kind == "local":
            return f"local (a throwaway cluster from {self._bindir})"
        return "external (DATABASE_URL)"

    @property
    def sync_url(self) -> str:
        return with_driver(self.url, "postgresql+psycopg")

    @property
    def can_restart(self) -> bool:
        """True when this object controls the server process (outage tests need that)."""
        return self.kind in {"local", "container"}

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database on the server and return its asyncpg URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self._admin_exec(f'CREATE DATABASE "{name}"')
        parts = urlsplit(self.url)
        return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))

    def drop_database(self, name: str) -> None:
        self._admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def pg_stop(self, mode: str = "fast") -> None:
        """Stop the server process (for outage tests); ``pg_start`` brings it back on the same port."""
        if self.kind == "container":
            self._container.get_wrapped_container().stop()  # type: ignore[attr-defined]
            return
        if self.kind != "local" or self._datadir is None or self._bindir is None:
            return
        if not (self._datadir / "postmaster.pid").exists():
            return
        self._as_owner([str(self._bindir / "pg_ctl"), "-D", str(self._datadir), "-m", mode, "-w", "stop"])

    def pg_start(self) -> None:
        if self.kind == "container":
            self._container.get_wrapped_container().start()  # type: ignore[attr-defined]
            self._wait_ready()
            return
        assert self._datadir is not None
        assert self._bindir is not None
        options = (
            f"-p {self._port} -c listen_addresses=127.0.0.1 -k {self._datadir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._as_owner(
            [
                str(self._bindir / "pg_ctl"),
                "-D",
                str(self._datadir),
                "-o",
                options,
                "-l",
                str(self._datadir / "server.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        self._wait_ready()

    # -- internals -------------------------------------------------------------------------
    def _start_container(self) -> None:
        from testcontainers.community.postgres import PostgresContainer

        container = PostgresContainer(CONTAINER_IMAGE, driver="asyncpg")
        container.start()
        self._container, self.kind = container, "container"
        self.url = with_driver(container.get_connection_url())

    def _start_local(self) -> None:
        self._bindir = _find_bindir()
        root = Path(tempfile.mkdtemp(prefix="city-pg-"))
        self._owned_tmp.append(root)
        self._datadir = root / "data"
        self._port = free_port()
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(root, pw.pw_uid, pw.pw_gid)
        self._as_owner(
            [
                str(self._bindir / "initdb"),
                "-D",
                str(self._datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ]
        )
        self.kind = "local"
        self.url = f"{ASYNC_SCHEME}://postgres@127.0.0.1:{self._port}/postgres"
        self.pg_start()

    def _as_owner(self, argv: list[str]) -> None:
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{argv[-1]} failed ({result.returncode}): {result.stderr or result.stdout}")

    def _wait_ready(self, timeout: float = 30.0) -> None:
        parts = urlsplit(self.url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=1),
            ):
                return
            time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not start accepting connections in time")

    def _admin_exec(self, sql: str) -> None:
        # A blocking driver on purpose: this is called from sync fixtures and from async tests alike.
        import psycopg

        with psycopg.connect(with_driver(self.url, "postgresql"), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


if __name__ == "__main__":
    # `python -m tests.support.postgres` starts a server and waits: handy for benchmarks by hand.
    with ThrowawayPostgres() as pg:
        print(pg.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
