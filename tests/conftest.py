"""Shared pytest fixtures; the logic behind them lives in tests/support/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import (
    POSTGRES_BINARIES,
    REDIS_BINARIES,
    PostgresServer,
    RedisServer,
    require_binaries,
    require_binary,
)

__all__ = ["require_binary"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules marked ``long_running(seconds)`` first, the longest first (the rest keep their order):
    with one worker per core, the end-to-end stack starts at once and the other modules fill the
    other worker around it, instead of a long module starting last and running alone."""
    def seconds(item: pytest.Item) -> float:
        marker = item.get_closest_marker("long_running")
        return marker.args[0] if marker is not None else 0.0
    items.sort(key=lambda item: -seconds(item))


# --------------------------------------------------------------------------
# Private database servers (never the system ones on 5432/6379)


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    """A fresh Postgres for this test alone; it may stop, kill or restart it."""
    require_binaries(POSTGRES_BINARIES)
    with PostgresServer() as server:
        yield server


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A fresh Redis for this test alone; it may stop, kill or restart it."""
    require_binaries(REDIS_BINARIES)
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def private_postgres_session() -> Iterator[PostgresServer]:
    """One Postgres shared by the whole session; tests must not stop or kill it."""
    require_binaries(POSTGRES_BINARIES)
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def private_redis_session() -> Iterator[RedisServer]:
    """One Redis shared by the whole session; tests must not stop or kill it."""
    require_binaries(REDIS_BINARIES)
    with RedisServer() as server:
        yield server
