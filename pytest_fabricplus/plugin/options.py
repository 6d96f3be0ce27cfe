"""Command-line and ini options, one ``fabricplus`` group, validated where they are parsed.

Coexistence: every option has a canonical spelling, ``--fabricplus-<name>`` (unique, always
ours), and most a short alias (``--hosts``, ``--connect-timeout``, testinfra's spellings). The
command-line flags are registered after every plugin and initial conftest has registered its
own (:func:`add_flags_late`, at the end of ``pytest_load_initial_conftests``), so an alias
that another plugin registered -- before or after us -- stays theirs: ours is not added,
nothing of theirs is removed, and one warning (:func:`taken_warning`, in runs that use us)
names the flag and its plugin. Nothing here blocks another plugin; the testinfra drop-in
(``-p pytest_fabricplus.testinfra_dropin``, :mod:`.dropin`) is the one opt-in that does.

ini keys are typed (``bool``, ``paths`` resolved against the ini file, ``args``); a
``fabricplus_hosts`` naming a file is resolved against the ini file too.

Precedence: command line > environment (``FABRICPLUS_*``) > ini > default, as pytest-django
orders ``--ds`` / ``DJANGO_SETTINGS_MODULE`` and as pytest itself puts ``PYTEST_ADDOPTS``
after ``addopts``: the ini file is the project's checked-in default, the environment is this
shell's or this CI job's choice, the command line this run's.

Upstream behaviour worked around here:

- A value argparse's ``type`` refuses stops pytest before any plugin is configured, so
  ``--nagios`` could not print its ``TESTINFRA UNKNOWN`` line. Our actions keep the value as
  :class:`InvalidValue` (naming the spelling the user typed) and :func:`read_settings`
  raises the same usage error (``argument --flag: why``) at session start.
- pytest has no public way to list the flags registered so far: :func:`registered_flags`
  reads the parser's option groups (``Parser._groups``, ``Argument.names()``), the same
  objects pytest builds its argparse parser from on every supported version.
"""

from __future__ import annotations

import argparse
import inspect
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ..errors import FabricPlusError
from ..settings import OPTIONS, OptionSpec, Settings

GROUP = "fabricplus"
GROUP_DESCRIPTION = "remote hosts over SSH (pytest-fabricplus)"
#: our aliases another plugin had registered: {alias: the option group that holds it}
TAKEN_KEY = pytest.StashKey[dict[str, str]]()


class InvalidValue:
    """A command-line value its validator refused (reported by :func:`read_settings`)."""

    def __init__(self, flag: str, reason: str) -> None:
        self.message = f"argument {flag}: {reason}"

    def __repr__(self) -> str:
        return f"<InvalidValue {self.message}>"


class _Value(argparse.Action):
    """``--flag=VALUE``: validated by the spec; a refused value is kept as :class:`InvalidValue`
    naming the spelling used."""

    def __init__(self, option_strings: Sequence[str], dest: str, spec: OptionSpec, **kw: Any):
        super().__init__(option_strings, dest, **kw)
        self.spec = spec

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        try:
            value = self.spec.parse(str(values))
        except ValueError as exc:
            value = InvalidValue(option_string or self.spec.flag, str(exc))
        setattr(namespace, self.dest, value)


class _Switch(argparse.Action):
    """A flag without a value (``store_true`` whose default stays ``None``: "not given")."""

    def __init__(self, option_strings: Sequence[str], dest: str, spec: OptionSpec, **kw: Any):
        super().__init__(option_strings, dest, nargs=0, **kw)
        self.spec = spec

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, True)


def _action(kind: type[_Value | _Switch], spec: OptionSpec) -> Any:
    def make(option_strings: Sequence[str], dest: str, **kw: Any) -> argparse.Action:
        return kind(option_strings, dest, spec=spec, **kw)

    return make


