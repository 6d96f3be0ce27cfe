"""Fleet mode for a module-scoped host (testinfra's ``host``): each host's module fixtures.

testinfra's ``host`` is module-scoped, and so is the host parameter of the tests using it:
on the item path pytest runs a module host by host (``a[web1]``, ``b[web1]``, ``a[web2]``...),
and each host's module fixtures (``host`` itself, and every module- or class-scoped fixture
that uses it, such as ``@pytest.fixture(scope="module") def nginx(host)``) exist from its
first test in the module to its last. In fleet mode the module runs test by test
(``a[web1]``, ``a[web2]``, ``b[web1]``...) with each test's hosts at once, so every host's
module fixtures must exist at the same time, while pytest keeps one value per
``FixtureDef``. This class keeps them per host:

* **host-bound fixtures**: the module- and class-scoped ``FixtureDef`` objects that depend
  on the host parameter, directly or through other fixtures (by their declared arguments).
  Fixtures of a wider scope that do not depend on the host stay shared, as on the item path.
* **loading a host** puts its cached values and finalizer lists into those ``FixtureDef``
  objects (and sets the previous host's aside): pytest's setup then finds the host's own
  values, or creates them for a host new to the module.
* **node finalizers**: pytest schedules a fixture's teardown on its scope's node (the
  module's entry in ``SetupState.stack``) when it creates the value; after each setup, the
  entries for host-bound fixtures move to the host's own list, so the module's entry keeps
  only what is shared.
* **at the module's end** (the teardown whose next item is elsewhere, or none), each host's
  finalizers go back onto the ending nodes, wrapped so that each runs with its own host
  loaded; pytest runs them, and reports their errors, in that teardown.

pytest internals used (as in ``fleetmode.py``): ``SetupState.stack``,
``FixtureDef.cached_result`` / ``_finalizers``, ``FuncFixtureInfo.name2fixturedefs``; a
node finalizer for a fixture is ``functools.partial(fixturedef.finish, request=...)`` on
every supported pytest (7.4 to 9).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

#: the host parameter's name (``pytest_generate_tests`` parametrizes it)
HOST_PARAM = "host_spec"
#: scopes between the item and the host parameter's (module) scope: one value per host
PER_HOST_SCOPES = ("module", "class")


def host_bound_fixturedefs(item: pytest.Item) -> list[Any]:
    """The item's module- and class-scoped fixture definitions that depend on its host: by
    their arguments, or that take ``request`` (``request.getfixturevalue("host")`` leaves no
    other trace; such a fixture that does not use the host is set up once per host instead
    of once per module -- more set-ups, never a host's value serving another)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    name2defs: dict[str, Any] = info.name2fixturedefs
    bound = {HOST_PARAM}
    for name, defs in name2defs.items():
        if any("request" in d.argnames and str(d.scope) in PER_HOST_SCOPES for d in defs):
            bound.add(name)
    changed = True
    while changed:
        changed = False
        for name, defs in name2defs.items():
            if name not in bound and any(a in bound for d in defs for a in d.argnames):
                bound.add(name)
                changed = True
    result: list[Any] = []
    for name in sorted(bound):
        for fixturedef in name2defs.get(name, ()):
            if str(fixturedef.scope) in PER_HOST_SCOPES and fixturedef not in result:
                result.append(fixturedef)
    return result


def _finalizer_target(finalizer: Callable[[], object]) -> Any:
    """The ``FixtureDef`` whose ``finish`` this node finalizer calls (None: another one):
    ``functools.partial(fixturedef.finish, request=...)`` from pytest 8, a
    ``lambda: fixturedef.finish(request=subrequest)`` in pytest 7.4."""
    target = getattr(getattr(finalizer, "func", None), "__self__", None)
    if target is not None:
        return target
    if getattr(getattr(finalizer, "__code__", None), "co_name", None) != "<lambda>":
        return None
    for cell in getattr(finalizer, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if hasattr(value, "cached_result") and hasattr(value, "argnames"):
            return value
    return None


@dataclass
class _Saved:
    """One host's host-bound fixtures while another host is loaded."""

    fixtures: dict[Any, tuple[Any, list[Any]]] = field(default_factory=dict)
    node_finalizers: dict[Any, list[Callable[[], object]]] = field(default_factory=dict)


class HostScopes:
    """Per-host values of host-bound fixtures, for the module being run."""

    def __init__(self) -> None:
        self.bound: list[Any] = []  # every host-bound FixtureDef seen in this module
        self.saved: dict[str, _Saved] = {}
        self.loaded: str | None = None

    def __bool__(self) -> bool:
        return bool(self.saved)

    def know(self, fixturedefs: Iterable[Any]) -> None:
        for fixturedef in fixturedefs:
            if fixturedef not in self.bound:
                self.bound.append(fixturedef)

    # -- loading -----------------------------------------------------------------------------
    def load(self, host: str) -> None:
        """Make ``host``'s values the ones pytest sees (none yet: pytest creates them)."""
        if self.loaded == host:
            return
        self.unload()
        saved = self.saved.setdefault(host, _Saved())
        for fixturedef, (cached, finalizers) in saved.fixtures.items():
            fixturedef.cached_result = cached
            fixturedef._finalizers[:] = finalizers
        saved.fixtures = {}
        self.loaded = host

    def unload(self) -> None:
        host, self.loaded = self.loaded, None
        if host is None:
            return
        saved = self.saved.setdefault(host, _Saved())
        for fixturedef in self.bound:
            cached = getattr(fixturedef, "cached_result", None)
            finalizers = list(fixturedef._finalizers)
            if cached is not None or finalizers:
                saved.fixtures[fixturedef] = (cached, finalizers)
            fixturedef.cached_result = None
            fixturedef._finalizers.clear()

    def take_node_finalizers(self, item: pytest.Item) -> None:
        """After the loaded host's setup: its host-bound fixtures' teardowns, scheduled on
        the module's (class's) node, move to the host's own list."""
        host = self.loaded
        if host is None:
            return
        bound = {id(d) for d in self.bound}
        saved = self.saved.setdefault(host, _Saved())
        for node, (finalizers, _exc) in item.session._setupstate.stack.items():
            if node is item:
                continue
            mine = [f for f in finalizers if id(_finalizer_target(f)) in bound]
            if mine:
                finalizers[:] = [f for f in finalizers if id(_finalizer_target(f)) not in bound]
                saved.node_finalizers.setdefault(node, []).extend(mine)

    # -- the module's end --------------------------------------------------------------------
    @staticmethod
    def ending_nodes(item: pytest.Item, nextitem: pytest.Item | None) -> list[Any]:
        """The nodes (not the item) that pytest tears down after ``item``."""
        needed = set(nextitem.listchain()) if nextitem is not None else set()
        return [n for n in item.session._setupstate.stack if n is not item and n not in needed]

    def finish_on(self, nodes: list[Any], hosts: Iterable[str]) -> None:
        """Put ``hosts``' finalizers for ``nodes`` back on those nodes, each run with its host
        loaded, the first host's last (pytest runs a node's finalizers last in, first out)."""
        stack = nodes[0].session._setupstate.stack if nodes else {}
        for host in reversed(list(hosts)):
            saved = self.saved.get(host)
            if saved is None:
                continue
            for node in nodes:
                finalizers = saved.node_finalizers.pop(node, [])
                if finalizers and node in stack:
                    stack[node][0].append(self._wrapped(host, finalizers))

    def _wrapped(self, host: str, finalizers: list[Callable[[], object]]) -> Callable[[], None]:
        def finish() -> None:
            self.load(host)
            errors: list[BaseException] = []
            while finalizers:
                try:
                    finalizers.pop()()
                except BaseException as exc:  # as pytest's SetupState: all run, first raised
                    errors.append(exc)
            if errors:
                raise errors[0]

        return finish

    def forget(self, nodes: list[Any], hosts: Iterable[str] | None = None) -> None:
        """After pytest tore ``nodes`` down (for ``hosts``, default all): forget what those
        hosts kept for them, and the hosts with nothing left."""
        for host in list(self.saved) if hosts is None else list(hosts):
            saved = self.saved.get(host)
            if saved is None:
                continue
            for node in nodes:
                saved.node_finalizers.pop(node, None)
            if not saved.node_finalizers:
                if self.loaded == host:
                    self.unload()
                del self.saved[host]
        if not self.saved:
            self.bound = []
            self.loaded = None
