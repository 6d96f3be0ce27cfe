"""Fleet mode (``--fleet``, ini ``fabricplus_fleet``): a test's items on its hosts run at once.

A per-host test is one pytest item per host (``test_x[web1]``, ``test_x[web2]``...). On the
item path they run one after the other, each waiting for its host's round trips. In fleet
mode the items of one test that differ only in their host (consecutive in the run order) are
a *group*, and the group runs like this, all inside the first item's
``pytest_runtest_protocol`` (so every plugin's wrappers around it -- assertion rewriting's
comparison hook, the warnings filters -- are active):

1. **setup**, item by item, in the main thread, through pytest's own hook
   (``call_and_report(item, "setup", log=False)``: fixtures, capture, markers, our host
   properties). After each, the item's function-level state is set aside: its entry in
   pytest's ``SetupState`` stack and the cached value and finalizers of each function-scoped
   ``FixtureDef`` it used. pytest keeps ONE active item (the stack asserts it, and a
   ``FixtureDef`` caches one value); setting the state aside lets the next item set up its
   own fixtures, and putting it back lets each item's teardown run exactly its own.
2. **the bodies** (``item.runtest()``) of the items whose setup passed, concurrently, each
   body's ``print``/echoed command output and log records captured for its item
   (``fleet/capture.py``). By default (``--fleet-bodies=cooperative``) every body runs in a
   greenlet of the main thread (``ssh/cooperative.py``): it steps aside where it waits for a
   command and goes on when the command has ended, with no thread hand-off per command (a
   call that would block the thread runs in a pool thread meanwhile). Every host's body is
   in flight at once, unless ``--max-connections`` is explicit. ``--fleet-bodies=threads``
   runs each body in a pool thread instead (at most ``--max-connections``), for bodies that
   block outside the connection (``time.sleep``).
3. **call**, item by item, in the main thread, through pytest's own hook again, with
   ``runtest`` replaced by a replay: the body's output is written where pytest's capture
   takes it for that item, its log records handed to the logging handlers, its exception
   raised (with its own traceback). So skip/xfail/fail, assertion messages, captured
   sections and ``pytest_exception_interact`` are pytest's; the report's duration is the
   body's.
4. **teardown**, item by item in REVERSE order (the last set up is torn down first, as
   nested setups must be: a fixture that saved process state restores it in order), each
   item's function-level state put back first.
5. **reports**: each item's setup, call and teardown reports are logged in item order from
   its own ``pytest_runtest_protocol`` call (logstart, logreport..., logfinish): terminal,
   per-host table, JUnit, ``--fabricplus-report`` and compliance see the same node ids and
   reports as on the item path.

What is per host: the host's fixtures (``connection``, ``host_spec``, ``run_as``,
``testinfra_host``, every function-scoped fixture), output, log records, the exception and
the report. What is shared: fixtures of a wider scope (set up once, used by the bodies at
the same time), and process state (``os.environ``, the cwd).

A module whose ``host_spec`` is module-scoped (testinfra's ``host``; pytest orders it host
by host) runs test by test instead, every item of it in a group (one host alone too), and
each host's module- and class-scoped fixtures that depend on its host are kept per host
between its groups (``fleet_hostscope.py``).

Tests that cannot run this way run on the item path, with one line each at the start of the
run saying why: a test using a process-wide fixture (``capsys``, ``capfd``, ``caplog``,
``recwarn``, ``monkeypatch``; with a module-scoped host, its whole module), an item that is
not a plain test function, a module-scoped host beside another parametrization wider than a
test, and a test whose hosts are not consecutive in the run order. Fleet mode is off (one
header line) under ``--pdb`` and the ``--setup-*`` options.

With xdist (``-n N``) our scheduler hands each worker whole hosts, in collection order; a
worker forms its groups from the items queued after the current one (xdist's worker queue)
and runs each group as above: ``-n N`` splits the hosts, each worker runs its hosts at once.
The "runs host by host" lines are not printed then (the controller collects nothing).

pytest internals used here (no public API for "many items set up at once"):
``Session._setupstate.stack``, ``FixtureDef.cached_result`` / ``_finalizers``, the item's
``_request._fixture_defs`` and ``_fixtureinfo``, ``_pytest.runner.call_and_report``; xdist's
``WorkerInteractor.torun`` / ``nextitem_index`` (``_queued`` reads both queue kinds: xdist 3.7's
``TestQueue`` and the plain ``queue.Queue`` of 3.2 to 3.6).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import greenlet
import pytest
from _pytest.runner import call_and_report

from ..fleet.capture import Captured, ThreadCapture
from ..fleet.pool import map_in_steps
from ..fleet.state import RunState
from ..ssh.cooperative import Hub, current_hub
from .fleet_hostscope import HostScopes, host_bound_fixturedefs
from .reporting import item_host
from .xdist import AFFINITY_KEY

PLUGIN_NAME = "fabricplus-fleet"

#: fixtures that act on the whole process: a test using one runs on the item path
PROCESS_WIDE = (
    "capsys",
    "capsysbinary",
    "capfd",
    "capfdbinary",
    "capteesys",
    "caplog",
    "recwarn",
    "monkeypatch",
)


@dataclass
class _Body:
    """One item's body, run in a pool thread."""

    captured: Captured | None = None
    error: BaseException | None = None
    duration: float = 0.0
    start: float = 0.0
    stop: float = 0.0