def registered_flags(parser: pytest.Parser) -> dict[str, str]:
    """Every flag registered so far, with the name of the option group holding it.

    ``parser.addoption`` (no group) puts an option in ``parser._anonymous``, which pytest
    before 9 keeps out of ``_groups``: read both, once each.
    """
    groups = {id(group): group for group in [*parser._groups, parser._anonymous]}
    return {
        name: group.name
        for group in groups.values()
        for option in group.options
        for name in option.names()
    }


def plan_flags(
    specs: Sequence[OptionSpec], taken: dict[str, str]
) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """Which spellings each spec gets, given the flags others hold already (pure).

    Returns ``({name: flags}, {alias: group})``: a spec whose canonical flag is registered
    already (ours, from an earlier call) is left out; an alias someone else holds is dropped
    and reported.
    """
    plan: dict[str, tuple[str, ...]] = {}
    lost: dict[str, str] = {}
    for spec in specs:
        if spec.flag in taken:
            continue
        flags = [spec.flag]
        if spec.alias is not None:
            if spec.alias in taken:
                lost[spec.alias] = taken[spec.alias]
            else:
                flags.append(spec.alias)
        plan[spec.name] = tuple(flags)
    return plan, lost


def _add_flags(parser: pytest.Parser) -> dict[str, str]:
    """Register the command-line flags that are not registered yet; return the aliases lost."""
    group = parser.getgroup(GROUP, GROUP_DESCRIPTION)
    plan, lost = plan_flags(OPTIONS, registered_flags(parser))
    for spec in OPTIONS:
        flags = plan.get(spec.name)
        if flags is None:
            continue
        if spec.switch:
            group.addoption(
                *flags, action=_action(_Switch, spec), default=None, dest=spec.dest, help=spec.help
            )
        else:
            group.addoption(
                *flags,
                action=_action(_Value, spec),
                default=None,
                dest=spec.dest,
                metavar=spec.metavar,
                help=spec.help,
            )
    return lost


def _conftests_registered(pluginmanager: pytest.PytestPluginManager) -> bool:
    """Whether conftest modules are registered already: then we were loaded from one
    (``pytest_plugins``), after the point where :func:`add_flags_late` runs."""
    return any(
        Path(str(getattr(plugin, "__file__", None) or "")).name == "conftest.py"
        for plugin in pluginmanager.get_plugins()
    )


