"""Inventories as their sources wrote them: groups, hosts and variables, before any meaning.

Every reader (INI aside, which builds its entries directly: ``hosts/ini.py``) returns a
:class:`RawInventory` -- the YAML and JSON readers of ``hosts/ansible_readers.py`` and the
``ansible-inventory`` runner of ``hosts/ansible_runner.py`` -- and ``hosts/model.py`` turns it
into ``HostSpec`` the same way for every format. Ansible's host ranges (``web[01:20]``) and
its reading of values as text and booleans live here too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_TRUE = ("1", "true", "yes", "on", "y", "t")
_FALSE = ("0", "false", "no", "off", "n", "f", "")


@dataclass
class RawGroup:
    """A group as the source wrote it."""

    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, str] = field(default_factory=dict)
    #: line of each var (0 where unknown), and of the group itself
    var_lines: dict[str, int] = field(default_factory=dict)
    line: int = 0


@dataclass
class RawHost:
    """A host as the source wrote it: its inventory name, vars, and the line defining it."""

    vars: dict[str, str] = field(default_factory=dict)
    var_lines: dict[str, int] = field(default_factory=dict)
    line: int = 0


@dataclass
class RawInventory:
    source: str
    hosts: dict[str, RawHost] = field(default_factory=dict)
    groups: dict[str, RawGroup] = field(default_factory=dict)


def value_text(value: object) -> str:
    """A YAML/JSON value as the text ``HostSpec.vars`` holds (booleans as ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float, str)):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def truthy(value: str) -> bool | None:
    """Ansible's boolean reading of a var's text; ``None`` when it is no boolean."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


# -- host names and ranges -------------------------------------------------------------------
_RANGE = re.compile(r"\[([0-9]+|[a-zA-Z]):([0-9]+|[a-zA-Z])(?::([0-9]+))?\]")
MAX_RANGE = 10_000


def expand_range(name: str) -> list[str]:
    """Ansible's host ranges: ``web[01:20].lan``, ``db-[a:c]``, ``h[0:10:2]`` (several ok).

    Raises ``ValueError`` for a range that goes backwards, mixes letters and digits or is huge.
    """
    match = _RANGE.search(name)
    if match is None:
        return [name]
    head, tail = name[: match.start()], name[match.end() :]
    lo, hi, step_text = match.groups()
    step = int(step_text) if step_text else 1
    if step < 1:
        raise ValueError(f"bad range step in {name!r}")
    if lo.isdigit() != hi.isdigit():
        raise ValueError(f"range [{lo}:{hi}] mixes letters and digits in {name!r}")
    if lo.isdigit():
        first, last = int(lo), int(hi)
        width = len(lo) if lo.startswith("0") and len(lo) > 1 else 0
        items = [str(i).zfill(width) for i in range(first, last + 1, step)]
    else:
        first, last = ord(lo), ord(hi)
        items = [chr(i) for i in range(first, last + 1, step)]
    if last < first:
        raise ValueError(f"range [{lo}:{hi}] goes backwards in {name!r}")
    if len(items) > MAX_RANGE:
        raise ValueError(f"range [{lo}:{hi}] in {name!r} is larger than {MAX_RANGE} hosts")
    result: list[str] = []
    for item in items:
        result.extend(expand_range(f"{head}{item}{tail}"))
        if len(result) > MAX_RANGE:
            raise ValueError(f"{name!r} expands to more than {MAX_RANGE} hosts")
    return result


def split_name_port(name: str) -> tuple[str, str | None]:
    """Ansible's ``host:port`` in a YAML host key: the name, and the port text if any.

    ``[::1]:2222`` is an IPv6 host with a port; ``web[01:03]`` is a range, not a port.
    """
    match = re.match(r"^(.+):([0-9]+)$", name)
    if match is None:
        return name, None
    host, port = match.groups()
    if host.startswith("[") and host.endswith("]") and ":" in host:
        return host[1:-1], port
    if ":" in host or host.count("[") != host.count("]"):
        return name, None
    return host, port
