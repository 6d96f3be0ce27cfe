"""Where hosts come from: a ``--hosts`` value (a file or a list), an inventory file of any
format (detected), or any source through ``ansible-inventory``; ids assigned.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from ..errors import InventoryError
from ..text import NotUtf8, read_utf8
from . import urls
from .ansible import host_warnings
from .ansible_readers import parse_json_inventory, parse_yaml_inventory
from .ansible_runner import ansible_inventory_command, run_ansible_inventory
from .ini import IniReader
from .model import InventoryModel
from .selection import apply_limit
from .spec import Address, HostSpec, assign_ids


def parse_yaml(text: str, source: str = "<inventory>") -> list[HostSpec]:
    """Parse an Ansible YAML inventory into host specs (unsorted, without ids)."""
    parser = InventoryModel(source, strict_keys=False)
    parser.load_raw(parse_yaml_inventory(text, source))
    return parser.specs()


def parse_json(text: str, source: str = "<inventory>") -> list[HostSpec]:
    """Parse ``ansible-inventory --list`` JSON into host specs (unsorted, without ids)."""
    parser = InventoryModel(source, strict_keys=False)
    parser.load_raw(parse_json_inventory(text, source))
    return parser.specs()


def detect_format(path: Path, text: str | None) -> str:
    """``yaml``, ``json``, ``ansible`` (run ansible-inventory) or ``ini``."""
    if path.is_dir():
        return "ansible"
    if path.suffix.lower() in (".yml", ".yaml"):
        return "yaml"
    if path.suffix.lower() == ".json" or (text is not None and text.lstrip().startswith("{")):
        return "json"
    if os.access(path, os.X_OK) and text is not None and text.startswith("#!"):
        return "ansible"  # a dynamic inventory script
    return "ini"


def read_ansible(source: str) -> list[HostSpec]:
    """Any inventory source, read by Ansible's own ``ansible-inventory --list``."""
    parser = InventoryModel(source, strict_keys=False)
    parser.load_raw(run_ansible_inventory(source))
    parser.use_defaults(os.environ, Path.cwd())
    return parser.specs()


def load_inventory(path: str | os.PathLike[str], force_ansible: bool = False) -> list[HostSpec]:
    """Read and parse an inventory file: INI, Ansible YAML or JSON, or (with ansible-core
    installed) anything ``ansible-inventory`` reads: scripts, plugin configs, directories.

    ``group_vars/`` and ``host_vars/`` next to the file apply as in Ansible.
    """
    source = os.fspath(path)
    where = Path(source)
    if force_ansible:
        if not where.exists():
            raise InventoryError("inventory file not found", source=source)
        return read_ansible(source)
    if where.is_dir():
        if ansible_inventory_command() is None:
            raise InventoryError(
                "inventory path is a directory, not a file (an Ansible inventory directory "
                "needs ansible-inventory: pip install ansible-core)",
                source=source,
            )
        return read_ansible(source)
    try:
        text = read_utf8(where)
    except FileNotFoundError:
        raise InventoryError("inventory file not found", source=source) from None
    except NotUtf8 as exc:
        raise InventoryError(str(exc), source=source, line=exc.line) from None
    except OSError as exc:
        raise InventoryError(f"cannot read inventory ({exc.strerror})", source=source) from None
    kind = detect_format(where, text)
    if kind == "ansible":
        if ansible_inventory_command() is None:
            raise InventoryError(
                "an executable inventory (dynamic inventory script) needs ansible-inventory: "
                "pip install ansible-core",
                source=source,
            )
        return read_ansible(source)
    if kind == "yaml":
        if _is_plugin(text) and ansible_inventory_command() is not None:
            return read_ansible(source)  # an inventory plugin's configuration
        parser = InventoryModel(source, strict_keys=False)
        parser.load_raw(parse_yaml_inventory(text, source))
    elif kind == "json":
        parser = InventoryModel(source, strict_keys=False)
        parser.load_raw(parse_json_inventory(text, source))
    else:
        parser = IniReader(source)
        parser.parse(text.splitlines())
    parser.adjacent_files(where)
    parser.use_defaults(os.environ, Path.cwd())
    return parser.specs()


def _is_plugin(text: str) -> bool:
    return bool(re.search(r"^plugin\s*:", text, re.MULTILINE))


def inventory_warnings(specs: Iterable[HostSpec]) -> list[str]:
    """One line per host that carries Ansible connection keys we do not honour."""
    return [line for s in specs for line in host_warnings(s.name, s.vars)]


def parse_host_list(text: str, source: str = "--hosts") -> list[HostSpec]:
    """Parse a comma list of ``[user@]host[:port]`` (as given to ``--hosts``)."""
    specs: list[HostSpec] = []
    seen: set[Address] = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if urls.is_spec(item):  # testinfra's ssh://user@host:port?..., local://, docker://...
            specs.extend(parse_testinfra_spec(item, source))
            continue
        try:
            address = Address.parse(item)
        except ValueError as exc:
            raise InventoryError(str(exc), source=source, text=item) from None
        if address in seen:
            continue
        seen.add(address)
        specs.append(HostSpec(host=address.host, port=address.port, user=address.user))
    if not specs:
        raise InventoryError("no hosts given", source=source, text=text)
    return specs


def parse_testinfra_spec(text: str, source: str = "--hosts") -> list[HostSpec]:
    """One testinfra host spec as host specs (``hosts/urls.py``); for
    ``ansible://PATTERN?ansible_inventory=FILE``, the hosts of FILE that PATTERN names."""
    parsed = urls.split_spec(text, source)
    if parsed.scheme != "ansible":
        return urls.parse_spec(text, source)
    inventory, pattern = urls.ansible_source(parsed, text, source)
    chosen = apply_limit(resolve_hosts(os.path.expanduser(inventory)), [pattern])
    if not chosen:
        raise InventoryError(f"{pattern!r} names no host of {inventory}", source=source, text=text)
    chosen = [replace(s, vars={**s.vars, urls.ANSIBLE_INVENTORY_VAR: inventory}) for s in chosen]
    return urls.apply_sudo(chosen, parsed.query)


def looks_like_path(value: str) -> bool:
    """Whether a ``--hosts`` value names a file rather than listing hosts."""
    if os.path.exists(value):
        return True
    if "," in value or urls.is_spec(value):
        return False
    return "/" in value or value.endswith(
        (".txt", ".ini", ".cfg", ".hosts", ".inventory", ".yml", ".yaml", ".json")
    )


def resolve_hosts(value: str, force_ansible: bool = False) -> list[HostSpec]:
    """Turn a ``--hosts`` value (file path or comma list) into sorted specs with unique ids.

    ``force_ansible``: an inventory file is read through ``ansible-inventory``.
    """
    if looks_like_path(value):
        specs = load_inventory(value, force_ansible=force_ansible)
    else:
        specs = parse_host_list(value)
    try:
        return assign_ids(specs)
    except ValueError as exc:
        raise InventoryError(str(exc), source=value) from None
