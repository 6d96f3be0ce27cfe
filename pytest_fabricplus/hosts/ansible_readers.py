"""Ansible's inventory files: YAML, ``ansible-inventory --list`` JSON (and dynamic inventory
scripts' output), ``group_vars/`` and ``host_vars/`` next to an inventory.

Each reader returns a :class:`~.raw.RawInventory` with the line every group, host and
variable came from, so errors say ``file:line``. PyYAML is imported on first use (the
plugin's import cost stays low).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InventoryError
from ..text import NotUtf8, read_utf8
from .raw import RawGroup, RawHost, RawInventory, expand_range, split_name_port, value_text

# -- YAML ------------------------------------------------------------------------------------
#: what a ``!vault`` value reads as (we cannot decrypt it; Ansible can)
VAULTED = "<vault-encrypted>"


class _Lines(dict[str, Any]):
    """A mapping that remembers the line of each key."""

    lines: dict[str, int]


def _yaml_load(text: str, source: str) -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _Lines:
        loader.flatten_mapping(node)
        result = _Lines()
        result.lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, (str, int, float)) or isinstance(key, bool):
                raise InventoryError(f"a key must be a name, got {key!r}", source=source, line=line)
            result[str(key)] = loader.construct_object(value_node, deep=True)
            result.lines[str(key)] = line
        return result

    def vault(loader: yaml.SafeLoader, node: yaml.Node) -> str:
        # an Ansible Vault value: only Ansible can decrypt it (--force-ansible)
        return VAULTED

    def unsafe(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        return loader.construct_object(node, deep=True)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    Loader.add_constructor("!vault", vault)
    Loader.add_constructor("!unsafe", unsafe)
    try:
        return yaml.load(text, Loader=Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = exc.problem or exc.context or "invalid YAML"
        raise InventoryError(f"not valid YAML: {problem}", source=source, line=line) from None
    except yaml.YAMLError as exc:
        raise InventoryError(f"not valid YAML: {exc}", source=source) from None


def _line(mapping: object, key: str) -> int:
    return mapping.lines.get(key, 0) if isinstance(mapping, _Lines) else 0


def _vars(
    data: object, source: str, where: int, what: str
) -> tuple[dict[str, str], dict[str, int]]:
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise InventoryError(f"{what} must be a mapping of variables", source=source, line=where)
    values = {str(k): value_text(v) for k, v in data.items()}
    return values, {k: _line(data, k) or where for k in values}


def parse_yaml_inventory(text: str, source: str) -> RawInventory:
    """Ansible's YAML inventory: ``all:`` (or top groups) with ``hosts``/``children``/``vars``."""
    data = _yaml_load(text, source)
    raw = RawInventory(source)
    if data is None:
        return raw
    if not isinstance(data, dict):
        raise InventoryError("a YAML inventory is a mapping of groups (all: ...)", source=source)
    if "plugin" in data:
        raise InventoryError(
            f"an inventory plugin configuration (plugin: {data['plugin']}); "
            "it needs ansible-inventory (install ansible-core)",
            source=source,
            line=_line(data, "plugin"),
        )
    for name, body in data.items():
        _yaml_group(raw, name, body, _line(data, name), ())
    return raw


def _yaml_group(
    raw: RawInventory, name: str, body: object, line: int, path: tuple[str, ...]
) -> None:
    source = raw.source
    if name in path:
        raise InventoryError(f"group cycle: {' -> '.join((*path, name))}", source=source, line=line)
    group = raw.groups.setdefault(name, RawGroup(line=line))
    group.line = group.line or line
    if body is None:
        return
    if not isinstance(body, dict):
        raise InventoryError(
            f"group {name!r} must be a mapping with hosts, children or vars",
            source=source,
            line=line,
        )
    for key in body:
        if key not in ("hosts", "children", "vars"):
            raise InventoryError(
                f"group {name!r}: unknown section {key!r} (expected hosts, children or vars)",
                source=source,
                line=_line(body, key),
            )
    values, lines = _vars(body.get("vars"), source, _line(body, "vars"), f"{name}: vars")
    group.vars.update(values)
    group.var_lines.update(lines)
    hosts = body.get("hosts")
    if hosts is not None:
        if not isinstance(hosts, dict):
            raise InventoryError(
                f"{name}: hosts must be a mapping of host names (add ':' after each)",
                source=source,
                line=_line(body, "hosts"),
            )
        for host_name, host_vars in hosts.items():
            _yaml_host(raw, group, host_name, host_vars, _line(hosts, host_name))
    children = body.get("children")
    if children is not None:
        if not isinstance(children, dict):
            raise InventoryError(
                f"{name}: children must be a mapping of groups",
                source=source,
                line=_line(body, "children"),
            )
        for child, child_body in children.items():
            if child not in group.children:
                group.children.append(child)
            _yaml_group(raw, child, child_body, _line(children, child), (*path, name))


