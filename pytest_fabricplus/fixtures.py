"""Fixtures: ``host_spec``, ``connection`` and the session's connection registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .connection import ConnectionRegistry, FabricPlusConnection
from .errors import HostUnreachable
from .hostspec import HostSpec
from .state import NO_HOSTS_REASON, RunState

STATE_KEY = pytest.StashKey[RunState]()


def run_state(config: pytest.Config) -> RunState:
    return config.stash[STATE_KEY]


@pytest.fixture
def host_spec() -> HostSpec:
    """The inventory entry of the host this test item runs against.

    Parametrized by the plugin (one item per selected host); this body only runs when no
    hosts were given, and skips the test saying how to give them.
    """
    pytest.skip(NO_HOSTS_REASON)


@pytest.fixture(scope="session")
def fabricplus_registry(pytestconfig: pytest.Config) -> Iterator[ConnectionRegistry]:
    """This process's connections, one per host, closed when the session ends."""
    state = run_state(pytestconfig)
    yield state.registry
    state.close()


@pytest.fixture
def connection(
    host_spec: HostSpec, fabricplus_registry: ConnectionRegistry
) -> Iterator[FabricPlusConnection]:
    """A ``fabricplus`` ``ConnectionPlus`` to this item's host, shared by the host's tests.

    What a test changes (``cd``, ``prefix``, ``config.run.env``, ...) is undone afterwards.
    """
    try:
        conn = fabricplus_registry.get(host_spec)
    except HostUnreachable as exc:
        error = str(exc)
    else:
        error = ""
    if error:
        pytest.fail(error, pytrace=False)
    try:
        yield conn
    finally:
        conn.reset()
