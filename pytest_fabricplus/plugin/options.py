"""Command-line and ini options, one ``fabricplus`` group, validated where they are parsed.

Upstream behaviour worked around here:

- A value argparse's ``type`` refuses stops pytest before any plugin is configured, so
  ``--nagios`` could not print its ``TESTINFRA UNKNOWN`` line. The value is kept as
  :class:`InvalidValue` and :func:`read_settings` raises the same usage error
  (``argument --flag: why``) at session start, before anything runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..errors import FabricPlusError
from ..settings import OPTIONS, OptionSpec, Settings


class InvalidValue:
    """A command-line value its validator refused (reported by :func:`read_settings`)."""

    def __init__(self, flag: str, reason: str) -> None:
        self.message = f"argument {flag}: {reason}"

    def __repr__(self) -> str:
        return f"<InvalidValue {self.message}>"


def _argparse_type(spec: OptionSpec) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return spec.parse(text)
        except ValueError as exc:
            return InvalidValue(spec.flag, str(exc))

    convert.__name__ = spec.name
    return convert


#: pytest-testinfra's plugin name; it registers ``--hosts``, ``--ssh-config`` and
#: ``--ssh-identity-file`` too. When both are installed we take over: testinfra's plugin is
#: blocked (its modules stay usable as a library).
TESTINFRA_PLUGINS = ("pytest11.testinfra", "testinfra")  # entry point name, -p name


def take_over_testinfra(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Block testinfra's pytest plugin and drop the options it registered before us."""
    for name in TESTINFRA_PLUGINS:
        pluginmanager.set_blocked(name)  # unregisters it if it was loaded first
    ours = {spec.flag for spec in OPTIONS}
    # pytest >= 9 builds its argparse parser up front and adds each option to it at once:
    # there, testinfra's option strings are removed with argparse's own "resolve" conflict
    # handler. Older pytest builds the parser when parsing, from the groups below.
    optparser: Any = getattr(parser, "optparser", None)
    actions = getattr(optparser, "_option_string_actions", None) or {}
    taken = [(flag, actions[flag]) for flag in ours if flag in actions]
    if taken:
        optparser._handle_conflict_resolve(None, taken)
    for group in parser._groups:
        group.options = [o for o in group.options if not ours.intersection(o.names())]


def addoptions(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    take_over_testinfra(parser, pluginmanager)
    group = parser.getgroup("fabricplus", "remote hosts over SSH (pytest-fabricplus)")
    for spec in OPTIONS:
        if spec.switch:
            group.addoption(
                spec.flag,
                action="store_true",
                default=None,
                dest=f"fabricplus_{spec.name}",
                help=spec.help,
            )
        else:
            group.addoption(
                spec.flag,
                dest=f"fabricplus_{spec.name}",
                type=_argparse_type(spec),
                default=None,
                metavar=spec.metavar,
                help=spec.help,
            )
        parser.addini(spec.ini, f"default for {spec.flag}: {spec.help}", default=None)


#: ini values that name files relative to the ini file (a relative path in the ini file)
INI_RELATIVE = ("waivers",)


def read_settings(config: pytest.Config) -> Settings:
    """Resolve CLI > ini > environment > default; a bad value is a ``UsageError``."""
    cli = {spec.name: config.getoption(f"fabricplus_{spec.name}") for spec in OPTIONS}
    for value in cli.values():
        if isinstance(value, InvalidValue):
            raise pytest.UsageError(value.message)
    ini: dict[str, str] = {}
    for spec in OPTIONS:
        value = config.getini(spec.ini)
        if value:
            ini[spec.ini] = str(value)
            if spec.name in INI_RELATIVE and config.inipath is not None:
                # a file named in the ini file is found next to it, wherever pytest runs
                path = config.inipath.parent / Path(str(value)).expanduser()
                relative = os.path.relpath(path)
                ini[spec.ini] = str(path) if relative.startswith("..") else relative
    try:
        return Settings.resolve(cli, ini, os.environ)
    except FabricPlusError as exc:
        raise pytest.UsageError(str(exc)) from None


def nagios_requested(config: pytest.Config) -> bool:
    """``--nagios`` (or its ini key / variable); a bad value is reported at session start --
    with the ``TESTINFRA UNKNOWN`` line when ``--nagios`` itself could be read."""
    try:
        return read_settings(config).nagios
    except pytest.UsageError:
        pass
    spec = next(s for s in OPTIONS if s.name == "nagios")
    if config.getoption(f"fabricplus_{spec.name}"):
        return True
    for raw in (config.getini(spec.ini), os.environ.get(spec.env)):
        if raw and str(raw).strip():
            try:
                return bool(spec.parse(str(raw).strip()))
            except ValueError:
                return False
    return False
