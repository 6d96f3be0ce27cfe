"""Inventories: the public entry points (re-exported from the modules that hold them).

* ``hosts/sources.py``: ``--hosts`` values, inventory files of any format, ``ansible-inventory``;
* ``hosts/ini.py``: the INI reader (plain host lines, groups, Ansible INI);
* ``hosts/model.py``: the one step from any format to ``HostSpec`` (Ansible's precedence,
  checks, clear-text passwords refused);
* ``hosts/ansible.py`` and the modules it names: Ansible's YAML/JSON, ``group_vars/``,
  ``ansible-inventory``, the meaning of its connection keys.
"""

from __future__ import annotations

from ..errors import InventoryError
from .ini import IniReader, parse_inventory
from .model import IMPLICIT_GROUPS, KEY_FIELDS, SECRET_KEYS, VAR_KEYS, InventoryModel
from .sources import (
    detect_format,
    inventory_warnings,
    load_inventory,
    looks_like_path,
    parse_host_list,
    parse_json,
    parse_yaml,
    read_ansible,
    resolve_hosts,
)

__all__ = [
    "IMPLICIT_GROUPS",
    "KEY_FIELDS",
    "SECRET_KEYS",
    "VAR_KEYS",
    "IniReader",
    "InventoryError",
    "InventoryModel",
    "detect_format",
    "inventory_warnings",
    "load_inventory",
    "looks_like_path",
    "parse_host_list",
    "parse_inventory",
    "parse_json",
    "parse_yaml",
    "read_ansible",
    "resolve_hosts",
]
