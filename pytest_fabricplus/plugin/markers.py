"""The plugin's markers: registration, and their arguments checked at collection.

``@pytest.mark.su_user(user, method=..., password_env=..., login=...)`` runs a test's
commands as another user (a :class:`~pytest_fabricplus.runas.RunAsRequest`);
``@pytest.mark.hosts(*patterns)`` narrows the hosts a test runs on. A bad argument is a
collection error naming the test, never a surprise at run time.
"""

from __future__ import annotations

import pytest

from ..fleet.state import RunState
from ..hosts.selection import describe_choices, unmatched
from ..runas import RunAsRequest
from .compliance import MARKER as COMPLIANCE_MARKER

MARKERS = (
    "su_user(name, method='auto'|'su'|'sudo', password_env=None, login=True): run this "
    "test's connection.run() commands as another user (su, or sudo where su cannot work)",
    "hosts(*patterns): run this test only on inventory hosts matching a group, tag:NAME, "
    "alias or host glob, or an Ansible pattern (web:&prod, web:!web2, ~regex, all)",
    COMPLIANCE_MARKER,
)


def register(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)


def run_as_request(node: pytest.Item | pytest.Function) -> RunAsRequest | None:
    """The closest ``su_user`` marker's request (already validated at collection)."""
    marker = node.get_closest_marker("su_user")
    return None if marker is None else RunAsRequest.parse(marker.args, marker.kwargs)


def check_su_user(definition: pytest.Function, state: RunState) -> None:
    """Validate ``su_user``'s arguments; the password variable it names must be set."""
    marker = definition.get_closest_marker("su_user")
    if marker is None:
        return
    where = f"{definition.nodeid}: @pytest.mark.su_user"
    try:
        wanted = RunAsRequest.parse(marker.args, marker.kwargs)
    except ValueError as exc:
        raise pytest.Collector.CollectError(f"{where} {exc}") from None
    if wanted.password_env:
        if wanted.password_env not in state.env:
            raise pytest.Collector.CollectError(
                f"{where}: environment variable {wanted.password_env} (the su password for "
                f"{wanted.user}) is not set"
            )
        state.secrets.add_variables([wanted.password_env])  # redacted from this process's output


def check_hosts(definition: pytest.Function, state: RunState) -> None:
    """``@pytest.mark.hosts`` arguments must be strings that name something in the inventory."""
    marker = definition.get_closest_marker("hosts")
    if marker is None or not state.has_hosts:
        return
    if marker.kwargs or not marker.args or not all(isinstance(a, str) for a in marker.args):
        raise pytest.Collector.CollectError(
            f"{definition.nodeid}: @pytest.mark.hosts takes group, tag:NAME or host "
            f"patterns as strings, got args={marker.args!r} kwargs={marker.kwargs!r}"
        )
    bad = unmatched(state.inventory, marker.args)
    if bad:
        raise pytest.Collector.CollectError(
            f"{definition.nodeid}: @pytest.mark.hosts({', '.join(map(repr, bad))}) "
            f"matches no host in {state.source}; {describe_choices(state.inventory)}"
        )
