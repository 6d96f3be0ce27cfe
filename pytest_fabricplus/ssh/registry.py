"""``ConnectionRegistry``: one connection per host per process, opened on first use.

Jump hosts (``jump=`` in the inventory, ``--jump-host``, the ssh config's ``ProxyJump`` --
also from ``-J``/``-o ProxyJump=`` in ``ssh_args``/``--ssh-extra-args``) are chains: for
``ProxyJump a,b`` we open ``a`` (reached as its own ssh config says, its own ProxyJump
included, as OpenSSH does), then ``b`` through ``a``, then the host through ``b``. Each hop is a
connection built by the ``Connector``, so each hop's host key is verified by the policy and
known_hosts of *its* config. Opened hops are shared by every host behind the same chain.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from ..errors import HostUnreachable
from ..hosts.spec import Address, HostSpec
from ..settings import Settings
from .connection import FabricPlusConnection
from .connector import Connector, close_quietly

#: hops in one ProxyJump chain, own ProxyJumps of first hops included (a loop guard)
MAX_JUMP_DEPTH = 8


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
        key = spec.name
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

    def _jump_for(
        self, spec: HostSpec, depth: int = 0, came_from: str = "", under: str = ""
    ) -> FabricPlusConnection | None:
        """The open connection to the last hop of ``spec``'s jump chain (None: direct).

        Explicit jump hosts (the inventory's ``jump=``, then ``--jump-host``) win over the
        ssh config's ProxyJump, as ``ssh -J`` does; a ProxyCommand (Connector.open) is used
        only without any of them.
        """
        settings: Settings = self.connector.settings
        explicit = spec.jump or (settings.jump_host if depth == 0 else None)
        if explicit:
            text = explicit
        else:
            try:
                text = self.connector.resolve(spec, hop=depth > 0).proxy_jump or ""
            except HostUnreachable:
                return None  # Connector.open reports the bad config for this host
        hops = [h.strip() for h in text.split(",") if h.strip()]
        if not hops or came_from in hops:
            return None  # a hop whose own config names itself (``Host *`` ProxyJump): direct
        if depth >= MAX_JUMP_DEPTH:
            raise HostUnreachable(
                spec.describe(),
                "jump",
                f"ProxyJump chain longer than {MAX_JUMP_DEPTH} hops (a loop in the ssh config?)",
            )
        conn: FabricPlusConnection | None = None
        chain: list[str] = []
        for hop in hops:
            chain.append(hop)
            hop_spec = self._hop_spec(spec, hop, inherit_user=bool(explicit))
            # the path there: a first hop's own chain is keyed under that hop
            key = f"jump:{under}>{','.join(chain)}"
            with self._host_lock(key):
                opened = self._jumps.get(key)
                if opened is not None and opened.is_connected:
                    conn = opened
                    continue
                try:
                    if conn is None:
                        # the first hop is reached as its own config says (its own ProxyJump
                        # too, as OpenSSH's ``ssh -W`` to it would), unless it names itself
                        own = None if explicit else self._jump_for(hop_spec, depth + 1, hop, key)
                        conn = self.connector.open(hop_spec, own, hop=True)
                    else:
                        conn = self.connector.open(hop_spec, conn, hop=True)
                except HostUnreachable as exc:
                    detail = exc.detail
                    if exc.cause == "jump" and detail.startswith("jump host "):
                        raise HostUnreachable(spec.describe(), "jump", detail) from None
                    raise HostUnreachable(
                        spec.describe(), "jump", f"jump host {hop}: {detail}"
                    ) from None
                self._jumps[key] = conn
        return conn

    def _hop_spec(self, spec: HostSpec, hop: str, inherit_user: bool) -> HostSpec:
        """A hop as written in ProxyJump / ``jump=`` / ``--jump-host``: an inventory alias or
        id, ``[user@]host[:port]`` or ``ssh://[user@]host[:port]``."""
        known = self.hosts.get(hop)
        if known is not None:
            return known
        try:
            addr = parse_hop(hop)
        except ValueError as exc:
            raise HostUnreachable(
                spec.describe(), "jump", f"bad jump host {hop!r}: {exc}"
            ) from None
        # --jump-host / jump= hops log in as the host's user unless they name one (as
        # before); ssh config ProxyJump hops as their own config says (OpenSSH)
        user = addr.user or (spec.user if inherit_user else None)
        return HostSpec(host=addr.host, port=addr.port, user=user, id=f"jump {hop}")

    def close_all(self) -> None:
        for conn in [*self._open.values(), *self._jumps.values()]:
            close_quietly(conn, None)
        self._open.clear()
        self._jumps.clear()


def parse_hop(text: str) -> Address:
    """A ProxyJump hop: ``[user@]host[:port]`` or ``ssh://[user@]host[:port]``; ``ssh -G``
    writes a host with a port in brackets (``fptest@[127.0.0.1]:2222``), IPv4 too."""
    raw = text[len("ssh://") :] if text.startswith("ssh://") else text
    user, at, rest = raw.rpartition("@")
    if rest.startswith("[") and "]" in rest:
        host, _, tail = rest[1:].partition("]")
        if ":" not in host:  # OpenSSH brackets any host that has a port
            port = tail[1:] if tail.startswith(":") else ""
            if tail and not port:
                raise ValueError(f"unexpected text {tail!r} after ']'")
            rest = f"{host}:{port}" if port else host
    return Address.parse(f"{user}@{rest}" if at else rest)
