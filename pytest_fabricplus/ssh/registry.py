"""``ConnectionRegistry``: one connection per host per process, opened on first use."""

from __future__ import annotations

import threading
from collections.abc import Mapping

from ..errors import HostUnreachable
from ..hosts.spec import Address, HostSpec
from .connection import FabricPlusConnection
from .connector import Connector, close_quietly


class ConnectionRegistry:
    """One connection per host per process: opened on first use, reused, closed at the end.

    A host that failed to connect is not retried: later requests re-raise the same cause at
    once. A connection that dropped is reopened once.
    """

    def __init__(self, connector: Connector, hosts: Mapping[str, HostSpec] | None = None) -> None:
        self.connector = connector
        self.hosts: dict[str, HostSpec] = dict(hosts or {})
        self._open: dict[str, FabricPlusConnection] = {}
        self._jumps: dict[str, FabricPlusConnection] = {}
        self._failed: dict[str, HostUnreachable] = {}
        self._reopened: set[str] = set()
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.opened_count = 0

    def _host_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, spec: HostSpec) -> FabricPlusConnection:
        key = spec.id or spec.name
        with self._host_lock(key):
            failed = self._failed.get(key)
            if failed is not None:
                raise HostUnreachable(failed.host, failed.cause, failed.detail)
            conn = self._open.get(key)
            if conn is not None:
                if conn.is_connected:
                    return conn
                # dropped mid-session: one reconnect, then give up on this host
                close_quietly(conn, None)
                del self._open[key]
                if key in self._reopened:
                    err = HostUnreachable(spec.describe(), "closed", "connection lost again")
                    self._failed[key] = err
                    raise err
                self._reopened.add(key)
            try:
                jump = self._jump_for(spec)
                conn = self.connector.open(spec, jump)
            except HostUnreachable as exc:
                self._failed[key] = exc
                raise
            self.opened_count += 1
            self._open[key] = conn
            return conn

    def _jump_for(self, spec: HostSpec) -> FabricPlusConnection | None:
        text = spec.jump or self.connector.settings.jump_host
        if not text:
            return None
        jump_spec = self.hosts.get(text)
        if jump_spec is None:
            addr = Address.parse(text)
            jump_spec = HostSpec(
                host=addr.host, port=addr.port, user=addr.user or spec.user, id=f"jump {text}"
            )
        key = jump_spec.id or str(jump_spec.address)
        with self._host_lock("jump:" + key):
            conn = self._jumps.get(key)
            if conn is not None and conn.is_connected:
                return conn
            try:
                conn = self.connector.open(jump_spec)
            except HostUnreachable as exc:
                raise HostUnreachable(
                    spec.describe(), "jump", f"jump host {text}: {exc.detail}"
                ) from None
            self._jumps[key] = conn
            return conn

    def close_all(self) -> None:
        for conn in [*self._open.values(), *self._jumps.values()]:
            close_quietly(conn, None)
        self._open.clear()
        self._jumps.clear()
