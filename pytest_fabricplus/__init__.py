"""pytest-fabricplus: test remote hosts over SSH with fabricplus.

The core (inventory, settings, connections) works without pytest::

    from pytest_fabricplus import Connector, ConnectionRegistry, Settings, resolve_hosts
"""

from .connection import ConnectionRegistry, Connector, FabricPlusConnection
from .errors import (
    CommandTimeout,
    ConfigError,
    FabricPlusError,
    HostKeyError,
    HostUnreachable,
    InventoryError,
    PrivilegeError,
)
from .hostspec import Address, HostSpec, assign_ids
from .inventory import load_inventory, parse_host_list, parse_inventory, resolve_hosts
from .settings import Settings

__version__ = "0.1.0"
__all__ = [
    "Address",
    "CommandTimeout",
    "ConfigError",
    "ConnectionRegistry",
    "Connector",
    "FabricPlusConnection",
    "FabricPlusError",
    "HostKeyError",
    "HostSpec",
    "HostUnreachable",
    "InventoryError",
    "PrivilegeError",
    "Settings",
    "__version__",
    "assign_ids",
    "load_inventory",
    "parse_host_list",
    "parse_inventory",
    "resolve_hosts",
]