@dataclass
class _Prepared:
    """One item of a group: its reports (logged from its own protocol call) and, between
    its setup and its teardown, its function-level state set aside."""

    reports: list[pytest.TestReport] = field(default_factory=list)
    stack_entry: Any = None
    fixtures: list[tuple[Any, Any, list[Any]]] = field(default_factory=list)
    body: _Body | None = None
    setup_passed: bool = False


def _host_param_scope(item: pytest.Item) -> str | None:
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.get("host_spec") if info is not None else None
    return str(defs[-1].scope) if defs else None


def _group_key(item: pytest.Item) -> tuple[Any, ...] | None:
    """Items with the same key differ only in their host."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "host_spec" not in callspec.params:
        return None
    # pytest's ``callspec.indices`` number the whole product, not each parametrization
    params = callspec.params.items()
    others = tuple(sorted((k, type(v).__name__, repr(v)) for k, v in params if k != "host_spec"))
    return (item.parent, getattr(item, "originalname", item.name), others)


def _wider_params(item: pytest.Item) -> list[str]:
    """The item's parameters other than the host whose scope is wider than the function."""
    info = getattr(item, "_fixtureinfo", None)
    callspec = getattr(item, "callspec", None)
    if info is None or callspec is None:
        return []
    wider = []
    for name in callspec.params:
        defs = info.name2fixturedefs.get(name)
        if name != "host_spec" and defs and str(defs[-1].scope) != "function":
            wider.append(name)
    return wider


def why_not(item: pytest.Item) -> str | None:
    """Why this host item cannot run in a fleet group (None: it can)."""
    if type(item) is not pytest.Function:
        return f"not a plain test function ({type(item).__name__})"
    scope = _host_param_scope(item)
    if scope not in ("function", "module"):
        return f"its host parameter is {scope}-scoped"
    used = [name for name in PROCESS_WIDE if name in item.fixturenames]
    if used:
        return f"uses {', '.join(used)} (process-wide)"
    wider = _wider_params(item) if scope == "module" else []
    if wider:
        return f"another parametrization wider than a test ({', '.join(wider)}) beside its host"
    return None


def _module_of(item: pytest.Item) -> Any:
    return item.getparent(pytest.Module) or item.parent


def module_blockers(items: Sequence[pytest.Item]) -> dict[Any, str]:
    """Modules whose host is module-scoped (testinfra's ``host``) and that cannot run test
    by test: a module runs that way whole or not at all (its hosts' module fixtures live
    from their first test to their last), so one test that cannot (``capsys``...) keeps the
    whole module on the item path. Module -> why."""
    blocked: dict[Any, str] = {}
    for item in items:
        if item_host(item) is None or _host_param_scope(item) != "module":
            continue
        module = _module_of(item)
        why = why_not(item)
        if why is not None and module not in blocked:
            blocked[module] = f"{_test_name(item).rsplit('::', 1)[-1]} {why}"
    return blocked


def _module_scoped(item: pytest.Item) -> bool:
    return item_host(item) is not None and _host_param_scope(item) == "module"


@dataclass
class Plan:
    """Which items run as groups (first item -> the group), and the notes."""

    groups: dict[pytest.Item, list[pytest.Item]] = field(default_factory=dict)
    after: dict[pytest.Item, pytest.Item | None] = field(default_factory=dict)  # next item
    notes: dict[str, str] = field(default_factory=dict)  # test (node id w/o host) -> why

    @property
    def grouped_items(self) -> int:
        return sum(len(g) for g in self.groups.values())


