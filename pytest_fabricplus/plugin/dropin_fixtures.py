"""The fixtures the testinfra drop-in adds (registered by :mod:`.dropin` when it is on):
testinfra's module-scoped ``host``, over our connections."""

from __future__ import annotations

from .testinfra import _fabricplus_uses_host, host

__all__ = ["_fabricplus_uses_host", "host"]
