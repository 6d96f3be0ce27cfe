"""pytest hooks of pytest-fabricplus; each delegates to the core modules."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
from pathlib import Path

import pytest

from . import options
from .errors import FabricPlusError
from .fixtures import (
    STATE_KEY,
    connection,
    docker_targets,
    fabricplus_registry,
    host_pool,
    host_spec,
    hosts_for,
    run_as,
    run_state,
)
from .hostspec import HostSpec
from .preflight import plan, preflight, worker_ids
from .reporting import ADDRESS_PROPERTY, HOST_PROPERTY, HostReporter, redactor
from .runas import SuUserRequest
from .selection import describe_choices, unmatched
from .state import RunState
from .testinfra_fixtures import testinfra_host
from .xdist_support import AFFINITY_KEY, XdistHooks

__all__ = [
    "connection",
    "docker_targets",
    "fabricplus_registry",
    "host_pool",
    "host_spec",
    "run_as",
    "testinfra_host",
]
_KNOWN_HOSTS_KEY = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    options.addoptions(parser, pluginmanager)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "su_user(name, method='auto'|'su'|'sudo', password_env=None, login=True): run this "
        "test's connection.run() commands as another user",
    )
    config.addinivalue_line(
        "markers",
        "hosts(*patterns): run this test only on inventory hosts matching a group, tag:NAME, "
        "alias or host glob",
    )
    settings = options.read_settings(config)
    extra: list[HostSpec] = []
    source = ""
    if settings.docker_targets:
        # the Docker side (containers.py, the docker SDK) loads only when asked for
        from .docker_plugin import SOURCE, DockerTargetsPlugin

        source = SOURCE
        docker = DockerTargetsPlugin(config, settings.docker_targets, settings.docker_targets_keep)
        config.pluginmanager.register(docker, "fabricplus-docker")
        docker.start()
        extra = docker.host_specs()
        known = config.stash.setdefault(_KNOWN_HOSTS_KEY, docker.known_hosts_file() or "")
        if not known:  # an xdist worker: write the verified keys it received
            known = str(_write_known_hosts(config, docker.known_hosts_lines()))
        settings = dataclasses.replace(settings, extra_known_hosts=(known,))
    try:
        config.stash[STATE_KEY] = RunState.build(settings, extra_hosts=extra, extra_source=source)
    except FabricPlusError as exc:
        raise pytest.UsageError(str(exc)) from None
    state = config.stash[STATE_KEY]
    if not hasattr(config, "workerinput"):  # the xdist controller, or a run without xdist
        config.pluginmanager.register(
            HostReporter(
                redactor(state.secret_values()),
                state.settings.report,
                {"inventory": state.source, "selected": [h.id for h in state.selected]},
            ),
            "fabricplus-reporter",
        )
    if config.pluginmanager.has_plugin("xdist") and state.has_hosts:
        config.pluginmanager.register(
            XdistHooks(config, [h.id for h in state.selected]), "fabricplus-xdist"
        )


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [run_state(config).header()]
    docker = config.pluginmanager.get_plugin("fabricplus-docker")
    if docker is not None:
        lines.append(docker.header())
    return lines


def _write_known_hosts(config: pytest.Config, lines: list[str]) -> Path:
    fd, name = tempfile.mkstemp(prefix="fabricplus-known_hosts-")
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(line + "\n" for line in lines))
    config.add_cleanup(lambda: Path(name).unlink(missing_ok=True))
    return Path(name)


def _check_hosts_marker(metafunc: pytest.Metafunc, state: RunState) -> None:
    """``@pytest.mark.hosts`` arguments must be strings that name something in the inventory."""
    marker = metafunc.definition.get_closest_marker("hosts")
    if marker is None or not state.has_hosts:
        return
    if marker.kwargs or not marker.args or not all(isinstance(a, str) for a in marker.args):
        raise pytest.Collector.CollectError(
            f"{metafunc.definition.nodeid}: @pytest.mark.hosts takes group, tag:NAME or host "
            f"patterns as strings, got args={marker.args!r} kwargs={marker.kwargs!r}"
        )
    bad = unmatched(state.inventory, marker.args)
    if bad:
        raise pytest.Collector.CollectError(
            f"{metafunc.definition.nodeid}: @pytest.mark.hosts({', '.join(map(repr, bad))}) "
            f"matches no host in {state.source}; {describe_choices(state.inventory)}"
        )


def _check_su_user(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("su_user")
    if marker is None:
        return
    where = f"{metafunc.definition.nodeid}: @pytest.mark.su_user"
    try:
        wanted = SuUserRequest.parse(marker.args, marker.kwargs)
    except ValueError as exc:
        raise pytest.Collector.CollectError(f"{where} {exc}") from None
    if wanted.password_env and wanted.password_env not in os.environ:
        raise pytest.Collector.CollectError(
            f"{where}: environment variable {wanted.password_env} (the su password for "
            f"{wanted.user}) is not set"
        )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    _check_su_user(metafunc)
    _check_hosts_marker(metafunc, run_state(metafunc.config))
    if "host_spec" not in metafunc.fixturenames:
        return
    state = run_state(metafunc.config)
    if not state.has_hosts:
        return  # the host_spec fixture skips, saying how to pass hosts
    specs = hosts_for(metafunc.definition, state)
    if not specs:
        marker = metafunc.definition.get_closest_marker("hosts")
        args = tuple(marker.args) if marker else ()
        why = f"no selected host matches @pytest.mark.hosts{args!r} (--hosts-limit, --hosts-shard)"
        skip = pytest.param(None, marks=pytest.mark.skip(reason=why), id="no-matching-host")
        metafunc.parametrize("host_spec", [skip])
        return
    metafunc.parametrize("host_spec", specs, ids=[s.id for s in specs])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    callspec = getattr(item, "callspec", None)
    spec = callspec.params.get("host_spec") if callspec else None
    if isinstance(spec, HostSpec):
        item.user_properties.append((HOST_PROPERTY, spec.id))
        item.user_properties.append((ADDRESS_PROPERTY, str(spec.address)))


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> object:
    """Pre-flight: open this process's hosts concurrently at the start of the test loop.

    With a terminal (no xdist) it blocks and shows progress; an xdist worker (no terminal)
    runs it in the background, so its first test starts as soon as *its* host is open
    (``registry.get`` waits on that host's lock).
    """
    state = run_state(session.config)
    if not state.has_hosts or session.config.option.collectonly or not session.items:
        return (yield)
    hosts = preflight_hosts(session, state)
    limit = state.settings.max_connections
    if hasattr(session.config, "workerinput"):
        worker = threading.Thread(
            target=preflight, args=(state.registry, hosts, limit), name="fabricplus-preflight"
        )
        worker.start()
        try:
            return (yield)
        finally:  # every host was used by now; bounded anyway
            worker.join(state.settings.connect_timeout + 5)
    writer = session.config.get_terminal_writer()

    def progress(done: int, total: int) -> None:
        if writer.hasmarkup:
            writer.write(f"\rfabricplus: connecting {done}/{total} hosts...", flush=True)

    report = preflight(state.registry, hosts, limit, progress)
    if hosts:
        writer.write("\r" if writer.hasmarkup else "")
        writer.line(f"fabricplus: {report.summary()}")
    return (yield)


def preflight_hosts(session: pytest.Session, state: RunState) -> list[HostSpec]:
    """Hosts whose items this process will run (its share of the plan under xdist)."""
    workerinput = getattr(session.config, "workerinput", None)
    items = session.items
    if workerinput is not None and workerinput.get(AFFINITY_KEY):
        ids = [h.id for h in state.selected]
        mine = plan([i.nodeid for i in items], ids, worker_ids(int(workerinput["workercount"])))
        items = [items[i] for i in mine.get(workerinput["workerid"], [])]
    wanted: dict[str, HostSpec] = {}
    for item in items:
        callspec = getattr(item, "callspec", None)
        spec = callspec.params.get("host_spec") if callspec else None
        if isinstance(spec, HostSpec):
            wanted.setdefault(spec.id, spec)
    return [wanted[k] for k in sorted(wanted)]


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        state.close()
    docker = config.pluginmanager.get_plugin("fabricplus-docker")
    if docker is not None:
        docker.close()
