"""Shared pytest fixtures; the logic behind them lives in tests/support/."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

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


DEFAULT_TIMEOUT_FACTOR = 3  # a long_running module's own time, three times over, bounds any one of its tests

# What a test module's source names when its tests run an external binary (the markers are derived
# from it, so a new test is marked without anyone remembering to): the binaries, the test servers,
# the validators (which wrap promtool, amtool, docker-compose) and what runs them (`validate`, the
# deploy's pre-flight). A module that only mentions one is marked too: the marker errs on the safe side.
_TOOL_USE = re.compile(r"\b(require_binar(?:y|ies)|PostgresServer|RedisServer|run_tool|promtool|amtool|check_and_test"
                       r"|private_(?:postgres|redis)\w*|tsc|npm|pm2|docker-compose|exporter_for|Deployer)\b"
                       r"|\bstack\.validate\b|\"(?:validate|deploy)\"")
# ... and when they drive running servers end to end: Prometheus/Alertmanager processes, `obstack local up`.
# Imported at the module's top level, it marks every test of the module; inside a test, that test.
_END_TO_END_MODULE = re.compile(r"^(?:from tests\.support\.monitoring import|from stack import local$)", re.MULTILINE)
_END_TO_END_TEST = re.compile(r"from tests\.support\.monitoring import|from stack import local\b|\[\"local\", \"up\"")
_TOOL_FIXTURES = frozenset({"private_postgres", "private_redis", "private_postgres_session", "private_redis_session",
                            "exporter_for"})


@functools.cache
def _module_source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _test_source(item: pytest.Item) -> str:
    function = getattr(item, "function", None)
    try:
        return inspect.getsource(function) if function is not None else ""
    except (OSError, TypeError):
        return ""


def _derive_markers(item: pytest.Item) -> None:
    """``slow`` for a long_running module, ``needs_tools`` and ``e2e`` from what the module or the test uses,
    and a long_running module's tests a timeout of their own (pyproject's ``timeout`` is for the rest)."""
    source = _module_source(item.path)
    long_running = item.get_closest_marker("long_running")
    if long_running is not None:
        item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("timeout") is None:
            default = float(item.config.getini("timeout"))  # pyproject.toml's, for every other test
            item.add_marker(pytest.mark.timeout(max(default, DEFAULT_TIMEOUT_FACTOR * long_running.args[0])))
    end_to_end = _END_TO_END_MODULE.search(source) is not None or _END_TO_END_TEST.search(_test_source(item)) is not None
    if end_to_end:
        item.add_marker(pytest.mark.e2e)
    if end_to_end or _TOOL_USE.search(source) or _TOOL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        item.add_marker(pytest.mark.needs_tools)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers derived for every test (``_derive_markers``); then modules marked ``long_running(seconds)``
    first, the longest first (the rest keep their order): with one worker per core, the end-to-end stack
    starts at once and the other modules fill the other worker around it, instead of a long module
    starting last and running alone."""
    for item in items:
        _derive_markers(item)

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
