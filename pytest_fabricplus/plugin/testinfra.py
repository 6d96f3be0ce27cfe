"""The ``testinfra_host`` fixture: testinfra's modules over the item's ``connection``.

Importing this module never needs testinfra (the plugin registers the fixture either way);
only using the fixture does, and without it the test errors saying which extra to install.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import FabricPlusError, HostUnreachable
from ..fleet.state import RunState
from ..hosts import urls
from ..hosts.inventory import looks_like_path
from ..hosts.spec import HostSpec
from ..hosts.testinfra_hosts import ModuleHosts
from ..text import one_line
from .fixtures import _set_run_as, run_state
from .markers import run_as_request

if TYPE_CHECKING:
    from ..ssh.connection import FabricPlusConnection
    from ..ssh.registry import ConnectionRegistry

MISSING_TESTINFRA = (
    "the testinfra_host fixture needs pytest-testinfra, which is not installed: "
    "pip install pytest-fabricplus[testinfra]"
)


def _is_testinfra(exc: ImportError) -> bool:
    return (exc.name or "").partition(".")[0] == "testinfra"


@pytest.fixture
def testinfra_host(request: pytest.FixtureRequest, connection: FabricPlusConnection) -> Any:
    """A ``testinfra.host.Host`` whose commands run on this item's ``connection``.

    Parametrized exactly like ``connection`` (one item per host), on the same SSH
    connection. Under ``@pytest.mark.su_user(...)``/``run_as`` its commands run as that user;
    ``with testinfra_host.sudo("user"):`` runs them through sudo with the login user's sudo
    password. One Host per (connection, user), so testinfra's per-Host caches are never
    shared between users.
    """
    try:
        from ..integrations.testinfra import testinfra_host as host_for
    except ImportError as exc:
        if not _is_testinfra(exc):
            raise
        missing = f"{MISSING_TESTINFRA} ({exc.__cause__ or exc})"
    else:
        return host_for(connection, ansible=ansible_host(request.config, connection.spec))
    pytest.fail(missing, pytrace=False)  # outside the except: no chained ImportError shown


#: the run's testinfra ``AnsibleRunner`` per inventory (``host.ansible``)
RUNNERS_KEY = pytest.StashKey[Any]()


def ansible_host(config: pytest.Config, spec: HostSpec) -> Any:
    """The host's Ansible name (an ``AnsibleHost``) where testinfra would run it through its
    ansible backend -- ``--connection=ansible`` (Molecule), ``ansible://`` hosts -- else
    ``None``. Only called once testinfra imported."""
    from ..integrations.testinfra import AnsibleHost, AnsibleRunners

    settings = run_state(config).settings
    hosts = settings.hosts
    names_ansible = hosts is not None and "ansible://" in hosts
    inventory = settings.ansible_inventory
    if inventory is None and hosts is not None and looks_like_path(hosts):
        inventory = hosts
    name = urls.ansible_name(spec, settings.connection == "ansible" or names_ansible, inventory)
    if name is None:
        return None
    runners = config.stash.get(RUNNERS_KEY, None)
    if runners is None:
        runners = config.stash[RUNNERS_KEY] = AnsibleRunners()
    return AnsibleHost(name, runners)


# ---------------------------------------------------------------------------------------
# testinfra's pytest interface: the module-scoped ``host`` fixture and ``testinfra_hosts``
# ---------------------------------------------------------------------------------------

#: a module-scoped fixture only ``host`` requests: its tests get module-scoped parameters
USES_HOST = "_fabricplus_uses_host"
LOCAL_SPEC = urls.LOCAL


@pytest.fixture(scope="module")
def _fabricplus_uses_host() -> None:
    """Marks the tests that use ``host`` (see ``pytest_generate_tests``)."""


@pytest.fixture(scope="module")
def host(
    request: pytest.FixtureRequest,
    host_spec: HostSpec,
    fabricplus_registry: ConnectionRegistry,
    _fabricplus_uses_host: None,
) -> Any:
    """testinfra's ``Host`` (module scope, as in testinfra), parametrized like ``connection``.

    An SSH host's commands run on the same connection as ``connection`` (one per host for
    the whole run); with ``--sudo`` / ``--sudo-user`` (or ``?sudo=true`` in its spec) each
    goes through sudo with the login user's sudo password. A host that is not SSH
    (``local://``, ``docker://``, ...) is testinfra's own backend for it.
    """
    settings = run_state(request.config).settings
    sudo, sudo_user = urls.sudo_of(host_spec, settings.sudo, settings.sudo_user)
    try:
        from ..integrations.testinfra import backend_host
        from ..integrations.testinfra import testinfra_host as host_for
    except ImportError as exc:
        if not _is_testinfra(exc):
            raise
        missing = MISSING_TESTINFRA.replace("testinfra_host", "host") + f" ({exc.__cause__ or exc})"
    else:
        missing = ""
    if missing:
        pytest.fail(missing, pytrace=False)
    if host_spec.transport != "ssh":  # testinfra's own backend for it
        return backend_host(urls.testinfra_spec(host_spec), sudo, sudo_user)
    try:
        conn = fabricplus_registry.get(host_spec)
    except HostUnreachable as exc:
        if settings.skip_unreachable:
            pytest.skip(f"{exc} (--skip-unreachable)")
        pytest.fail(str(exc), pytrace=False)
    return host_for(
        conn,
        sudo=sudo,
        sudo_user=sudo_user if sudo else None,
        ansible=ansible_host(request.config, host_spec),
    )


#: the connection whose user :func:`switch_host_user` set for an item (reset at its teardown)
SWITCHED_KEY = pytest.StashKey["FabricPlusConnection"]()


def switch_host_user(item: pytest.Item, spec: HostSpec, state: RunState) -> None:
    """Under ``@pytest.mark.su_user``, the module-scoped ``host``'s commands run as that user
    for the test's call, as ``connection``'s and ``testinfra_host``'s do; the item's teardown
    (:func:`restore_host_user`) gives the login user back. Called once the item's fixtures are
    set up: ``host`` and the module fixtures that use it were made as the login user, and
    ``host`` stays the module's object (testinfra's per-``Host`` caches, e.g. which command
    it found on the ``PATH``, are the login user's; ``testinfra_host`` gives each user a
    ``Host`` of its own). A hook, not an autouse fixture: nothing for the items without
    ``host`` to pay, nothing in their ``--setup-show``."""
    if USES_HOST not in getattr(item, "fixturenames", ()):
        return
    if run_as_request(item) is None:
        return
    if spec.transport != "ssh":
        return  # testinfra's own backend: no su_user there
    conn = state.registry.get(spec)  # open: the ``host`` fixture used it
    if conn.run_as is not None:  # the ``connection`` fixture did it, and undoes it
        return
    conn.remember_state()
    _set_run_as(conn, item, state.registry)
    item.stash[SWITCHED_KEY] = conn


def restore_host_user(item: pytest.Item) -> None:
    conn = item.stash.get(SWITCHED_KEY, None)
    if conn is not None:
        del item.stash[SWITCHED_KEY]
        conn.reset()


class TestinfraHosts:
    """The modules' ``testinfra_hosts``, resolved once per module, and what to say about
    hosts that testinfra's own backends run."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self) -> None:
        self._modules: dict[str, list[HostSpec] | None] = {}
        self._made = ModuleHosts()
        self._announced: set[str] = set()
        self._seen: dict[str, HostSpec] = {}

    def seen(self, specs: list[HostSpec]) -> None:
        """Hosts collection parametrized tests with (announced after collection)."""
        for spec in specs:
            self._seen.setdefault(spec.id, spec)

    def module_hosts(self, module: Any, state: RunState) -> list[HostSpec] | None:
        """``None``: the module has no ``testinfra_hosts``, or ``--hosts`` lists hosts
        (testinfra's rule: then ``--hosts`` wins)."""
        name = getattr(module, "__name__", "")
        if name in self._modules:
            return self._modules[name]
        entries = getattr(module, "testinfra_hosts", None)
        hosts = state.settings.hosts
        result: list[HostSpec] | None = None
        if entries is not None and (hosts is None or looks_like_path(hosts)):
            where = str(getattr(module, "__file__", name))
            try:
                result = self._made.resolve(
                    entries, where, state.inventory, state.selected, state.settings.connection
                )
            except FabricPlusError as exc:
                raise pytest.Collector.CollectError(str(exc)) from None
        self._modules[name] = result
        return result

    def _not_ssh(self, specs: list[HostSpec]) -> list[str]:
        lines = []
        fresh = [s for s in specs if s.transport != "ssh" and s.id not in self._announced]
        by_transport: dict[str, list[str]] = {}
        for spec in fresh:
            by_transport.setdefault(spec.transport, []).append(spec.id)
            self._announced.add(spec.id)
        for transport, ids in sorted(by_transport.items()):
            n = len(ids)
            lines.append(
                f"fabricplus: {n} host{'s' if n > 1 else ''} run{'s' if n == 1 else ''} "
                f"through testinfra's {transport} backend: {', '.join(ids)}"
            )
        return lines

    def header(self, state: RunState) -> list[str]:
        lines = self._not_ssh(state.selected)
        for spec in state.selected:
            ignored = urls.ignored_keys(spec)
            if ignored:
                lines.append(
                    f"fabricplus: warning: {spec.id}: testinfra spec option(s) "
                    f"{', '.join(ignored)} not honoured here"
                    + (
                        " (controlpersist: one connection per host is kept anyway)"
                        if "controlpersist" in ignored
                        else ""
                    )
                )
        settings = state.settings
        if settings.sudo_user and not settings.sudo:
            lines.append("fabricplus: --sudo-user has no effect without --sudo (as in testinfra)")
        return lines

    def late_header(self) -> list[str]:
        """The same for hosts only ``testinfra_hosts`` (or the local default) brought in."""
        unique = dict(self._seen)
        return self._not_ssh(list(unique.values()))