def _yaml_host(raw: RawInventory, group: RawGroup, name: str, body: object, line: int) -> None:
    values, lines = _vars(body, raw.source, line, f"host {name!r}")
    base, port = split_name_port(name)
    if port is not None:
        values.setdefault("ansible_port", port)
        lines.setdefault("ansible_port", line)
    try:
        names = expand_range(base)
    except ValueError as exc:
        raise InventoryError(str(exc), source=raw.source, line=line) from None
    for host_name in names:
        host = raw.hosts.setdefault(host_name, RawHost(line=line))
        host.vars.update(values)  # Ansible: the later definition of a var wins
        host.var_lines.update(lines)
        if host_name not in group.hosts:
            group.hosts.append(host_name)


# -- ansible-inventory --list JSON (and dynamic inventory scripts' output) -------------------
def _names(value: object, source: str, what: str) -> list[str]:
    """A JSON list of names (hosts, children); a mapping's keys are accepted too."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = list(value)
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise InventoryError(f"{what} must be a list of names", source=source)
    return [str(v) for v in value]


def parse_json_inventory(text: str, source: str) -> RawInventory:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InventoryError(f"not valid JSON: {exc.msg}", source=source, line=exc.lineno) from None
    if not isinstance(data, dict):
        raise InventoryError("an inventory in JSON is an object of groups", source=source)
    raw = RawInventory(source)
    meta = data.get("_meta") or {}
    if not isinstance(meta, dict):
        raise InventoryError("_meta must be an object", source=source)
    hostvars = meta.get("hostvars") or {}
    if not isinstance(hostvars, dict):
        raise InventoryError("_meta.hostvars must be an object", source=source)
    for name, body in data.items():
        if name == "_meta":
            continue
        group = raw.groups.setdefault(name, RawGroup())
        if isinstance(body, list):  # old script format: a group is a list of hosts
            body = {"hosts": body}
        if body is None:
            continue
        if not isinstance(body, dict):
            raise InventoryError(f"group {name!r} must be an object or a list", source=source)
        group.vars.update(_vars(body.get("vars"), source, 0, f"{name}: vars")[0])
        for child in _names(body.get("children"), source, f"{name}: children"):
            if child not in group.children:
                group.children.append(child)
        for host_name in _names(body.get("hosts"), source, f"{name}: hosts"):
            raw.hosts.setdefault(host_name, RawHost())
            if host_name not in group.hosts:
                group.hosts.append(host_name)
    for host_name, values in hostvars.items():
        host = raw.hosts.setdefault(str(host_name), RawHost())
        host.vars.update(_vars(values, source, 0, f"_meta.hostvars.{host_name}")[0])
    for child_group in [c for g in raw.groups.values() for c in g.children]:
        raw.groups.setdefault(child_group, RawGroup())
    return raw


# -- group_vars/ and host_vars/ --------------------------------------------------------------
@dataclass
class AdjacentVars:
    """Variables from ``group_vars/`` and ``host_vars/`` next to an inventory."""

    groups: dict[str, dict[str, str]] = field(default_factory=dict)
    hosts: dict[str, dict[str, str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


_VARS_SUFFIXES = ("", ".yml", ".yaml", ".json")


def _vars_files(directory: Path, name: str) -> list[Path]:
    """Ansible's host_group_vars: ``NAME``, ``NAME.yml``/``.yaml``/``.json``, ``NAME/*``."""
    found: list[Path] = []
    for suffix in _VARS_SUFFIXES:
        path = directory / f"{name}{suffix}"
        if path.is_file():
            found.append(path)
        elif suffix == "" and path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix in _VARS_SUFFIXES and not p.name.startswith(".")
            )
    return found


def read_vars_file(path: Path) -> dict[str, str]:
    source = os.fspath(path)
    try:
        text = read_utf8(path)
    except NotUtf8 as exc:
        raise InventoryError(str(exc), source=source, line=exc.line) from None
    except OSError as exc:
        raise InventoryError(f"cannot read variables file ({exc})", source=source) from None
    if text.lstrip().startswith("$ANSIBLE_VAULT"):
        raise InventoryError(
            "an Ansible Vault file: read the inventory through ansible-inventory "
            "(--force-ansible) or keep secrets in environment variables",
            source=source,
        )
    data = _yaml_load(text, source)
    values, _ = _vars(data, source, 1, "a variables file")
    return values


def adjacent_vars(inventory: Path, groups: list[str], hosts: list[str]) -> AdjacentVars:
    """``group_vars/`` and ``host_vars/`` in the inventory's directory (as Ansible reads them)."""
    found = AdjacentVars()
    base = inventory.parent if not inventory.is_dir() else inventory
    for kind, names, target in (
        ("group_vars", groups, found.groups),
        ("host_vars", hosts, found.hosts),
    ):
        directory = base / kind
        if not directory.is_dir():
            continue
        for name in names:
            for path in _vars_files(directory, name):
                target.setdefault(name, {}).update(read_vars_file(path))
                found.files.append(os.fspath(path))
    return found
