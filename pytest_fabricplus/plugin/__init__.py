"""The pytest plugin (the ``pytest11`` entry point): hooks that delegate to the core.

Everything that imports pytest lives in this sub-package: options (``options``), markers
(``markers``), fixtures (``fixtures``, and the integrations' in ``docker`` and
``testinfra``), per-host reporting (``reporting``), xdist host affinity (``xdist``) and the
session machinery (``session``), which holds every side effect and starts them in
``pytest_sessionstart``. testinfra's ``host`` fixture and spellings come with the drop-in
(``-p pytest_fabricplus.testinfra_dropin``, ``dropin``), never by default.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from . import dropin, markers, options
from .docker import docker_targets
from .fixtures import (
    connection,
    fabricplus_registry,
    host_pool,
    host_spec,
    run_as,
    run_state,
)
from .session import PLUGIN_NAME, XDIST_PLUGIN, FabricPlusSession
from .testinfra import start_nagios, testinfra_host
from .xdist import XdistHooks, auto_workers

__all__ = [
    "connection",
    "docker_targets",
    "fabricplus_registry",
    "host_pool",
    "host_spec",
    "run_as",
    "run_state",
    "testinfra_host",
]


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    options.addoptions(parser, pluginmanager)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser
) -> Generator[None, None, None]:
    """Every ``-p`` has been read: a drop-in turned off again is undone. After the initial
    conftests registered their options: our flags, aliases only where free."""
    dropin.undo_if_turned_off(early_config.pluginmanager)
    try:
        return (yield)
    finally:
        options.add_flags_late(early_config, parser)


@pytest.hookimpl(trylast=True)  # after the terminal reporter is registered
def pytest_configure(config: pytest.Config) -> None:
    markers.register(config)
    if options.nagios_requested(config) and not hasattr(config, "workerinput"):
        start_nagios(config)
    config.pluginmanager.register(FabricPlusSession(config), PLUGIN_NAME)
    if config.pluginmanager.has_plugin("xdist"):
        config.pluginmanager.register(XdistHooks(config), XDIST_PLUGIN)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto`` with hosts: several workers per core (checks wait on the network)."""
    return auto_workers(config)
