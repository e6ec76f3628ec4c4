"""Fixtures shared by every test package: the throwaway PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import ThrowawayPostgres

CONTAINER_TESTS = Path(__file__).resolve().parent / "containers"
_served_by: list[str] = []


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """tests/containers (real images, a compose stack: `make test-containers`) only when named on the command
    line, never in the default collection of `make test`."""
    if collection_path != CONTAINER_TESTS:
        return None
    asked = [Path(arg.split("::", 1)[0]).resolve() for arg in config.args]
    return not any(path == CONTAINER_TESTS or CONTAINER_TESTS in path.parents for path in asked)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ThrowawayPostgres]:
    """One PostgreSQL server for the whole run (DATABASE_URL, testcontainers, or local binaries)."""
    with ThrowawayPostgres() as server:
        _served_by.append(server.describe())
        yield server


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for backend in _served_by:
        terminalreporter.write_line(f"PostgreSQL for these tests: {backend}")


@pytest.fixture
def postgres_url(postgres_server: ThrowawayPostgres) -> Iterator[str]:
    """A fresh, empty database on the shared server, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url.rsplit("/", 1)[1])
