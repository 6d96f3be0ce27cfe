"""Sphinx directives that write reference pages from the code, so that they cannot drift.

- ``fabricplus-options``: every option of ``pytest_fabricplus.settings.OPTIONS`` -- its flag
  (and any other spelling the spec declares), ini key, environment variable, default, type
  and help -- one section each, labelled ``option-NAME``.
- ``fabricplus-markers``: the markers the plugin registers (``plugin.markers.MARKERS``).
- ``fabricplus-upstream``: the "Upstream behaviour worked around here" part of every module
  docstring of the package.

Each directive renders Markdown and hands it to MyST (pages here are MyST documents).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass, field
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

#: validator function name -> the type as a user writes it (settings.py's validators)
VALUE_TYPES = {
    "non_empty": "text",
    "existing_path": "path (must exist)",
    "existing_file": "file (must exist)",
    "boolean": "bool (`true`/`false`, `yes`/`no`, `1`/`0`)",
    "port": "port number",
    "env_name": "environment variable name",
    "seconds": "seconds (a number, fractions allowed)",
    "optional_seconds": "seconds (`0`: no limit)",
    "positive_int": "integer >= 1",
    "target_kinds": "comma list of container kinds",
    "shard": "`K/N`",
    "address": "`[user@]host[:port]`",
    "ssh_args": "ssh arguments, split like a shell",
    "testinfra_connection": "testinfra backend name",
    "percent": "percent (0-100)",
    "user_name": "user name",
}


def _code(text: str) -> str:
    return "`` " + text + " ``" if "`" in text else f"`{text}`"


def _md_escape(text: str) -> str:
    """Help text as Markdown: ``|`` and ``*``/``_`` are literal there; backticks stay code."""
    return text.replace("|", "\\|").replace("*", "\\*").replace("<", "&lt;")


def value_type(spec: Any) -> str:
    """The option's value type, from its validator (``one_of`` closures list their choices
    from the metavar); the ini key's pytest type is shown beside the key."""
    if getattr(spec, "switch", False):
        return "bool (a switch on the command line)"
    parse = getattr(spec, "parse", None)
    name = getattr(parse, "__name__", "")
    if name in VALUE_TYPES:
        return VALUE_TYPES[name]
    metavar = getattr(spec, "metavar", None)
    if metavar and "|" in metavar:
        return "one of " + ", ".join(_code(c) for c in metavar.split("|"))
    return "text"


def default_text(spec: Any) -> str:
    default = getattr(spec, "default", None)
    if default is None or default == () or default is False:
        return "not set" if not getattr(spec, "switch", False) else "off"
    if default is True:
        return "on"
    if isinstance(default, tuple):
        return _code(",".join(str(d) for d in default))
    if isinstance(default, float) and default.is_integer():
        return _code(str(int(default)))
    return _code(str(default))


@dataclass
class Registered:
    """What the plugin registers with pytest, read from a parser it filled: the option strings
    per ``dest``, every group's options, and the ini keys with their types."""

    names: dict[str, list[str]] = field(default_factory=dict)
    groups: dict[str, list[tuple[list[str], str]]] = field(default_factory=dict)
    ini_types: dict[str, str] = field(default_factory=dict)


def registered() -> Registered:
    from _pytest.config import PytestPluginManager
    from _pytest.config.argparsing import Parser

    import pytest_fabricplus.plugin as plugin

    parser = Parser(_ispytest=True)
    hook = plugin.pytest_addoption
    takes = inspect.signature(hook).parameters
    given = {"parser": parser, "pluginmanager": PytestPluginManager()}
    hook(**{k: v for k, v in given.items() if k in takes})
    found = Registered()
    for group in parser._groups:  # pytest keeps no public list of its option groups
        for option in group.options:
            names = option.names()
            found.names[str(option.dest)] = names
            text = str(option.attrs().get("help", ""))
            found.groups.setdefault(group.name, []).append((names, text))
    for key, (_help, kind, _default) in parser._inidict.items():  # nor of its ini keys
        found.ini_types[key] = str(kind or "string")
    return found


