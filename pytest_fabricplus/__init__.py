"""pytest-fabricplus: test remote hosts over SSH with fabricplus.

The core (inventory, settings, connections) works without pytest::

    from pytest_fabricplus import Connector, ConnectionRegistry, Settings, resolve_hosts
    from pytest_fabricplus import HostPool, preflight
"""

from .connection import ConnectionRegistry, Connector, FabricPlusConnection
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
from .pool import HostPool, PoolError, PoolResult
from .preflight import preflight
from .privilege import PrivilegeRunner, RunAs
from .settings import Settings

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
