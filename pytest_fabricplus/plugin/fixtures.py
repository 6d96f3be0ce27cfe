"""Fixtures: ``host_spec``, ``connection``, ``run_as``, ``host_pool`` and the session's
connection registry.

Layered as in pytest-httpserver: the session resource (``fabricplus_registry``: one
connection per host per process) feeds per-test views (``connection``, ``host_pool``) whose
changes (cwd, prefixes, config, user) are undone after each test (``reset``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager as ContextManager
from typing import TYPE_CHECKING

import pytest

from ..errors import HostUnreachable
from ..fleet.pool import HostPool
from ..fleet.state import NO_HOSTS_REASON, RunState
from ..hosts.selection import apply_limit
from ..hosts.spec import HostSpec
from .markers import run_as_request
from .reporting import (
    HOST_KEY_PROPERTY,
    RUN_AS_PROPERTY,
    SSH_CONFIG_PROPERTY,
    UNREACHABLE_PROPERTY,
)

if TYPE_CHECKING:  # paramiko/Fabric load with the first connection, not with the plugin
    from ..ssh.connection import FabricPlusConnection
    from ..ssh.registry import ConnectionRegistry

STATE_KEY = pytest.StashKey[RunState]()


def run_state(config: pytest.Config) -> RunState:
    """This process's :class:`RunState` (built in ``pytest_sessionstart``)."""
    return config.stash[STATE_KEY]


@pytest.fixture
def host_spec() -> HostSpec:
    """The inventory entry of the host this test item runs against.

    Parametrized by the plugin (one item per selected host); this body only runs when no
    hosts were given: the test errors saying how to give them (a test that needs a host
    does not pass silently in a run that has none).
    """
    pytest.fail(NO_HOSTS_REASON, pytrace=False)


@pytest.fixture(scope="session")
def fabricplus_registry(pytestconfig: pytest.Config) -> Iterator[ConnectionRegistry]:
    """This process's connections, one per host, closed when the session ends."""
    state = run_state(pytestconfig)
    yield state.registry
    state.close()


def hosts_for(
    node: pytest.Item | pytest.Function,
    state: RunState,
    module_hosts: list[HostSpec] | None = None,
) -> list[HostSpec]:
    """The selected hosts (or the module's ``testinfra_hosts``) the closest
    ``@pytest.mark.hosts`` allows (all without one)."""
    hosts = state.selected if module_hosts is None else module_hosts
    marker = node.get_closest_marker("hosts")
    return hosts if marker is None else apply_limit(hosts, marker.args)


def not_ssh_reason(spec: HostSpec) -> str:
    """Why the ``connection`` fixture cannot serve a host testinfra's own backend runs."""
    return (
        f"{spec.name} runs through testinfra's {spec.transport} backend, not SSH: "
        "the connection fixture (and host_pool) need an SSH host; use the host fixture"
    )


def _open_or_report(
    request: pytest.FixtureRequest, registry: ConnectionRegistry, spec: HostSpec
) -> FabricPlusConnection:
    """The host's connection; an unreachable host errors (or skips) naming host and cause."""
    try:
        conn = registry.get(spec)
    except HostUnreachable as exc:
        error = exc
    else:
        for warning in registry.connector.config_warnings(spec):
            request.node.user_properties.append((SSH_CONFIG_PROPERTY, warning))
        return conn
    for warning in registry.connector.config_warnings(spec):
        request.node.user_properties.append((SSH_CONFIG_PROPERTY, warning))
    request.node.user_properties.append((UNREACHABLE_PROPERTY, f"{error.cause}: {error.detail}"))
    if run_state(request.config).settings.skip_unreachable:
        pytest.skip(f"{error} (--skip-unreachable)")
    pytest.fail(str(error), pytrace=False)


def _set_run_as(
    conn: FabricPlusConnection, node: pytest.Item, registry: ConnectionRegistry
) -> None:
    """The user this item's commands run as: its ``su_user`` marker, else the host's
    ``become_user`` (Ansible's ``ansible_become``: sudo -u / su, no login shell, as Ansible
    and testinfra run become commands), else the login user."""
    wanted = run_as_request(node)
    spec = conn.spec
    if wanted is not None:
        conn.set_run_as(
            registry.connector.run_as_for(
                spec, wanted.user, wanted.method, wanted.password_env, wanted.login
            )
        )
    elif spec.vars.get("become_user"):
        conn.set_run_as(registry.connector.run_as_for(spec, spec.vars["become_user"], login=False))


@pytest.fixture
def connection(
    request: pytest.FixtureRequest, host_spec: HostSpec, fabricplus_registry: ConnectionRegistry
) -> Iterator[FabricPlusConnection]:
    """A ``fabricplus`` ``ConnectionPlus`` to this item's host, shared by the host's tests.

    Under ``@pytest.mark.su_user("name")`` its ``run()`` runs as that user (su or sudo).
    What a test changes (``cd``, ``prefix``, ``config.run.env``, user) is undone afterwards.
    """
    if host_spec.transport != "ssh":
        pytest.fail(not_ssh_reason(host_spec), pytrace=False)
    conn = _open_or_report(request, fabricplus_registry, host_spec)
    conn.remember_state()  # what reset() restores after this test
    _set_run_as(conn, request.node, fabricplus_registry)
    for warning in conn.host_key_warnings:
        request.node.user_properties.append((HOST_KEY_PROPERTY, warning))
    try:
        yield conn
    finally:
        # the -v summary and reports: each user the test ran as (marker and run_as blocks)
        privilege = fabricplus_registry.connector.privilege
        described = {privilege.describe(host_spec, u.user, u.method) for u in conn.users_used}
        for choice in sorted(described):
            request.node.user_properties.append((RUN_AS_PROPERTY, choice))
        conn.reset()


@pytest.fixture
def run_as(connection: FabricPlusConnection) -> Callable[..., ContextManager[FabricPlusConnection]]:
    """``with run_as("postgres"): connection.run(...)`` — part of a test as another user.

    Same arguments as the ``su_user`` marker: ``run_as(user, method=None, password_env=None,
    login=True)``.
    """
    return connection.as_user


@pytest.fixture
def host_pool(
    request: pytest.FixtureRequest, fabricplus_registry: ConnectionRegistry
) -> Iterator[HostPool]:
    """All hosts selected for this test (``--hosts``, ``--hosts-limit``, ``@pytest.mark.hosts``)
    as a :class:`HostPool`: ``run``/``sudo``/``su``/``put``/``get``/``map`` act on every host
    concurrently and return per-host outcomes; ``.raise_on_failure()`` names every failing host.

    Uses the same per-process connections as ``connection``; honours ``su_user``.
    """
    state = run_state(request.config)
    if not state.has_hosts:
        pytest.fail(NO_HOSTS_REASON, pytrace=False)
    hosts = [h for h in hosts_for(request.node, state) if h.transport == "ssh"]
    if not hosts:
        pytest.skip("no selected host matches this test's @pytest.mark.hosts")

    def prepare(conn: FabricPlusConnection) -> None:
        conn.remember_state()  # what reset() restores after this test
        _set_run_as(conn, request.node, fabricplus_registry)

    settings = state.settings
    pool = HostPool(
        fabricplus_registry,
        hosts,
        settings.max_connections,
        prepare,
        state.threads,
        in_flight=settings.pool_in_flight(len(hosts)),
    )
    try:
        yield pool
    finally:
        for conn in pool.connections():
            conn.reset()