# ---------------------------------------------------------------------------------------
# --nagios: testinfra's one-line status first, its exit codes
# ---------------------------------------------------------------------------------------


class _HeldOutput:
    """A text stream that keeps what is written until :meth:`release`, then writes through."""

    encoding = "utf-8"

    def __init__(self, target: Any) -> None:
        self._target = target
        self._held: list[str] | None = []

    def write(self, text: str) -> int:
        if self._held is None:
            return int(self._target.write(text))
        self._held.append(text)
        return len(text)

    def flush(self) -> None:
        if self._held is None:
            self._target.flush()

    def isatty(self) -> bool:
        return False

    def release(self) -> None:
        held, self._held = self._held or [], None
        self._target.write("".join(held))
        self._target.flush()


class NagiosStatus:
    """``--nagios``, as testinfra's plugin reads it.

    Counted from the reports: a test passes when its call passes; every failed report
    (setup, call or teardown) is a failure; every skipped report a skip. Any failure is
    ``CRITICAL`` (exit status 2), else ``OK`` (0) -- also after a collection error, which
    testinfra does not count either; a usage or internal error (the run could not start)
    is ``UNKNOWN`` (3), which testinfra never prints. The line
    ``TESTINFRA OK - 1 passed, 0 failed, 0 skipped in 0.12 seconds`` (or
    ``TESTINFRA UNKNOWN - usage error: REASON``) comes first, then
    pytest's own output (testinfra drops the summary after the progress lines; we keep it).
    """

    def __init__(self, out: _HeldOutput) -> None:
        self.passed = self.failed = self.skipped = 0
        self.started = time.time()
        self.out = out
        self.session: pytest.Session | None = None
        self.reported = False
        #: why the run could not start (a usage error), shown in the UNKNOWN line
        self.reason: str | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.passed:
            if report.when == "call":
                self.passed += 1
        elif report.failed:
            self.failed += 1
        elif report.skipped:
            self.skipped += 1

    def status(self, exitstatus: int = 0) -> tuple[str, int]:
        word, code = ("CRITICAL", 2) if self.failed else ("OK", 0)
        if exitstatus in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
            # a bad option / inventory stops the run before any test (testinfra's own
            # errors stop it before its line is written): Nagios' "could not check"
            word, code = "UNKNOWN", 3
            if self.reason is not None:  # Nagios shows the first line: say why
                return f"TESTINFRA UNKNOWN - usage error: {one_line(self.reason)}", code
        line = (
            f"TESTINFRA {word} - {self.passed} passed, {self.failed} failed, "
            f"{self.skipped} skipped in {time.time() - self.started:.2f} seconds"
        )
        return line, code

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> Generator[None, None, None]:
        self.session = session  # before our session start, which may stop the run
        try:
            return (yield)
        except pytest.UsageError as exc:
            self.reason = str(exc)
            # pytest would exit 4, which Nagios does not know: UNKNOWN (3), the line is
            # written at unconfigure (pytest calls no pytest_sessionfinish after this)
            pytest.exit(f"usage error: {exc}", returncode=3)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self._report(session, int(session.exitstatus))

    def pytest_unconfigure(self) -> None:
        # a usage error in session start: pytest calls no pytest_sessionfinish, but returns
        # session.exitstatus after unconfiguring
        if not self.reported and self.session is not None:
            self._report(self.session, int(pytest.ExitCode.USAGE_ERROR))

    def _report(self, session: pytest.Session, exitstatus: int) -> None:
        self.reported = True
        line, code = self.status(exitstatus)
        stdout = sys.stdout
        stdout.write(line + "\n")
        stdout.flush()
        self.out.release()
        session.exitstatus = code


def start_nagios(config: pytest.Config) -> None:
    """Swap the terminal reporter for one whose output waits behind the status line."""
    from _pytest.terminal import TerminalReporter  # pytest's own class, as testinfra does

    old = config.pluginmanager.get_plugin("terminalreporter")
    out = _HeldOutput(sys.stdout)
    if old is not None:
        config.pluginmanager.unregister(old)
        config.pluginmanager.register(TerminalReporter(config, out), "terminalreporter")  # type: ignore[arg-type]
    config.pluginmanager.register(NagiosStatus(out), NAGIOS_PLUGIN)


NAGIOS_PLUGIN = "fabricplus-nagios"
