"""``FabricPlusSession``: the plugin's machinery for one pytest process (as xdist's DSession).

Registered at configure time, where it does nothing else: ``pytest --help``, ``--version``
and ``--markers`` touch no file, network or container. Its ``pytest_sessionstart`` (first,
before xdist starts its workers and before collection) reads the settings and inventory,
starts the ``--docker-targets`` (the controller; workers receive them through
``workerinput``; ``--collect-only`` starts nothing), and builds the process's
:class:`~pytest_fabricplus.fleet.state.RunState`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import Literal

import pytest

from ..errors import FabricPlusError
from ..fleet import limits as open_files
from ..fleet.interrupt import STOP_BOUND, InterruptGuard
from ..fleet.preflight import WORKER_PREFLIGHT_THREADS, preflight
from ..fleet.state import RunState
from ..hosts.spec import HostSpec
from ..secrets import RedactingFilter
from ..settings import OUTPUT_OPTIONS, Settings, check_output_paths
from . import fleetmode, markers, options
from .compliance import PLUGIN_NAME as COMPLIANCE_PLUGIN
from .compliance import CompliancePlugin
from .fixtures import STATE_KEY, hosts_for
from .reporting import ADDRESS_PROPERTY, HOST_PROPERTY, HostReporter, item_host, redact_report
from .testinfra import (
    LOCAL_SPEC,
    USES_HOST,
    TestinfraHosts,
    restore_host_user,
    switch_host_user,
)
from .xdist import AFFINITY_KEY, XdistHooks, forwarded_secrets, plan, worker_ids

PLUGIN_NAME = "fabricplus-session"
XDIST_PLUGIN = "fabricplus-xdist"
DOCKER_PLUGIN = "fabricplus-docker"


def _only_listing(config: pytest.Config) -> bool:
    """``--collect-only``, ``--fixtures``, ``--fixtures-per-test``: nothing runs, nothing starts."""
    option = config.option
    return bool(
        getattr(option, "collectonly", False)
        or getattr(option, "showfixtures", False)
        or getattr(option, "show_fixtures_per_test", False)
    )


def in_use(state: RunState) -> bool:
    """The run configures something of ours: hosts (``--hosts``, ``--ansible-inventory``,
    ini, environment), ``--docker-targets``, a report or a compliance option. Otherwise the
    plugin stays quiet: no header line, no compliance plugin, nothing written -- the output
    is the output without the plugin. (A test that asks for ``connection``, ``host_spec``
    or ``host_pool`` in such a run errors saying how to pass hosts.)"""
    s = state.settings
    asked = (s.waivers, s.compliance_baseline, s.compliance_fail_under)
    return (
        state.has_hosts
        or bool(s.docker_targets)
        or any(getattr(s, name) for name in OUTPUT_OPTIONS)
        or any(a is not None for a in asked)
    )


class FabricPlusSession:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.state: RunState | None = None
        self._log_filter: RedactingFilter | None = None
        self.testinfra = TestinfraHosts()
        self._guard: InterruptGuard | None = None
        self.fleet: fleetmode.FleetMode | None = None
        #: the run configures hosts, Docker targets or a compliance/report option
        self.in_use = False

    # -- session start: every side effect of the plugin begins here ------------------------
    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        config = self.config
        settings = options.read_settings(config)
        if (
            settings.hosts or settings.ansible_inventory or settings.docker_targets
        ) and not _only_listing(config):
            # before the containers start: Ctrl-C/SIGTERM from here on stop cleanly
            self._guard = InterruptGuard(self._on_signal)
            self._guard.install()
        extra: list[HostSpec] = []
        # an xdist worker: the password variables the controller read for it (not in this
        # process's environment on a remote worker, and never put there)
        extra_env: dict[str, str] = forwarded_secrets(config)
        source = ""
        if settings.docker_targets:
            settings, extra, docker_env, source = self._docker(settings)
            extra_env.update(docker_env)
        try:
            if not hasattr(config, "workerinput"):  # reports are written by the controller
                check_output_paths(settings)
            state = RunState.build(
                settings, extra_hosts=extra, extra_source=source, extra_env=extra_env
            )
        except FabricPlusError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.state = config.stash[STATE_KEY] = state
        self._redact_logs(state)
        self.in_use = in_use(state)
        if self.in_use:  # a run that configures nothing of ours: no compliance hook work
            config.pluginmanager.register(CompliancePlugin(config, state), COMPLIANCE_PLUGIN)
        if not hasattr(config, "workerinput"):  # the xdist controller, or a run without xdist
            taken = options.taken_warning(config) if self.in_use else None
            for warning in [*state.warnings, *([taken] if taken else [])]:  # said once
                try:
                    config.issue_config_time_warning(
                        pytest.PytestConfigWarning(warning), stacklevel=2
                    )
                except pytest.PytestConfigWarning:  # -W error: a usage error, not INTERNALERROR
                    raise pytest.UsageError(
                        f"{warning} (warnings are errors in this run)"
                    ) from None
            config.pluginmanager.register(
                HostReporter(
                    state.secrets.redact,
                    state.settings.report,
                    {"inventory": state.source, "selected": [h.id for h in state.selected]},
                ),
                "fabricplus-reporter",
            )
        self.fleet = fleetmode.register(config, state) if state.has_hosts else None
        xdist_hooks = config.pluginmanager.get_plugin(XDIST_PLUGIN)
        if isinstance(xdist_hooks, XdistHooks) and state.has_hosts:
            xdist_hooks.set_hosts(
                [h.id for h in state.selected], state.worker_secrets(), state.secrets.redact
            )

    def _on_signal(self, signum: int) -> None:
        """SIGINT/SIGTERM (in the guard's thread): xdist workers first -- they kill their own
        commands -- then this process's commands and connections."""
        xdist_hooks = self.config.pluginmanager.get_plugin(XDIST_PLUGIN)
        if isinstance(xdist_hooks, XdistHooks):
            xdist_hooks.signal_workers(signal.SIGINT)
        state = self.state
        if state is not None:
            state.interrupt()

    def _docker(self, settings: Settings) -> tuple[Settings, list[HostSpec], dict[str, str], str]:
        # the Docker side (docker SDK, image builds) loads only when asked for
        from .docker import SOURCE, DockerTargetsPlugin

        kinds = settings.docker_targets or ()
        docker = DockerTargetsPlugin(self.config, kinds, settings.docker_targets_keep)
        self.config.pluginmanager.register(docker, DOCKER_PLUGIN)
        if _only_listing(self.config):  # ids are known without any container
            return settings, docker.placeholder_specs(), {}, SOURCE
        docker.start()
        known = docker.known_hosts_file()
        if not known:  # an xdist worker: write the verified keys it received
            known = str(self._write_known_hosts(docker.known_hosts_lines()))
        settings = dataclasses.replace(settings, extra_known_hosts=(known,))
        return settings, docker.host_specs(), docker.secret_env(), SOURCE

    def _write_known_hosts(self, lines: list[str]) -> Path:
        fd, name = tempfile.mkstemp(prefix="fabricplus-known_hosts-")
        with os.fdopen(fd, "w") as handle:
            handle.write("".join(line + "\n" for line in lines))
        self.config.add_cleanup(lambda: Path(name).unlink(missing_ok=True))
        return Path(name)

    def _redact_logs(self, state: RunState) -> None:
        """Log records lose the run's secrets before any handler formats them."""
        self._log_filter = RedactingFilter(state.secrets)
        logging_plugin = self.config.pluginmanager.get_plugin("logging-plugin")
        for name in ("caplog_handler", "report_handler", "log_file_handler", "log_cli_handler"):
            handler = getattr(logging_plugin, name, None)
            if isinstance(handler, logging.Handler):
                handler.addFilter(self._log_filter)

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        if self.state is None:
            return []
        lines = [*self.testinfra.header(self.state)]
        if self.in_use:  # quiet in a run that configures nothing of ours
            lines[:0] = self.state.header_lines()
        from ..ssh.sshconfig import fallback_note

        note = fallback_note(None, self.state.settings.ssh_config)
        if note is not None and self.state.has_hosts:
            lines.append(f"fabricplus: {note}")
        if self.fleet is not None and not hasattr(config, "workerinput"):
            lines.append(f"fabricplus: {self.fleet.header()}")
        docker = config.pluginmanager.get_plugin(DOCKER_PLUGIN)
        if docker is not None:
            lines.append(docker.header())
        return lines

    # -- collection ---------------------------------------------------------------------
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        state = self.state
        if state is None:
            return
        markers.check_su_user(metafunc.definition, state)
        markers.check_hosts(metafunc.definition, state)
        if "host_spec" not in metafunc.fixturenames:
            return
        # testinfra's ``host`` is module-scoped: so is the host parameter of its tests (the
        # items of one host run together); tests without it keep their order and ids
        module_scope = USES_HOST in metafunc.fixturenames
        module_hosts = self.testinfra.module_hosts(metafunc.module, state)
        if module_hosts is None and not state.has_hosts:
            if not module_scope:
                return  # without hosts, the host_spec fixture skips saying how to pass them
            module_hosts = [LOCAL_SPEC]  # testinfra without hosts: the local machine
        scope: Literal["module"] | None = "module" if module_scope else None
        specs = hosts_for(metafunc.definition, state, module_hosts)
        if not specs:
            marker = metafunc.definition.get_closest_marker("hosts")
            args = tuple(marker.args) if marker else ()
            why = (
                f"no selected host matches @pytest.mark.hosts{args!r} "
                "(--hosts-limit, --hosts-shard)"
            )
            if module_hosts is not None and not args:
                why = f"testinfra_hosts of {metafunc.module.__name__} selects no host"
            skip = pytest.param(None, marks=pytest.mark.skip(reason=why), id="no-matching-host")
            metafunc.parametrize("host_spec", [skip], scope=scope)
            return
        self.testinfra.seen(specs)
        metafunc.parametrize("host_spec", specs, ids=[s.id for s in specs], scope=scope)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.state is None or hasattr(session.config, "workerinput"):
            return
        lines = self.testinfra.late_header()
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if lines and reporter is not None:
            for line in lines:
                reporter.write_line(line)

    # -- running ------------------------------------------------------------------------
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Generator[None, None, None]:
        spec = item_host(item)
        if spec is not None:
            item.user_properties.append((HOST_PROPERTY, spec.id))
            item.user_properties.append((ADDRESS_PROPERTY, str(spec.address)))
        yield  # the fixtures (raises if one failed: then nothing to switch)
        if spec is not None and self.state is not None:
            switch_host_user(item, spec, self.state)  # su_user for the module-scoped ``host``

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        restore_host_user(item)  # before the fixtures' finalizers

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, object, object]:
        result = yield
        guard = self._guard
        if guard is not None and guard.signalled:
            # The signal's KeyboardInterrupt can be lost: Python runs the handler wherever
            # the main thread is, also in a __del__ (paramiko's Channel closes itself there),
            # whose exceptions are only printed. The test then ended on its killed command;
            # the run stops here instead of going on with the next one.
            raise KeyboardInterrupt("the run was interrupted (SIGINT/SIGTERM)")
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if self.state is not None:
            redact_report(report, self.state.secrets)
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        """Pre-flight: open this process's hosts concurrently at the start of the test loop.

        With a terminal (no xdist) it blocks and shows progress; an xdist worker (no
        terminal) runs it in the background, so its first test starts as soon as *its* host
        is open (``registry.get`` waits on that host's lock).
        """
        state = self.state
        if state is None or not state.has_hosts or session.config.option.collectonly:
            return (yield)
        if not getattr(session, "items", None):  # the xdist controller collects nothing
            return (yield)
        hosts = self.preflight_hosts(session, state)
        limit = state.settings.preflight_limit
        files = open_files.ensure(open_files.needed(len(hosts)), len(hosts))
        if hasattr(session.config, "workerinput"):
            # In the order of this worker's items, 8 handshakes at a time (hosts that
            # hang do not count): its first test waits for its own host only, not for
            # every handshake of the worker sharing the CPU.
            worker = threading.Thread(
                target=preflight,
                args=(state.registry, hosts, limit),
                kwargs={"fresh": WORKER_PREFLIGHT_THREADS},
                name="fabricplus-preflight",
            )
            worker.start()
            bound = state.settings.connect_timeout + 5
            try:
                return (yield)
            except (KeyboardInterrupt, SystemExit):
                state.interrupt()  # handshakes under way end now (the guard did it already)
                bound = STOP_BOUND
                raise
            finally:  # every host was used by now; bounded anyway
                until = time.monotonic() + bound
                while worker.is_alive() and time.monotonic() < until:
                    worker.join(0.2)  # in steps: a signal's handler runs when this thread wakes
        writer = session.config.get_terminal_writer()

        def progress(done: int, total: int) -> None:
            if writer.hasmarkup:
                writer.write(f"\rfabricplus: connecting {done}/{total} hosts...", flush=True)

        if files is not None:
            writer.line(f"fabricplus: {files}")
        report = preflight(state.registry, hosts, limit, progress)
        if hosts:
            writer.write("\r" if writer.hasmarkup else "")
            writer.line(f"fabricplus: {state.secrets.redact(report.summary())}")
        return (yield)

    def preflight_hosts(self, session: pytest.Session, state: RunState) -> list[HostSpec]:
        """Hosts whose items this process will run (its share of the plan under xdist)."""
        workerinput = getattr(session.config, "workerinput", None)
        items = session.items
        if workerinput is not None and workerinput.get(AFFINITY_KEY):
            ids = [h.id for h in state.selected]
            mine = plan([i.nodeid for i in items], ids, worker_ids(int(workerinput["workercount"])))
            items = [items[i] for i in mine.get(workerinput["workerid"], [])]
        wanted: dict[str, HostSpec] = {}
        pool_items: list[pytest.Item] = []
        for item in items:
            spec = item_host(item)
            if spec is not None:
                if spec.transport == "ssh":  # others: testinfra's backends
                    wanted.setdefault(spec.id, spec)
            elif "host_pool" in getattr(item, "fixturenames", ()):
                pool_items.append(item)
        # a host_pool test drives all its hosts: open them here too, concurrently, so the
        # first such test does not pay every handshake and dead hosts are named up front
        seen_markers: set[object] = set()
        for item in pool_items:
            marker = item.get_closest_marker("hosts")
            key = None if marker is None else repr(marker.args)
            if key in seen_markers:
                continue
            seen_markers.add(key)
            for spec in hosts_for(item, state):
                if spec.transport == "ssh":
                    wanted.setdefault(spec.id, spec)
        return list(wanted.values())  # in the order of the items that use them

    # -- the end ------------------------------------------------------------------------
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # each step runs even when the one before it failed: containers are removed even
        # when closing the connections or the pool raised
        try:
            state = config.stash.get(STATE_KEY, None)
            if state is not None:
                state.close()
        finally:
            try:
                docker = config.pluginmanager.get_plugin(DOCKER_PLUGIN)
                if docker is not None:
                    docker.close()
            finally:
                if self._guard is not None:
                    self._guard.uninstall()  # the previous SIGINT/SIGTERM handlers back
                    self._guard = None