def flags(spec: Any, known: Registered) -> list[str]:
    """The spec's flag first, then every other spelling: those the spec declares (``flags``,
    ``alias``) and those pytest was given for its ``dest``."""
    spelled = [spec.flag]
    declared = [*(getattr(spec, "flags", None) or ()), getattr(spec, "alias", None)]
    for flag in [*declared, *known.names.get(f"fabricplus_{spec.name}", [])]:
        if isinstance(flag, str) and flag not in spelled:
            spelled.append(flag)
    return spelled


def options_markdown() -> list[str]:
    from pytest_fabricplus.settings import OPTIONS

    known = registered()
    out = []
    documented: set[str] = set()
    for spec in OPTIONS:
        metavar = getattr(spec, "metavar", None) or (
            None if getattr(spec, "switch", False) else spec.name.upper()
        )
        first, *others = flags(spec, known)
        documented.update([first, *others])
        heading = first if metavar is None else f"{first} {metavar}"
        out += [f"(option-{spec.name.replace('_', '-')})=", f"### `{heading}`", ""]
        out += [_md_escape(spec.help[0].upper() + spec.help[1:]) + ".", ""]
        ini = known.ini_types.get(spec.ini)
        rows = [
            ("command line", ", ".join(_code(f) for f in [first, *others])),
            ("ini key", _code(spec.ini) + (f" (pytest ini type `{ini}`)" if ini else "")),
            ("environment", _code(spec.env)),
            ("type", value_type(spec)),
            ("default", default_text(spec)),
        ]
        out += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows] + [""]
    others = [
        (group, names, text)
        for group, options in known.groups.items()
        for names, text in options
        if not documented.intersection(names)
    ]
    if others:  # registered by the plugin outside the OPTIONS table
        out += ["## Other options", ""]
        for group, names, text in others:
            out += [f"### `{', '.join(names)}`", "", f"{_md_escape(text)} (group `{group}`)", ""]
    return out


def markers_markdown() -> list[str]:
    from pytest_fabricplus.plugin.markers import MARKERS

    out = []
    for line in MARKERS:
        signature, _, text = line.partition(": ")
        name = signature.split("(")[0]
        out += [f"(marker-{name})=", f"## `@pytest.mark.{signature}`", ""]
        out += [_md_escape(text[0].upper() + text[1:]) + ".", ""]
    return out


HEADING = "Upstream behaviour worked around here"
ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`]+)`")


def upstream_part(doc: str) -> str:
    """The docstring's "Upstream behaviour worked around here" list: the bullets (``-`` or
    ``*``, continued by indented lines) or paragraph after the heading, up to the first
    paragraph of other text."""
    lines = doc.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip().startswith(HEADING)), None)
    if start is None:
        return ""
    part: list[str] = []
    for line in lines[start + 1 :]:
        previous_blank = not part or not part[-1].strip()
        bullet = line.startswith(("- ", "* "))
        if line.strip() and previous_blank and part and not bullet and not line[0].isspace():
            break  # a paragraph of other text after the list
        part.append(line)
    text = ROLE.sub(lambda m: f"``{m.group(1)}``", "\n".join(part)).strip("\n")
    return "\n".join(line[4:] if line.startswith("    ") else line for line in text.split("\n"))


def upstream_markdown() -> list[str]:
    import pytest_fabricplus

    out = []
    modules = ["pytest_fabricplus"] + [
        m.name
        for m in pkgutil.walk_packages(pytest_fabricplus.__path__, "pytest_fabricplus.")
        if not m.name.startswith("pytest_fabricplus._containers")
    ]
    for name in sorted(modules):
        text = upstream_part(importlib.import_module(name).__doc__ or "")
        if text:
            out += [f"### `{name}`", "", text, ""]
    return out


class _Generated(SphinxDirective):
    has_content = False
    render = staticmethod(options_markdown)

    def run(self) -> list[nodes.Node]:
        container = nodes.container()
        self.state.nested_parse(
            StringList(self.render(), self.get_source_info()[0]), 0, container, match_titles=True
        )
        return container.children


class OptionsDirective(_Generated):
    render = staticmethod(options_markdown)


class MarkersDirective(_Generated):
    render = staticmethod(markers_markdown)


class UpstreamDirective(_Generated):
    render = staticmethod(upstream_markdown)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("fabricplus-options", OptionsDirective)
    app.add_directive("fabricplus-markers", MarkersDirective)
    app.add_directive("fabricplus-upstream", UpstreamDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
