"""``ConnectionRegistry``: one connection per host per process, opened on first use.

Jump hosts (``jump=`` in the inventory, ``--jump-host``, the ssh config's ``ProxyJump`` --
also from ``-J``/``-o ProxyJump=`` in ``ssh_args``/``--ssh-extra-args``) are chains: for
``ProxyJump a,b`` we open ``a`` (reached as its own ssh config says, its own ProxyJump
included, as OpenSSH does), then ``b`` through ``a``, then the host through ``b``. Each hop is a
connection built by the ``Connector``, so each hop's host key is verified by the policy and
known_hosts of *its* config. Opened hops are shared by every host behind the same chain.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping

from ..errors import FabricPlusError, HostUnreachable, RunInterrupted
from ..hosts.spec import Address, HostSpec
from ..settings import Settings
from .connection import FabricPlusConnection
from .connector import Connector, close_quietly

#: hops in one ProxyJump chain, own ProxyJumps of first hops included (a loop guard)
MAX_JUMP_DEPTH = 8
#: on interruption: how long the hosts get to report their killed commands ended (s)
KILL_WAIT = 2.0
#: the longest a thread waits for another's opening of the same host without looking up (s)
WAIT_STEP = 0.2


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
        self._closed = False
        self._interrupted = False
        self._closed_all = threading.Event()

    @contextlib.contextmanager
    def _host_lock(self, key: str, spec: HostSpec) -> Iterator[None]:
        """The lock of one host's (or jump chain's) opening. Waited for in steps: Python runs
        a signal's handler in the main thread only when that thread wakes, and the OS may
        deliver the signal to another thread (a lock wait without a timeout never wakes)."""
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        while not lock.acquire(timeout=WAIT_STEP):
            self._refuse_if_closed(spec)
        try:
            yield
        finally:
            lock.release()

    def _refuse_if_closed(self, spec: HostSpec) -> None:
        if self._interrupted:
            raise RunInterrupted(spec.describe(), "connecting")
        if self._closed:
            raise FabricPlusError(f"no new connection to {spec.describe()}: the registry is closed")

    def ready(self, spec: HostSpec) -> bool:
        """Whether :meth:`get` would answer at once, without a handshake to make or to wait
        for: the host is open and connected, or its failure is remembered, or the registry
        refuses (closed, interrupted)."""
        key = spec.name
        if self._closed or self._interrupted:
            return True
        with self._lock:
            lock = self._locks.get(key)
            if lock is not None and lock.locked():
                return False  # being opened (pre-flight) or reopened now
            if key in self._failed:
                return True
            conn = self._open.get(key)
        return conn is not None and bool(conn.is_connected)

    def get(self, spec: HostSpec) -> FabricPlusConnection:
        key = spec.name
        self._refuse_if_closed(spec)
        with self._host_lock(key, spec):
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
            with self._lock:
                late = self._closed  # closed (or interrupted) while this host was opening
                if not late:
                    self.opened_count += 1
                    self._open[key] = conn
            if late:
                close_quietly(conn, None)
                self._refuse_if_closed(spec)
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
            with self._host_lock(key, spec):
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
                with self._lock:
                    late = self._closed
                    if not late:
                        self._jumps[key] = conn
                if late:
                    close_quietly(conn, None)
                    self._refuse_if_closed(spec)
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

    def interrupt(self, timeout: float = KILL_WAIT) -> None:
        """The run is stopping (SIGINT/SIGTERM): handshakes under way are abandoned (their
        sockets shut down, ProxyCommands killed), every command running on an open connection
        is killed on its host (as a timeout does; the hosts get ``timeout`` s to report it
        ended), then every connection is closed. No new connection or command starts after
        it. Callable from any thread, more than once; bounded."""
        with self._lock:
            self._interrupted = True
        self.connector.abort()
        self.close_all(timeout)

    def close_all(self, timeout: float = KILL_WAIT) -> None:
        """Close every connection (the hosts' and the jump hosts'); a command still running
        on one (a thread the test left, an interrupted run) is killed on its host first."""
        with self._lock:
            closing = self._closed  # another thread may still be killing and closing
            self._closed = True
            conns = [*self._open.values()]
            jumps = [*self._jumps.values()]
            self._open.clear()
            self._jumps.clear()
        if closing and not conns and not jumps:
            self._closed_all.wait(timeout + 1.0)  # return when it is done (bounded)
            return
        try:
            self._close(conns, jumps, timeout)
        finally:
            self._closed_all.set()

    def _close(
        self, conns: list[FabricPlusConnection], jumps: list[FabricPlusConnection], timeout: float
    ) -> None:
        busy = [c for c in conns if c.busy]
        if self._interrupted:  # the others too: no thread may reopen one and start a command
            for conn in conns:
                if conn not in busy:
                    conn.interrupt(0)
        if busy:
            # in parallel: a persistent shell's command is killed over exec (a round trip)
            threads = [
                threading.Thread(
                    target=c.interrupt, args=(timeout,), name="fabricplus-kill", daemon=True
                )
                for c in busy
            ]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + timeout + 0.5
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
        for conn in [*conns, *jumps]:
            close_quietly(conn, None)


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
