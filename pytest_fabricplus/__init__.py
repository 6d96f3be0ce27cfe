"""pytest-fabricplus: test remote hosts over SSH with fabricplus.

The core (inventory, settings, connections) works without pytest::

    from pytest_fabricplus import Connector, ConnectionRegistry, Settings, resolve_hosts
    from pytest_fabricplus import HostPool, preflight

Layout (each layer imports only the ones below it): ``plugin/`` (everything that imports
pytest) -> ``fleet/``, ``integrations/`` -> ``ssh/`` (the only place that loads paramiko,
invoke and Fabric) -> ``hosts/``, ``settings``, ``runas``, ``secrets``, ``errors``.
docs/DEVELOPING.md has the map.
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
    RunInterrupted,
)
from .fleet.pool import HostOutcome, HostPool, PoolError, PoolResult
from .fleet.preflight import preflight
from .hosts.inventory import load_inventory, parse_host_list, parse_inventory, resolve_hosts
from .hosts.spec import Address, HostSpec, assign_ids
from .runas import RunAs
from .secrets import Secret, redact
from .settings import Settings

if TYPE_CHECKING:
    from .integrations.testinfra import testinfra_host
    from .ssh.connection import FabricPlusConnection
    from .ssh.connector import Connector
    from .ssh.privilege import PrivilegeRunner
    from .ssh.registry import ConnectionRegistry

# Names whose modules import paramiko/invoke/Fabric load on first access (PEP 562): the
# plugin is imported by every pytest process, and the xdist controller never connects.
_LAZY = {
    "ConnectionRegistry": "ssh.registry",
    "Connector": "ssh.connector",
    "FabricPlusConnection": "ssh.connection",
    "PrivilegeRunner": "ssh.privilege",
    "testinfra_host": "integrations.testinfra",
    # imports pytest: for test code only (a control not applicable on its host)
    "not_applicable": "plugin.compliance",
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
    "HostOutcome",
    "HostPool",
    "HostSpec",
    "HostUnreachable",
    "InventoryError",
    "PoolError",
    "PoolResult",
    "PrivilegeError",
    "PrivilegeRunner",
    "RunAs",
    "RunInterrupted",
    "Secret",
    "Settings",
    "__version__",
    "assign_ids",
    "load_inventory",
    "not_applicable",
    "parse_host_list",
    "parse_inventory",
    "preflight",
    "redact",
    "resolve_hosts",
    "testinfra_host",
]
