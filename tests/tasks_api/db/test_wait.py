"""`tasks-api migrate|serve|worker` wait (bounded) for a database that is not up yet (any start order)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit, urlunsplit

import pytest
from tasks_api.db.wait import wait_for_database
from tasks_api.settings import Settings

from devstack.net import free_port

pytestmark = pytest.mark.slow


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, target):
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


@contextmanager
def _forwarding(url: str, port: int, begin: threading.Event) -> Iterator[None]:
    """Once ``begin`` is set, forward 127.0.0.1:``port`` to the real server behind ``url``: a database that
    comes up after the command that needs it has started."""
    target = urlsplit(url)
    stop = threading.Event()

    def serve() -> None:
        while not begin.wait(0.1):
            if stop.is_set():
                return
        listener = socket.create_server(("127.0.0.1", port))
        listener.settimeout(0.2)
        with listener:
            while not stop.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection((target.hostname, target.port or 5432))
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def _via_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = f"{netloc[0]}@" if len(netloc) == 2 else ""
    return urlunsplit(("postgresql", f"{userinfo}127.0.0.1:{port}", parts.path, "", ""))


def test_migrate_started_before_the_database_waits_for_it_and_says_so(postgres_url: str) -> None:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": _via_port(postgres_url, port), "DB_WAIT_SECONDS": "60"}
    database_up = threading.Event()
    with _forwarding(postgres_url, port, database_up):
        process = subprocess.Popen(
            [sys.executable, "-m", "tasks_api", "migrate"], env=env, stderr=subprocess.PIPE, text=True
        )
        assert process.stderr is not None
        lines = []
        for line in process.stderr:  # the database comes up only once the command says it is waiting
            lines.append(line)
            if '"waiting for the database"' in line:
                database_up.set()
        code = process.wait(timeout=90)
    output = "".join(lines)
    assert code == 0, output
    assert database_up.is_set(), output
    assert '"the database is up"' in output
    assert '"migrations applied"' in output


def test_the_wait_is_bounded_and_the_message_says_what_happened() -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/none",
        "DB_WAIT_SECONDS": "2",
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "tasks_api", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert 2 <= time.monotonic() - started < 30
    assert "cannot reach the database: it did not accept connections within 2 s" in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_server_that_answers_with_an_error_ends_the_wait_at_once(postgres_url: str) -> None:
    missing = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    waited = await wait_for_database(Settings(database_url=missing, db_wait_seconds=30))
    assert waited < 5


async def test_sqlite_and_a_zero_wait_do_not_wait() -> None:
    assert await wait_for_database(Settings(database_url=None)) == 0.0
    assert (
        await wait_for_database(Settings(database_url="postgresql://x@127.0.0.1:9/x", db_wait_seconds=0))
        == 0.0
    )