def _host_id(item: pytest.Item) -> str | None:
    spec = item_host(item)
    return None if spec is None else spec.id


def _test_name(item: pytest.Item) -> str:
    return item.nodeid.split("[", 1)[0]


def reorder(items: list[pytest.Item]) -> None:
    """Within each run of consecutive items of one test function, put the items that differ
    only in their host next to each other (stable; the first appearance decides), so that
    ``@pytest.mark.parametrize`` beside the host parameter (``test_x[web1-a]``,
    ``test_x[web1-b]``, ``test_x[web2-a]``...) still runs each parameter's hosts at once.
    A module whose host is module-scoped (pytest runs it host by host) runs test by test
    instead, each test's hosts together (unless :func:`module_blockers` says it cannot).
    Other items keep their places."""
    blocked = module_blockers(items)
    i = 0
    while i < len(items):
        module = _module_of(items[i])
        j = i + 1
        while j < len(items) and _module_of(items[j]) is module:
            j += 1
        run = items[i:j]
        if module not in blocked and any(_module_scoped(it) for it in run):
            order: dict[Any, int] = {}
            keys = [_group_key(it) if _module_scoped(it) else ("item", id(it)) for it in run]
            for key in keys:
                order.setdefault(key, len(order))
            ranks = [order[key] for key in keys]
            items[i:j] = [run[k] for k in sorted(range(len(run)), key=lambda k: (ranks[k], k))]
        i = j
    i = 0
    while i < len(items):
        j = i + 1
        same = (items[i].parent, getattr(items[i], "originalname", None))
        while j < len(items) and (items[j].parent, getattr(items[j], "originalname", None)) == same:
            j += 1
        if j - i > 2 and _group_key(items[i]) is not None:
            first: dict[Any, int] = {}
            for item in items[i:j]:
                first.setdefault(_group_key(item), len(first))
            items[i:j] = sorted(items[i:j], key=lambda it: first[_group_key(it)])
        i = j


def plan(items: Sequence[pytest.Item]) -> Plan:
    result = Plan()
    blocked = module_blockers(items)
    seen_keys: set[tuple[Any, ...]] = set()
    i = 0
    while i < len(items):
        item = items[i]
        key = _group_key(item)
        if key is None or item_host(item) is None:
            i += 1
            continue
        j = i + 1
        hosts = {_host_id(item)}
        while j < len(items) and _group_key(items[j]) == key and _host_id(items[j]) not in hosts:
            hosts.add(_host_id(items[j]))
            j += 1
        run = list(items[i:j])
        module_scoped = _module_scoped(item)
        why = why_not(item)
        if module_scoped and why is None and _module_of(item) in blocked:
            why = (
                "its host is module-scoped and its module cannot run test by test: "
                + (blocked[_module_of(item)])
            )
        if why is None and key in seen_keys:
            why = "its hosts are not consecutive in the run order (another parametrization?)"
        seen_keys.add(key)
        if why is not None:
            result.notes.setdefault(_test_name(item), why)
        elif len(run) > 1 or module_scoped:  # a module-scoped host's items are all grouped
            result.groups[run[0]] = run
            result.after[run[0]] = items[j] if j < len(items) else None
        i = j
    return result


