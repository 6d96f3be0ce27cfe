"""pytest-fabricplus: test remote hosts over SSH with fabricplus.

The core (inventory, settings, connections) works without pytest::

    from pytest_fabricplus import Connector, ConnectionRegistry, Settings, resolve_hosts
    from pytest_fabricplus import HostPool, preflight
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    CommandTimeout,
    ConfigError,
    ConnectionLost,
    FabricPlusError,
    HostKeyError,
    HostUnreachable,
    InventoryError,
    PrivilegeError,
)
from .hostspec import Address, HostSpec, assign_ids
from .inventory import load_inventory, parse_host_list, parse_inventory, resolve_hosts
from .preflight import preflight
from .runas import RunAs
from .settings import Settings

if TYPE_CHECKING:
    from .connection import ConnectionRegistry, Connector, FabricPlusConnection
    from .pool import HostPool, PoolError, PoolResult
    from .privilege import PrivilegeRunner

# Names whose modules import paramiko/invoke/Fabric load on first access (PEP 562): the
# plugin is imported by every pytest process, and the xdist controller never connects.
_LAZY = {
    "ConnectionRegistry": "connection",
    "Connector": "connection",
    "FabricPlusConnection": "connection",
    "HostPool": "pool",
    "PoolError": "pool",
    "PoolResult": "pool",
    "PrivilegeRunner": "privilege",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"
__all__ = [
    "Address",
    "CommandTimeout",
    "ConfigError",
    "ConnectionLost",
    "ConnectionRegistry",
    "Connector",
    "FabricPlusConnection",
    "FabricPlusError",
    "HostKeyError",
    "HostPool",
    "HostSpec",
    "HostUnreachable",
    "InventoryError",
    "PoolError",
    "PoolResult",
    "PrivilegeError",
    "PrivilegeRunner",
    "RunAs",
    "Settings",
    "__version__",
    "assign_ids",
    "load_inventory",
    "parse_host_list",
    "parse_inventory",
    "preflight",
    "resolve_hosts",
]
