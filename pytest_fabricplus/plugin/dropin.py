"""The testinfra drop-in: pytest-fabricplus in pytest-testinfra's place, only when asked for.

Turned on with ``-p pytest_fabricplus.testinfra_dropin`` -- on the command line, in the ini file's
``addopts`` or in ``PYTEST_ADDOPTS`` -- and off again with
``-p no:pytest_fabricplus.testinfra_dropin``. A ``-p`` plugin is loaded before any entry-point
plugin, so this one can block pytest-testinfra's plugin before it registers anything: its
spellings (``--hosts``, ``--connection``, ``--ssh-config``, ``--sudo``, ``--nagios``, ...)
are then free and become our options' aliases, and its ``host`` fixture is ours (module
scope, ``testinfra_hosts``, ``--sudo``/``--sudo-user``, the local machine without hosts).
The header says so. Without it nothing is blocked: pytest-testinfra's plugin, where
installed, works as it does without us.

Why ``-p`` and not an ini/env switch of our own: pytest loads entry-point plugins in an
order no plugin controls, so a switch we read could come after pytest-testinfra had
registered its options -- taking them back would mean stripping another plugin's options.
``-p`` is read before every entry point, and ``addopts`` / ``PYTEST_ADDOPTS`` already make
it an ini or environment switch.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util

import pytest

from ..settings import TESTINFRA_FLAGS

#: the name ``-p`` registers this plugin under (the module users name)
PLUGIN_NAME = "pytest_fabricplus.testinfra_dropin"
#: pytest-testinfra's plugin: its entry point's name, and its module (``-p testinfra.plugin``)
TESTINFRA_PLUGINS = ("pytest11.testinfra", "testinfra.plugin")
#: our main plugin (the ``pytest11`` entry point's name)
MAIN_PLUGIN = "fabricplus"
FIXTURES_PLUGIN = "fabricplus-testinfra-fixtures"
LOADED_LATE = (
    "the testinfra drop-in was loaded after pytest-testinfra's plugin ({name}): load it with "
    "-p pytest_fabricplus.testinfra_dropin (command line, addopts or PYTEST_ADDOPTS), not from a "
    "conftest's pytest_plugins"
)


def active(pluginmanager: pytest.PytestPluginManager) -> bool:
    """Whether the drop-in is on in this run."""
    return pluginmanager.get_plugin(FIXTURES_PLUGIN) is not None


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Runs when ``-p`` registers this module, before the entry-point plugins load."""
    if pluginmanager.is_blocked(MAIN_PLUGIN):
        return  # -p no:fabricplus: the user turned us off; testinfra keeps its plugin
    for name in TESTINFRA_PLUGINS:
        if pluginmanager.get_plugin(name) is not None:
            raise pytest.UsageError(LOADED_LATE.format(name=name))
        pluginmanager.set_blocked(name)
    from . import dropin_fixtures

    pluginmanager.register(dropin_fixtures, FIXTURES_PLUGIN)


def undo_if_turned_off(pluginmanager: pytest.PytestPluginManager) -> None:
    """``-p no:pytest_fabricplus.testinfra_dropin`` after a ``-p`` that loaded it (``addopts``
    or ``PYTEST_ADDOPTS`` on, the command line off): pytest unregisters the module, we take
    back what it did -- its fixtures, and the block on pytest-testinfra's plugin, which is
    then loaded as pytest would have loaded it. Called once every ``-p`` was read."""
    fixtures = pluginmanager.get_plugin(FIXTURES_PLUGIN)
    if fixtures is None or pluginmanager.get_plugin(PLUGIN_NAME) is not None:
        return
    pluginmanager.unregister(fixtures, FIXTURES_PLUGIN)
    unblock = getattr(pluginmanager, "unblock", None)  # pluggy >= 1.4
    if unblock is not None:
        unblock(TESTINFRA_PLUGINS[1])
    if importlib.metadata.entry_points(group="pytest11", name=TESTINFRA_PLUGINS[0]):
        # what ``-p pytest11.testinfra`` does: unblock, load the entry point
        pluginmanager.consider_pluginarg(TESTINFRA_PLUGINS[0])


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not active(config.pluginmanager):
        return []
    try:
        installed = importlib.util.find_spec("testinfra") is not None
    except ImportError:  # a finder that refuses it outright: as good as not installed
        installed = False
    blocked = (
        "pytest-testinfra's plugin is blocked" if installed else "pytest-testinfra is not installed"
    )
    from .options import TAKEN_KEY

    taken = config.stash.get(TAKEN_KEY, {})
    ours = [flag for flag in TESTINFRA_FLAGS if flag not in taken]
    return [
        f"fabricplus: testinfra drop-in (-p {PLUGIN_NAME}): {blocked}; host fixture and "
        f"{', '.join(ours) or 'no testinfra flag'} are pytest-fabricplus's"
    ]