class FleetMode:
    """The fleet-mode plugin (registered in ``pytest_sessionstart`` under ``--fleet``)."""

    def __init__(self, config: pytest.Config, state: RunState) -> None:
        self.config = config
        self.state = state
        self.plan = Plan()
        self._prepared: dict[pytest.Item, _Prepared] = {}
        self.off_reason = self._off_reason(config)
        self.scopes = HostScopes()  # a module-scoped host's module fixtures, per host
        self._own_only: str | None = None  # a teardown that ends only this host's fixtures
        self._blocked: dict[Any, str] | None = None  # module_blockers, in an xdist worker

    @staticmethod
    def _off_reason(config: pytest.Config) -> str | None:
        option = config.option
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None and not workerinput.get(AFFINITY_KEY):
            return "off: xdist without host affinity (an explicit --dist other than load)"
        for name, flag in (
            ("usepdb", "--pdb"),
            ("setuponly", "--setup-only"),
            ("setupplan", "--setup-plan"),
            ("setupshow", "--setup-show"),
        ):
            if getattr(option, name, False):
                return f"off under {flag}"
        return None

    @property
    def controller(self) -> bool:
        """The xdist controller: its workers run the items (and the groups)."""
        config = self.config
        return not hasattr(config, "workerinput") and getattr(config.option, "dist", "no") != "no"

    def header(self) -> str:
        if self.off_reason is not None:
            return f"fleet mode: {self.off_reason}"
        settings = self.state.settings
        bounded = settings.fleet_bodies == "threads" or "max_connections" in settings.explicit
        how = (f", up to {settings.max_connections}" if bounded else "") + (
            f" ({settings.fleet_bodies} bodies)"
        )
        if self.controller:
            return f"fleet mode: each xdist worker runs its hosts at once{how}"
        return f"fleet mode: each test's hosts at once{how}"

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        if self.off_reason is None:
            reorder(items)

    # -- the loop ----------------------------------------------------------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        if self.off_reason is not None or session.config.option.collectonly:
            return None
        if self.controller or hasattr(session.config, "workerinput"):
            return None  # xdist's loops; a worker's groups start in pytest_runtest_protocol
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            return None  # pytest's own loop says so
        self.plan = plan(session.items)
        self._announce(session)
        for i, item in enumerate(session.items):
            nextitem = session.items[i + 1] if i + 1 < len(session.items) else None
            item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
            if session.shouldfail:
                self._abandon()
                raise session.Failed(session.shouldfail)
            if session.shouldstop:
                self._abandon()
                raise session.Interrupted(session.shouldstop)
        return True

    def _announce(self, session: pytest.Session) -> None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        groups = self.plan.groups
        if groups:
            reporter.write_line(
                f"fabricplus: fleet mode: {len(groups)} tests on "
                f"{self.plan.grouped_items} host items run each test's hosts at once"
            )
        for test, why in self.plan.notes.items():
            reporter.write_line(f"fabricplus: fleet mode: {test} runs host by host: {why}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        group = self.plan.groups.get(item)
        if group is not None:  # the first item of a group: run them all
            self._run_group(group, self.plan.after.get(item))
        elif self.off_reason is None and item not in self._prepared:
            found = self._worker_group(item)
            if found is not None:
                self._run_group(*found)
        prepared = self._prepared.pop(item, None)
        if prepared is None:
            return None  # the item path
        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for report in prepared.reports:
            ihook.pytest_runtest_logreport(report=report)
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Iterator[None]:
        """When a teardown ends the module (or class) of a module-scoped host's fixtures,
        each host's finalizers for it run there, with that host's values loaded; a teardown
        for one host only (``_own_only``) ends that host's, and the shared ones stay."""
        scopes = self.scopes
        nodes = scopes.ending_nodes(item, nextitem) if scopes else []
        if not nodes:
            yield
            return
        host = self._own_only
        if host is None:
            scopes.finish_on(nodes, list(scopes.saved))
            try:
                yield
            finally:
                scopes.forget(nodes)
            return
        stack = item.session._setupstate.stack
        kept = {node: stack[node] for node in nodes}
        for node in nodes:  # the shared finalizers wait for the group's first item
            stack[node] = ([], kept[node][1])
        scopes.finish_on(nodes, [host])
        try:
            yield
        finally:
            for node in nodes:  # pytest popped them: back, in their order
                stack[node] = kept[node]
            scopes.forget(nodes, [host])

    def _worker_group(
        self, item: pytest.Item
    ) -> tuple[list[pytest.Item], pytest.Item | None] | None:
        """In an xdist worker: ``item`` and the items queued right after it that differ only
        in their host (our scheduler hands a worker whole hosts, in collection order), and
        the item after them. Reads xdist's worker queue (no public API for it)."""
        worker = self._interactor()
        key = _group_key(item)
        if worker is None or key is None or item_host(item) is None or why_not(item):
            return None
        items = item.session.items
        module_scoped = _module_scoped(item)
        if module_scoped:
            if self._blocked is None:
                self._blocked = module_blockers(items)
            if _module_of(item) in self._blocked:
                return None
        upcoming: list[Any] = [worker.nextitem_index, *_queued(worker.torun)]
        group = [item]
        hosts = {_host_id(item)}
        after: pytest.Item | None = None
        for index in upcoming:
            if not isinstance(index, int):
                break  # xdist's shutdown marker
            candidate = items[index]
            if _group_key(candidate) != key or _host_id(candidate) in hosts:
                after = candidate
                break
            hosts.add(_host_id(candidate))
            group.append(candidate)
        return (group, after) if len(group) > 1 or module_scoped else None

    def _interactor(self) -> Any:
        if not hasattr(self.config, "workerinput"):
            return None
        for plugin in self.config.pluginmanager.get_plugins():
            if type(plugin).__name__ == "WorkerInteractor" and hasattr(plugin, "torun"):
                return plugin
        return None

    def _abandon(self) -> None:
        self._prepared.clear()  # torn down already; their reports are not shown (-x)

    # -- one group ---------------------------------------------------------------------------
    def _run_group(self, group: list[pytest.Item], after: pytest.Item | None) -> None:
        prepared = {item: _Prepared() for item in group}
        self._prepared.update(prepared)
        set_aside: list[pytest.Item] = []
        scopes = self.scopes if _module_scoped(group[0]) else None
        try:
            for item in group:  # 1. setup
                request = getattr(item, "_request", None)
                if request is not None and not request:
                    item._initrequest()  # type: ignore[attr-defined]
                if scopes is not None:
                    scopes.know(host_bound_fixturedefs(item))
                    scopes.load(str(_host_id(item)))
                try:
                    rep = call_and_report(item, "setup", log=False)
                    prepared[item].reports.append(rep)
                    prepared[item].setup_passed = rep.passed
                finally:  # also when interrupted: it is torn down with the others
                    self._set_aside(item, prepared[item])
                    if scopes is not None:
                        scopes.take_node_finalizers(item)
                    set_aside.append(item)
            self._bodies([i for i in group if _runs_body(i, prepared[i])], prepared)  # 2.
            for item in group:  # 3. call
                if prepared[item].setup_passed:
                    prepared[item].reports.append(self._call(item, prepared[item]))
        except (KeyboardInterrupt, SystemExit, pytest.exit.Exception):
            # Ctrl-C, SIGTERM, pytest.exit() in a fixture or body (pytest's Exit derives
            # from Exception), or a body that raised KeyboardInterrupt: every item set up
            # had started (its body may have run); the per-host table and the report call
            # them interrupted, as the item path does for the one test it was running
            for item in set_aside:
                item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
            raise
        finally:
            for index in range(len(set_aside) - 1, -1, -1):  # 4. teardown, in reverse
                item = set_aside[index]
                nextitem = set_aside[index - 1] if index > 0 else after
                session = item.session
                last = None if session.shouldfail or session.shouldstop else after
                if index == 0:
                    nextitem = last
                self._put_back(item, prepared[item])
                if scopes is not None:
                    scopes.load(str(_host_id(item)))
                    if index > 0 and scopes.ending_nodes(item, last):
                        # the module ends with this group: this host's module fixtures
                        # end in its own teardown (the first item's ends the shared ones)
                        nextitem, self._own_only = last, str(_host_id(item))
                try:
                    rep = call_and_report(item, "teardown", log=False, nextitem=nextitem)
                    prepared[item].reports.append(rep)
                finally:
                    self._own_only = None
                    if hasattr(item, "_request"):
                        item._request = False
                        item.funcargs = None  # type: ignore[attr-defined]

    def _bodies(self, items: list[pytest.Item], prepared: dict[pytest.Item, _Prepared]) -> None:
        if not items:
            return
        capture = ThreadCapture()
        with capture.active():
            try:
                if self.state.settings.fleet_bodies == "threads":
                    map_in_steps(
                        self.state.threads.executor(),
                        lambda item: _run_body(item, prepared[item], capture),
                        items,
                        limit=self.state.settings.max_connections,
                    )
                    return
                hub = Hub(self.state.threads.executor, capture)
                window = self.state.settings.pool_in_flight(len(items))
                todo = list(reversed(items))  # pop() from the end: item order
                try:
                    while todo or hub.busy:
                        while todo and hub.running < window:
                            item = todo.pop()
                            hub.spawn(functools.partial(_run_body, item, prepared[item], capture))
                        if hub.busy:
                            hub.step()
                except BaseException:  # Ctrl-C, SIGTERM, a bug of ours: no body goes on
                    hub.abandon()  # each body's command killed on its host
                    raise
            except (KeyboardInterrupt, SystemExit):
                self.state.interrupt()  # the other bodies' commands end on their hosts
                raise

    def _call(self, item: pytest.Item, prepared: _Prepared) -> pytest.TestReport:
        body = prepared.body
        if body is None:  # not run concurrently (xfail run=False...): pytest's own call
            return call_and_report(item, "call", log=False)

        def replay() -> None:
            __tracebackhide__ = True
            if body.captured is not None:
                body.captured.replay()
            if body.error is not None:
                raise body.error

        item.runtest = replay  # type: ignore[method-assign]
        try:
            report = call_and_report(item, "call", log=False)
        finally:
            del item.runtest
        report.duration = body.duration
        report.start, report.stop = body.start, body.stop
        return report

    # -- pytest's one-active-item state ------------------------------------------------------
    @staticmethod
    def _function_fixturedefs(item: pytest.Item) -> Iterator[Any]:
        seen: set[int] = set()
        request = getattr(item, "_request", None)
        candidates: list[Any] = list(getattr(request, "_fixture_defs", {}).values())
        info = getattr(item, "_fixtureinfo", None)
        if info is not None:
            for defs in info.name2fixturedefs.values():
                candidates.extend(defs)
        for fixturedef in candidates:
            if id(fixturedef) in seen or str(fixturedef.scope) != "function":
                continue
            seen.add(id(fixturedef))
            yield fixturedef

    def _set_aside(self, item: pytest.Item, prepared: _Prepared) -> None:
        stack = item.session._setupstate.stack
        prepared.stack_entry = stack.pop(item, None)
        for fixturedef in self._function_fixturedefs(item):
            if fixturedef.cached_result is None and not fixturedef._finalizers:
                continue
            prepared.fixtures.append(
                (fixturedef, fixturedef.cached_result, list(fixturedef._finalizers))
            )
            fixturedef.cached_result = None
            fixturedef._finalizers.clear()

    @staticmethod
    def _put_back(item: pytest.Item, prepared: _Prepared) -> None:
        if prepared.stack_entry is not None:
            item.session._setupstate.stack[item] = prepared.stack_entry
            prepared.stack_entry = None
        for fixturedef, cached, finalizers in prepared.fixtures:
            fixturedef.cached_result = cached
            fixturedef._finalizers[:] = finalizers
        prepared.fixtures = []


def _queued(torun: Any) -> list[Any]:
    """What an xdist worker's queue holds now, without taking anything out. xdist 3.7 and
    later: its own ``TestQueue`` (``lock()`` yields the deque); before that (3.2, our floor)
    the execmodel's ``queue.Queue``, whose ``mutex`` guards its ``queue`` deque. Anything
    else (another execmodel's queue): nothing is known to be queued, and the item runs on
    the item path."""
    lock = getattr(torun, "lock", None)
    if callable(lock):
        with lock() as queue:
            return list(queue)
    mutex, queue = getattr(torun, "mutex", None), getattr(torun, "queue", None)
    if mutex is not None and queue is not None:
        with mutex:
            return list(queue)
    return []


def _run_body(item: pytest.Item, prepared: _Prepared, capture: ThreadCapture) -> None:
    """Run the item's body (in a pool thread, or a greenlet of a ``Hub``); what it writes and
    logs, its exception and its times are kept for its call phase."""
    record = _Body()
    with capture.thread() as captured:
        record.start = time.time()
        start = time.perf_counter()
        try:
            item.runtest()
        except greenlet.GreenletExit:
            raise  # the hub ends it (the run was interrupted)
        except KeyboardInterrupt as exc:
            if current_hub() is not None:
                raise  # in the main thread: Ctrl-C or SIGTERM (or the body's own) stops the run
            record.error = exc  # in a thread: the body's own, raised in its call phase
        except BaseException as exc:  # kept for the item's call phase
            record.error = exc
        record.duration = time.perf_counter() - start
        record.stop = time.time()
    record.captured = captured
    prepared.body = record


def _runs_body(item: pytest.Item, prepared: _Prepared) -> bool:
    """The body runs concurrently: setup passed, and no ``xfail(run=False)`` (pytest's call
    phase decides those; they get pytest's own call)."""
    if not prepared.setup_passed:
        return False
    return not any(m.kwargs.get("run", True) is False for m in item.iter_markers("xfail"))


def register(config: pytest.Config, state: RunState) -> FleetMode | None:
    """Register fleet mode for this run if ``--fleet`` (or the ini key) asks for it."""
    if not state.settings.fleet:
        return None
    plugin = FleetMode(config, state)
    config.pluginmanager.register(plugin, PLUGIN_NAME)
    return plugin