def addoptions(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """ini keys now; command-line flags once every other plugin has registered its own."""
    parser.getgroup(GROUP, GROUP_DESCRIPTION)
    for spec in OPTIONS:
        parser.addini(
            spec.ini,
            f"default for {spec.flag}: {spec.help}",
            # "string" is pytest's default type (None: the spelling pytest 7.4 knows too)
            type=None if spec.ini_type == "string" else spec.ini_type,  # type: ignore[arg-type]
            default=None,
        )
    if _conftests_registered(pluginmanager):
        # loaded from a conftest: pytest_load_initial_conftests is over (or under way)
        # without us; the flags go in now, the aliases others hold left to them
        _add_flags(parser)


def add_flags_late(early_config: pytest.Config, parser: pytest.Parser) -> None:
    """Once every plugin and initial conftest registered its options (the end of
    ``pytest_load_initial_conftests``): ours, and which aliases others hold."""
    early_config.stash[TAKEN_KEY] = _add_flags(parser)


# -- who holds an alias -------------------------------------------------------------------


def _plugin_source(plugin: object) -> str:
    """The source of a plugin's module; ``""`` for ours and where there is none."""
    module = plugin if inspect.ismodule(plugin) else sys.modules.get(type(plugin).__module__)
    if module is None or module.__name__.startswith("pytest_fabricplus"):
        return ""
    try:
        return inspect.getsource(module)
    except (OSError, TypeError):
        return ""


def owner(config: pytest.Config, flag: str, group: str) -> str:
    """The plugin that registered ``flag``: its distribution and plugin name where one of the
    registered plugins' source names the flag, else the option group's name."""
    dists = {id(plugin): dist for plugin, dist in config.pluginmanager.list_plugin_distinfo()}
    quoted = (f'"{flag}"', f"'{flag}'")
    for name, plugin in config.pluginmanager.list_name_plugin():
        if plugin is None or not hasattr(plugin, "pytest_addoption"):
            continue
        source = _plugin_source(plugin)
        if any(q in source for q in quoted):
            dist = dists.get(id(plugin))
            label = getattr(plugin, "__name__", name)
            if dist is not None:
                return f"{dist.project_name} {dist.version} (plugin {label})"
            return f"plugin {label}"
    return f"the plugin of option group {group!r}"


def taken_warning(config: pytest.Config) -> str | None:
    """One message for every alias another plugin holds in this run, or ``None``."""
    taken = config.stash.get(TAKEN_KEY, {})
    if not taken:
        return None
    canonical = {spec.alias: spec.flag for spec in OPTIONS if spec.alias}
    parts = [
        f"{flag} is {owner(config, flag, group)}'s option here: ours is {canonical[flag]}"
        for flag, group in sorted(taken.items())
    ]
    return "pytest-fabricplus: " + "; ".join(parts)


# -- reading ------------------------------------------------------------------------------


def _shown(path: Path) -> str:
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def ini_text(spec: OptionSpec, value: Any, inipath: Path | None) -> str | None:
    """An ini value as the text our validators read, or ``None`` when unset (pure).

    ``paths`` arrive resolved against the ini file by pytest and must be one path;
    ``fabricplus_hosts`` (a file or a host list) is resolved by hand when it names a file
    next to the ini file.
    """
    if value is None or value == [] or value == "":
        return None
    if spec.ini_type == "bool":
        return "true" if value is True else "false" if value is False else str(value)
    if spec.ini_type == "args":
        return shlex.join(str(v) for v in value)
    if spec.ini_type == "paths":
        paths = list(value)
        if len(paths) != 1:
            raise pytest.UsageError(
                f"ini option {spec.ini}: one path expected, got {len(paths)}: "
                f"{' '.join(map(str, paths))} (quote a path that holds spaces)"
            )
        return _shown(_home_expanded(Path(paths[0]), inipath))
    text = str(value).strip()
    if spec.name == "hosts" and inipath is not None and text:
        beside = inipath.parent / Path(text).expanduser()
        if not Path(text).is_absolute() and beside.exists():
            return _shown(beside)
    return text


def _home_expanded(path: Path, inipath: Path | None) -> Path:
    """pytest joins a ``paths`` value to the ini file's folder as written: ``~/.ssh/id``
    became ``<inidir>/~/.ssh/id``. A value that starts with ``~`` means the home folder, as
    everywhere else (the command line, the environment, ssh)."""
    if inipath is None:
        return path
    try:
        relative = path.relative_to(inipath.parent)
    except ValueError:
        return path
    if relative.parts and relative.parts[0].startswith("~"):
        return relative.expanduser()
    return path


def read_settings(config: pytest.Config) -> Settings:
    """Resolve CLI > environment > ini > default; a bad value is a ``UsageError``."""
    cli = {spec.name: config.getoption(spec.dest, None) for spec in OPTIONS}
    for value in cli.values():
        if isinstance(value, InvalidValue):
            raise pytest.UsageError(value.message)
    ini: dict[str, str] = {}
    for spec in OPTIONS:
        try:
            raw = config.getini(spec.ini)
        except (ValueError, pytest.UsageError) as exc:  # a bool pytest cannot read
            raise pytest.UsageError(
                f"ini option {spec.ini}: {exc} (expected a boolean: true/false, yes/no, 1/0)"
            ) from None
        text = ini_text(spec, raw, config.inipath)
        if text is not None:
            ini[spec.ini] = text
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
    if config.getoption(spec.dest, None):
        return True
    raw_env = os.environ.get(spec.env)
    if raw_env and raw_env.strip():
        try:
            return bool(spec.parse(raw_env.strip()))
        except ValueError:
            return False
    try:
        return config.getini(spec.ini) is True
    except (ValueError, pytest.UsageError):
        return False
