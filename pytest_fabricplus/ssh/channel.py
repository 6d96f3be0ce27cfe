"""Every use of paramiko's, invoke's and fabricplus' private internals, in one place.

Why they are used: speed (one SSH round trip per command instead of two, no invoke runner
threads per command) and correctness (killing a timed-out command on the host). Each use is
pinned by the version caps in pyproject.toml and by tests (``tests/integration/
test_core_api.py`` compares the direct path with invoke's runner; ``tests/integration/
test_fast_path.py`` runs the same checks with the switch off).

``FABRICPLUS_FAST_PATH=0`` turns the speed-only internals off and uses the libraries' public
API instead: invoke's runner for every command, Fabric's ``create_session`` (no spare
channel), invoke's own timer and polling, a config clone on every reset, known_hosts
parsed per connection (no process cache). Use it when a new paramiko/invoke/fabricplus
release breaks something here, and report it. Killing a timed-out command (an SSH "signal"
request, which paramiko has no API for) stays on: without it the command keeps running on
the host. So do our host-key verification and host-key algorithm order (correctness, not
speed: paramiko's own comparison knows neither certificates nor ``@revoked``).

Upstream behaviour worked around here:

* invoke's runner polls for the exit status every 10 ms (``input_sleep``), starts a timer
  thread per command, and only closes the channel on timeout: :class:`FastRemote` waits on
  paramiko's exit-status event, keeps the deadline itself and sends ``KILL`` first.
* invoke's runner starts three IO threads and merges its configuration per command: our own
  run loop (``ssh/runner.py``, public API only) reads the channel itself for the common call,
  with :func:`start_exec`, :func:`exit_status_event`, :func:`kill` and :func:`expired` from here.
* paramiko's ``open_session`` blocks for the open confirmation: :class:`Spare` sends the
  request ahead of time (the first half of ``Transport.open_channel``).
* fabricplus' ``__init__`` assigns ``_scp`` / ``__scp``; invoke's DataProxy turns an
  assignment to a name that is not a real attribute into a config key, re-merging the whole
  configuration each time (:class:`PlainAttributes` declares them).
* paramiko's ``SSHClient`` compares server keys with its own parsed host keys and has no
  setter for them: :func:`clear_host_keys` empties them (``hostkeys.py`` judges instead).
* paramiko appends certificate host-key algorithms after the plain ones and fabricplus'
  ``SSHJumpClient.connect`` drops ``transport_factory``: :func:`order_host_key_algorithms`.
* paramiko's channel open waits up to an hour by default and its channel requests (exec,
  pty, subsystem) wait for the reply without any limit, so a host that went silent held a
  command far past ``--command-timeout``: :func:`bound_requests` / :func:`start_exec` wait
  until the command's deadline, and :func:`expired` tells a silent host (``ConnectionLost``)
  from a slow command (``CommandTimeout``) with one keepalive.
* paramiko's keepalive (``Transport.set_keepalive``) sends ``keepalive@lag.net`` without
  asking for a reply, so it never notices a dead peer: :class:`Liveness` sends OpenSSH's
  ``keepalive@openssh.com`` with want-reply from paramiko's own keepalive timer (the
  transport thread: no thread of ours), counts the unanswered ones as
  ``ServerAliveCountMax`` does, and ends the transport when too many went unanswered.
* invoke's ``in_stream=False`` means "do not forward stdin", not end-of-file: a command
  that reads stdin (``cat``, ``read x``) waited for the timeout. :func:`start_exec` and
  :class:`KillingRemote` send EOF after the exec request, as ``ssh -n`` does.
* paramiko sends a channel's EOF (and any request) after releasing the channel's lock, so it
  can follow the CLOSE its transport thread sent meanwhile, and OpenSSH then drops the whole
  connection: :func:`send_while_open` sends them under the lock.
* invoke's runner answers Ctrl-C by forwarding it (``\x03`` on a pty) and waiting on, and
  closing a channel leaves a command without a pty running on the host:
  :meth:`KillingRemote.send_interrupt` and ``runner.run_direct`` kill the command (the
  ``signal`` request) before re-raising ``KeyboardInterrupt``.
* paramiko's only way to wait for a channel's data is ``Channel.fileno()``: an OS pipe per
  channel (two descriptors) for ``select``, and ``select.select`` raises ``ValueError`` for a
  descriptor past 1,024 (a few hundred persistent shells in one process):
  :func:`data_event` hands the channel's two input buffers one ``threading.Event`` instead.
* paramiko's packetizer reads each packet with two exact-size ``recv`` calls on a socket
  with a timeout (four system calls, the GIL dropped and retaken around each):
  :class:`GulpReads` reads whatever has arrived at once and serves the packets from it.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import socket
import threading
import time
import typing
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import paramiko
from fabric.runners import Remote
from paramiko.common import MSG_REQUEST_FAILURE, MSG_REQUEST_SUCCESS
from paramiko.message import Message

from ..errors import CommandTimeout, ConnectionLost, RunInterrupted


class DirectConnection(Protocol):
    """What :func:`expired` and the direct run path (``ssh/runner.py``) need of a connection
    (``FabricPlusConnection``)."""

    command_timeout: float | None
    forward_agent: bool

    @property
    def is_connected(self) -> bool: ...

    @property
    def spec(self) -> Any: ...

    @property
    def transport(self) -> Any: ...

    def open(self) -> Any: ...

    def create_session(self, deadline: float | None = None) -> Any: ...

    @property
    def interrupted(self) -> bool: ...

    def raise_if_lost(self, command: str, exc: BaseException) -> None: ...

    def check_alive(self, command: str, result: Any) -> None: ...


#: the environment variable that turns the speed-only internals off ("0")
FAST_PATH_ENV = "FABRICPLUS_FAST_PATH"


def fast_path_enabled(env: Mapping[str, str] | None = None) -> bool:
    value = (os.environ if env is None else env).get(FAST_PATH_ENV, "1").strip().lower()
    return value not in ("0", "false", "no", "off")


class PlainAttributes:
    """fabricplus' ``__init__`` assigns these two (one name-mangled): as class attributes
    they stay plain attributes instead of becoming invoke config keys."""

    _scp: Any = None
    _ConnectionPlus__scp: Any = None


def missing_key_policy(client: Any) -> Any:
    """The client's missing-host-key policy (paramiko has no getter)."""
    return getattr(client, "_policy", None)


def prefix_commands(conn: Any, command: str) -> str:
    """``command`` with invoke's ``cd()``/``prefix()`` state (``Context._prefix_commands``)."""
    prefix = getattr(conn, "_prefix_commands", None)
    return prefix(command) if callable(prefix) else command


#: invoke's Config layers (merged result first): a test changed the config iff one differs
_CONFIG_LAYERS = (
    "_config",
    "_modifications",
    "_deletions",
    "_overrides",
    "_runtime",
    "_env",
    "_collection",
)


def config_changed(config: Any, pristine: Any) -> bool:
    """Whether ``config`` differs from ``pristine`` in any of invoke's layers."""
    return any(
        getattr(config, layer, None) != getattr(pristine, layer, None) for layer in _CONFIG_LAYERS
    )


def run_settings(config: Any) -> Mapping[str, Any]:
    """invoke's merged ``run`` configuration as a plain dict (one DataProxy read, not a dozen)."""
    merged = getattr(config, "_config", None)
    run = merged.get("run") if isinstance(merged, dict) else None
    return run if isinstance(run, dict) else dict(config.run)


#: how often an open connection's paramiko transport thread wakes up when nothing arrives (s)
IDLE_POLL = 1.0


def quiet_transport(transport: Any) -> None:
    """Let an open connection's transport thread sleep while the host is idle.

    paramiko sets its socket's timeout to 0.1 s (``Transport._active_check_timeout``) so that
    the thread notices ``close()``, rekeying and keepalives: ten wake-ups a second per
    connection, each taking the GIL. A worker holding 40 hosts paid ~18 ms of CPU a second for
    nothing, and the test thread lost the GIL to them. After the handshake a longer timeout
    changes none of that: ``close()`` closes the packetizer and socket and does not wait for
    the thread, keepalives (``ServerAliveInterval``, whole seconds) and rekeys are checked as
    before, only less often while idle; data still wakes the thread at once.

    Its reads then go through :class:`GulpReads` (a plain TCP socket only: a ProxyJump
    channel or a ProxyCommand is left as it is).
    """
    sock = getattr(transport, "sock", None)
    if sock is not None and hasattr(sock, "settimeout"):
        with contextlib.suppress(Exception):  # a closed socket, or a proxy without it
            sock.settimeout(IDLE_POLL)
    if not isinstance(sock, socket.socket):
        return  # a ProxyJump channel or a ProxyCommand: read as paramiko reads it
    plain: socket.socket = sock
    packetizer = getattr(transport, "packetizer", None)
    if getattr(packetizer, _PACKETIZER_SOCKET, None) is plain:
        setattr(packetizer, _PACKETIZER_SOCKET, GulpReads(plain))


#: the socket paramiko's ``Packetizer`` reads and writes (name-mangled private attribute)
_PACKETIZER_SOCKET = "_Packetizer__socket"

#: bytes one read of the transport socket asks for (:class:`GulpReads`)
GULP = 65536


class GulpReads:
    """The socket as paramiko's packetizer sees it, read in gulps of up to :data:`GULP`.

    paramiko reads each packet in two exact-size ``recv`` calls (its first cipher block,
    then the rest) and, with a timeout on the socket, each is a ``poll`` and a ``recv``
    system call with the GIL released and taken back around each. sshd answers a command
    with several packets in one segment (exit status, EOF, close): at 300 hosts x 10
    commands a run made ~140,000 context switches, and the transport threads queued for
    the GIL once per read. Here one ``recv`` takes whatever has arrived and the following
    reads are served from it without a system call. Measured at 300 hosts x 10 checks,
    40 ms RTT: ``--fleet`` 9.0 s of client CPU instead of 10.0 s (sys 2.2 s instead of
    2.8 s), ``host_pool`` ~30 % fewer context switches.

    Only paramiko's transport thread reads (after the handshake, the one place this is
    installed: :func:`quiet_transport`); ``send`` and ``close`` are the socket's own, and
    anything else is looked up on the socket. A timeout, a reset or the end of the stream
    come from the socket's ``recv`` as before, once what was read ahead has been served.
    """

    __slots__ = ("_at", "_data", "_sock", "close", "send")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._data = b""
        self._at = 0  # the next unread byte of _data
        self.send = sock.send
        self.close = sock.close

    def recv(self, size: int) -> bytes:
        data, at = self._data, self._at
        if at >= len(data):
            data = self._sock.recv(max(size, GULP))
            if len(data) <= size:
                return data  # all of it (b"": the end of the stream)
            at = 0
        self._data, self._at = data, at + size
        return data[at : at + size]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def send_while_open(channel: Any, msg: Message | None = None) -> bool:
    """Send ``msg`` about ``channel`` (None: the channel's EOF) only while the channel is open,
    and before any CLOSE paramiko's transport thread sends for it; False when it had closed.

    paramiko builds a channel message under the channel's lock but sends it after releasing
    it (``Channel.shutdown``, ``Channel.close``), and its transport thread answers the peer's
    CLOSE under that same lock. A command that ends at once (``hostname``) races the EOF sent
    after its exec request: sshd sends CLOSE, paramiko answers CLOSE, then our EOF leaves --
    and OpenSSH ends the whole connection on a message for a channel it has freed ("ieof
    packet referred to nonexistent channel", seen in CI; a late "signal" request does the
    same). Here the message is sent with the channel's lock held, so the transport thread's
    CLOSE comes after it or the message is not sent at all. The send itself goes past
    ``Transport._send_user_message``: that one waits (up to 30 s) for a key re-exchange to
    end, and a re-exchange cannot end while the transport thread waits for this lock; so the
    lock is only held while no re-exchange runs, and we wait for its end without the lock."""
    transport: Any = channel.transport
    deadline = time.monotonic() + float(getattr(transport, "clear_to_send_timeout", 30.0))
    while True:
        with channel.lock:
            if channel.closed or not channel.active:
                return False
            with transport.clear_to_send_lock:
                if transport.clear_to_send.is_set():
                    if msg is None:
                        msg = channel._send_eof()  # sets eof_sent; None when already sent
                        if msg is None:
                            return True
                    transport._send_message(msg)
                    return True
        if not transport.is_active() or time.monotonic() >= deadline:
            return False
        transport.clear_to_send.wait(0.1)


def send_eof(channel: Any) -> bool:
    """End-of-file on the command's stdin (``Channel.shutdown_write``) without racing the
    channel's CLOSE: see :func:`send_while_open`."""
    return send_while_open(channel)


def send_signal(channel: paramiko.Channel, name: str) -> None:
    """Send an RFC 4254 "signal" request (paramiko has no API for it; OpenSSH >= 7.9 acts),
    unless the channel closed meanwhile (the command had ended: nothing to signal)."""
    msg = Message()
    msg.add_byte(bytes([98]))  # SSH_MSG_CHANNEL_REQUEST
    msg.add_int(channel.remote_chanid)
    msg.add_string("signal")
    msg.add_boolean(False)
    msg.add_string(name)
    send_while_open(channel, msg)


# -- liveness: keepalives with a reply, as OpenSSH's ServerAliveInterval/CountMax ----------

#: OpenSSH's ``ServerAliveInterval`` / ``ServerAliveCountMax`` when the ssh config sets
#: neither: a host that stops answering is declared lost within (3 + 1) x 15 = 60 s (plus
#: up to IDLE_POLL), well inside the default 300 s command timeout; at 300 hosts that is 20
#: small packets a second, none while commands keep a connection busy.
KEEPALIVE_INTERVAL = 15
KEEPALIVE_COUNT_MAX = 3
#: how long a command that reached its deadline waits for the host to answer one keepalive
#: (answered: a slow command, CommandTimeout; not: a silent host, ConnectionLost)
LIVENESS_PROBE = 3.0


class Liveness:
    """Keepalives with a reply on one transport, and the verdict when they go unanswered.

    paramiko's packetizer calls :meth:`_tick` from the transport thread after ``interval``
    seconds without a write (``Packetizer.set_keepalive``, checked when a read times out):
    no thread of ours, nothing on a command's path. Each tick sends
    ``keepalive@openssh.com`` with want-reply (OpenSSH answers every global request it does
    not know with a failure: that is the answer); ``count_max`` ticks without any answer in
    between, and the next tick raises ``SSHException`` in the transport thread, which ends
    it the way a dead socket does: every channel closes, every waiter wakes, and
    :func:`lost_reason` says why. Replies are matched first-in first-out: while one of
    ours is outstanding a reply is ours, otherwise paramiko's (its own global requests).
    """

    def __init__(self, transport: paramiko.Transport) -> None:
        self._transport = weakref.ref(transport)  # the transport holds us, not the reverse
        self.interval = 0
        self.count_max = 0
        self.missed = 0  # keepalives sent since the last answer
        self.outstanding = 0  # our requests not answered yet
        self.replies = 0
        self.lost: str | None = None
        self._first_missed = 0.0
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)
        table: Any = transport._handler_table  # type: ignore[attr-defined]
        for ptype in (MSG_REQUEST_SUCCESS, MSG_REQUEST_FAILURE):
            table[ptype] = functools.partial(self._reply, table[ptype])

    def start(self, interval: int, count_max: int) -> None:
        """Send keepalives every ``interval`` s of silence; 0 turns them off."""
        transport: Any = self._transport()
        self.interval, self.count_max = interval, max(1, count_max)
        if transport is not None:
            transport.packetizer.set_keepalive(interval, self._tick)

    def _send(self) -> None:
        transport: Any = self._transport()
        if transport is None:
            return
        msg = Message()
        msg.add_byte(bytes([80]))  # SSH_MSG_GLOBAL_REQUEST
        msg.add_string("keepalive@openssh.com")
        msg.add_boolean(True)
        with self._lock:
            self.outstanding += 1
        transport._send_user_message(msg)

    def _reply(self, original: Callable[[Message], None], msg: Message) -> None:
        with self._lock:
            self.missed = 0
            self.replies += 1
            ours = self.outstanding > 0
            if ours:
                self.outstanding -= 1
            self._answered.notify_all()
        if not ours:
            original(msg)

    def _tick(self) -> None:
        with self._lock:
            if self.missed >= self.count_max:
                waited = time.monotonic() - self._first_missed
                self.lost = (
                    f"no answer to {self.missed} keepalives in {waited:.0f}s "
                    f"(ServerAliveInterval {self.interval}, ServerAliveCountMax {self.count_max})"
                )
                raise paramiko.SSHException(self.lost)  # ends the transport thread
            if self.missed == 0:
                self._first_missed = time.monotonic()
            self.missed += 1
        self._send()

    def probe(self, timeout: float) -> bool:
        """Whether the server answers one keepalive within ``timeout`` s."""
        transport: Any = self._transport()
        if transport is None or not transport.is_active():
            return False
        with self._lock:
            seen = self.replies
        try:
            self._send()
        except Exception:  # a transport closing under us
            return False
        end = time.monotonic() + timeout
        with self._lock:
            while self.replies == seen:
                remaining = end - time.monotonic()
                if remaining <= 0 or not transport.is_active():
                    return False
                self._answered.wait(min(remaining, 0.1))
        return True

    def declare_lost(self, reason: str) -> None:
        """Close the transport (every waiter wakes) and remember why."""
        self.lost = reason
        transport: Any = self._transport()
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.close()


def liveness(transport: Any) -> Liveness | None:
    """``transport``'s :class:`Liveness` (made on first use: a connection Fabric reopened by
    itself has no keepalives, but its commands still get the probe); None without one."""
    if transport is None:
        return None
    live: Liveness | None = getattr(transport, "_fabricplus_liveness", None)
    if live is None:
        with contextlib.suppress(AttributeError, TypeError):  # not a paramiko Transport
            live = Liveness(transport)
            transport._fabricplus_liveness = live
    return live


def keep_alive(transport: Any, interval: int, count_max: int) -> Liveness | None:
    """Keepalives on ``transport`` as OpenSSH's ServerAliveInterval/ServerAliveCountMax."""
    live = liveness(transport)
    if live is not None:
        live.start(interval, count_max)
    return live


def lost_reason(transport: Any) -> str | None:
    """Why we declared ``transport``'s connection lost (keepalives, silence), if we did."""
    live = getattr(transport, "_fabricplus_liveness", None) if transport is not None else None
    return live.lost if live is not None else None


# -- every wait bounded by the command's deadline --------------------------------------------


class Unanswered(Exception):
    """The server did not answer ``what`` (a channel open or request) before the deadline."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"no answer to {what}")


#: the deadline of the command invoke's runner is starting (FabricPlusConnection.
#: create_session reads it: Fabric's Remote.start calls it without arguments)
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "fabricplus_deadline", default=None
)


def pending_deadline() -> float | None:
    return _DEADLINE.get()


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _wait_reply(channel: Any, deadline: float | None, what: str) -> None:
    """paramiko's ``Channel._wait_for_event``, until ``deadline`` at most. A channel that
    closed (or whose transport died) before the request went out gets no reply: paramiko
    drops a message for a dead transport silently, and the close had set the event before
    the request cleared it; that raises at once instead of waiting for the deadline (or for
    ever without one)."""
    event = channel.event
    transport = channel.get_transport()
    while not event.is_set():
        if channel.closed or transport is None or not transport.is_active():
            break
        if deadline is not None and time.monotonic() >= deadline:
            raise Unanswered(what)
        event.wait(1.0 if deadline is None else min(1.0, _remaining(deadline) or 0.0))
    if channel.event_ready:
        return
    transport = channel.get_transport()
    error = transport.get_exception() if transport is not None else None
    raise error or paramiko.SSHException("Channel closed.")


def bound_requests(channel: Any, deadline: float | None) -> None:
    """Make ``channel``'s requests (pty, exec, subsystem) wait until ``deadline`` at most:
    paramiko waits for their replies without a limit."""
    if deadline is not None:
        channel._wait_for_event = functools.partial(
            _wait_reply, channel, deadline, "a request on a session channel"
        )


def open_session(transport: Any, deadline: float | None) -> paramiko.Channel:
    """A session channel, waiting for the server's confirmation until ``deadline`` at most
    (:class:`Unanswered` after it; paramiko's default is an hour)."""
    try:
        channel = transport.open_session(timeout=_remaining(deadline))
    except paramiko.SSHException:
        if deadline is not None and transport.is_active() and time.monotonic() >= deadline:
            raise Unanswered("the channel open") from None
        raise
    bound_requests(channel, deadline)
    return typing.cast(paramiko.Channel, channel)


def start_exec(channel: Any, command: str, deadline: float | None, eof: bool = True) -> None:
    """paramiko's ``exec_command``, waiting for the reply until ``deadline`` at most; with
    ``eof``, stdin at end-of-file (``ssh -n``), sent before the reply is awaited: no extra
    round trip (sshd starts the command before it reads the EOF that follows the request)."""
    request_exec(channel, command, eof)
    exec_reply(channel, deadline)


def request_exec(channel: Any, command: str, eof: bool = True) -> None:
    """The first half of :func:`start_exec`: the exec request (and stdin's EOF) sent, its
    reply not awaited (:func:`exec_reply`), so one thread can start commands on many hosts."""
    msg = Message()
    msg.add_byte(bytes([98]))  # SSH_MSG_CHANNEL_REQUEST
    msg.add_int(channel.remote_chanid)
    msg.add_string("exec")
    msg.add_boolean(True)
    msg.add_string(command)
    channel._event_pending()
    channel.transport._send_user_message(msg)
    if eof:
        send_eof(channel)


def exec_reply(channel: Any, deadline: float | None) -> None:
    """The second half of :func:`start_exec`: the exec request's reply, until ``deadline``."""
    _wait_reply(channel, deadline, "the exec request")


def data_event(channel: paramiko.Channel, event: threading.Event | None = None) -> threading.Event:
    """An event (``event``, else a new one) set when ``channel`` has stdout or stderr data,
    or got EOF, or closed -- what ``Channel.fileno()`` offers to ``select``, without its OS
    pipe. The channel's input buffers (``in_buffer``/``in_stderr_buffer``, paramiko
    ``BufferedPipe``: public ``set_event``, private attribute names) share it; a read that
    empties either buffer clears it, so a waiter reads BOTH streams before it waits again
    (as ``select`` on the pipe requires too)."""
    if event is None:
        event = threading.Event()
    for buffer in (channel.in_buffer, channel.in_stderr_buffer):
        buffer.set_event(event)
    if channel.recv_ready() or channel.recv_stderr_ready() or channel.closed:
        event.set()
    return event


class Notifying(threading.Event):
    """An event that also sets another one, ``also`` (never clears it; None: none)."""

    def __init__(self, also: threading.Event | None = None) -> None:
        super().__init__()
        self.also = also

    def set(self) -> None:
        super().set()
        also = self.also
        if also is not None:
            also.set()


def notify(channel: paramiko.Channel, event: threading.Event) -> None:
    """Make ``channel`` set ``event`` when data, EOF, its exit status or its close arrives,
    so that one thread can wait for many channels (``HostPool.run``). Call it before the
    exec request: paramiko's status event (``Channel.status_event``, undocumented) is
    replaced by one that also sets ``event``; the input buffers get one through their public
    ``set_event``. A read that empties a buffer clears only the buffer's own event."""
    status = Notifying(event)
    if channel.status_event.is_set():
        status.set()
    channel.status_event = status
    for buffer in (channel.in_buffer, channel.in_stderr_buffer):
        buffer.set_event(Notifying(event))
    if channel.closed:
        event.set()


def expired(
    conn: DirectConnection, command: str, limit: float, unanswered: str | None = None
) -> Exception:
    """What a command's passed deadline means: :class:`CommandTimeout` while the host still
    answers a keepalive, else :class:`ConnectionLost` (and the transport is closed, so the
    next command reconnects instead of waiting again). ``unanswered``: the request the
    server left without an answer (a channel open, an exec request)."""
    host = conn.spec.describe()
    transport = conn.transport
    live = liveness(transport)
    if transport is None or live is None or not transport.is_active():
        return ConnectionLost(host, command, lost_reason(transport) or "the SSH connection closed")
    if live.probe(LIVENESS_PROBE):
        return CommandTimeout(host, command, limit)
    what = f" to {unanswered}" if unanswered else ""
    reason = (
        f"no answer from the SSH server{what} within {limit:g}s (--command-timeout), nor to a "
        f"keepalive within {LIVENESS_PROBE:g}s; the connection was closed"
    )
    live.declare_lost(reason)
    return ConnectionLost(host, command, reason)


def open_sftp(transport: Any, limit: float | None) -> paramiko.SFTPClient:
    """paramiko's ``SFTPClient.from_transport`` with every wait bounded by ``limit`` s: the
    channel open, the subsystem request, and each SFTP reply (the channel's timeout: a
    transfer that makes no progress for ``limit`` s raises ``TimeoutError``)."""
    deadline = None if limit is None else time.monotonic() + limit
    channel = open_session(transport, deadline)
    channel.invoke_subsystem("sftp")
    channel.settimeout(limit)
    client = paramiko.SFTPClient(channel)
    return client


def exit_status_event(channel: paramiko.Channel) -> threading.Event:
    """The event paramiko sets when the exit status arrives (``Channel.status_event``, an
    undocumented attribute: the public ``exit_status_ready()`` can only be polled)."""
    event: threading.Event = channel.status_event
    return event


def kill(channel: paramiko.Channel) -> None:
    """Kill the command of ``channel`` on its host, never raising: a "signal" request for
    ``KILL`` (OpenSSH >= 7.9 sends it to the session's process group)."""
    with contextlib.suppress(Exception):  # the transport may be closing
        send_signal(channel, "KILL")


class KillingRemote(Remote):  # type: ignore[misc]
    """Fabric's runner; on timeout or interruption the command is killed on the host, not
    just abandoned."""

    _killed = False
    _deadline: float | None = None

    def start(self, command: str, shell: str, env: Any, timeout: float | None = None) -> None:
        # invoke starts its timer only after start() returned: the channel open and the
        # exec (and pty) request waited without a limit. The deadline starts here, and
        # FabricPlusConnection.create_session reads it (Fabric calls it without arguments).
        limit = self.opts.get("timeout")
        self._deadline = None if not limit else time.monotonic() + limit
        token = _DEADLINE.set(self._deadline)
        try:
            super().start(command, shell, env, timeout)
        finally:
            _DEADLINE.reset(token)
        # in_stream=False is invoke's "do not forward stdin"; give the command end-of-file
        # as ssh -n does, unless watchers may answer on stdin or a pty is the terminal
        # (OpenSSH's sshd does not pass EOF to a pty either)
        if (
            self.opts.get("in_stream") is False
            and not self.opts.get("watchers")
            and not self.using_pty
        ):
            send_eof(self.channel)

    def kill(self) -> None:
        # Mark first: invoke's timer thread runs kill(), and once the signal ends the command
        # the main thread asks timed_out, which invoke answers by "the timer thread has
        # finished" -- still False while this method runs, so the timeout came out as an
        # UnexpectedExit with exit -1 (a race seen in CI).
        self._killed = True
        # invoke only closes the channel; a command without a pty keeps running on the host
        with contextlib.suppress(Exception):
            send_signal(self.channel, "KILL")
        super().kill()

    @property
    def timed_out(self) -> bool:
        return self._killed or bool(super().timed_out)

    def send_interrupt(self, interrupt: KeyboardInterrupt) -> None:
        # invoke forwards Ctrl-C and keeps waiting (Fabric: "\x03" on a pty, else re-raise);
        # a run being stopped must not leave the command running on the host: kill, re-raise
        kill(self.channel)
        raise interrupt


class FastRemote(KillingRemote):
    """... and without invoke's polling delays and timer thread."""

    def start_timer(self, timeout: float | None) -> None:
        # invoke starts a threading.Timer per command; wait() below keeps the deadline
        # instead, counted from start() (which invoke calls first)
        if self._deadline is None and timeout:
            self._deadline = time.monotonic() + timeout

    def wait(self) -> None:
        # invoke polls process_is_finished every input_sleep (10 ms); block on the event
        # paramiko sets when the exit status arrives, still noticing dead IO threads.
        status = exit_status_event(self.channel)
        while True:
            step = 0.05
            if self._deadline is not None:
                remaining = self._deadline - time.monotonic()
                if remaining <= 0:
                    self.kill()
                    return
                step = min(step, remaining)
            if status.wait(step) or self.has_dead_threads:
                return
            if getattr(self.context, "interrupted", False):  # the run is stopping
                kill(self.channel)
                spec = getattr(self.context, "spec", None)
                host = spec.describe() if spec is not None else str(self.context.host)
                command = getattr(self, "result_kwargs", {}).get("command", "")
                raise RunInterrupted(host, f"running {command!r}")


#: run() keywords the direct channel path handles; any other keyword goes through invoke
class Spare:
    """A session channel requested ahead of time: CHANNEL_OPEN sent, confirmation pending.

    Opening a channel costs a round trip (CHANNEL_OPEN -> OPEN_CONFIRMATION) before the exec
    request's; with a spare ready, ``run()`` costs one round trip instead of two.
    paramiko's ``Transport.open_session`` sends the request and then blocks until the server
    confirms. This does its first half (the same steps, under the transport's lock) and
    returns at once; the transport thread records the confirmation, :meth:`take` waits for
    it. No thread per command: starting one waited for the GIL on the command's path.
    If paramiko's internals differ (another version), the request is simply not made and
    the caller opens a channel the usual way.
    """

    def __init__(self, transport: paramiko.Transport) -> None:
        self.transport = transport
        self.chanid: int | None = None
        self.event: threading.Event | None = None
        # paramiko's channel map holds weak references: keep the channel alive until taken
        self.channel: Any = None
        with contextlib.suppress(Exception):  # transport closing, or other paramiko internals
            self._request()

    def _request(self) -> None:
        t: Any = self.transport
        with t.lock:  # as paramiko's Transport.open_channel("session")
            window = t._sanitize_window_size(None)
            packet = t._sanitize_packet_size(None)
            chanid = t._next_channel()
            msg = Message()
            msg.add_byte(bytes([90]))  # SSH_MSG_CHANNEL_OPEN
            msg.add_string("session")
            msg.add_int(chanid)
            msg.add_int(window)
            msg.add_int(packet)
            channel: Any = paramiko.Channel(chanid)
            t._channels.put(chanid, channel)
            t.channel_events[chanid] = event = threading.Event()
            t.channels_seen[chanid] = True
            channel._set_transport(t)
            channel._set_window(window, packet)
        self.channel = channel
        t._send_user_message(msg)
        self.chanid, self.event = chanid, event

    def take(self, timeout: float | None) -> paramiko.Channel | None:
        """The confirmed channel, or None (refused, transport gone, not confirmed in time)."""
        if self.event is None:
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.event.wait(0.1):  # as paramiko: notice a transport that died
            if not self.transport.is_active():
                return None
            if deadline is not None and time.monotonic() > deadline:
                return None
        channel, self.channel = self.channel, None
        if channel is None or channel.closed or not channel.active:
            return None  # refused: paramiko dropped it from its map and set the event
        return typing.cast(paramiko.Channel, channel)

    def discard(self) -> None:
        """Close the channel if the server confirmed it; never wait (the connection is closing,
        and a hung host must not hold ``close_all`` up)."""
        channel, self.channel = self.channel, None
        confirmed = self.event is not None and self.event.is_set()
        if channel is not None and confirmed and channel.active and not channel.closed:
            with contextlib.suppress(Exception):
                channel.close()


# -- host keys: our verification, our algorithm order (hostkeys.py decides, these install) --


def clear_host_keys(client: paramiko.SSHClient) -> None:
    """Empty the client's parsed host keys, so that paramiko never compares a server key
    itself and our missing-host-key policy is the single judge (``hostkeys.py``).

    paramiko compares the server key with its own ``HostKeys`` (no ``@cert-authority``, no
    ``@revoked``; another key type is a ``BadHostKeyException``), and has no setter for them.
    """
    client._system_host_keys = paramiko.HostKeys()  # type: ignore[attr-defined]
    client._host_keys = paramiko.HostKeys()  # type: ignore[attr-defined]


class OrderedKeysTransport(paramiko.Transport):
    """A Transport that offers host-key algorithms in an order computed for its host.

    ``SecurityOptions.key_types`` cannot put certificate algorithms first (paramiko appends
    the ``*-cert-v01`` variants after the plain types in ``preferred_keys``): this overrides
    that property with ``key_order(paramiko's list)``.
    """

    key_order: Callable[[tuple[str, ...]], tuple[str, ...]] | None = None

    @property
    def preferred_keys(self) -> tuple[str, ...]:
        base = tuple(super().preferred_keys)
        order = self.key_order
        return base if order is None else order(base)


class _TransportFactoryClient(paramiko.SSHClient):
    """Passes ``transport_factory`` on to ``SSHClient.connect``: fabricplus'
    ``SSHJumpClient.connect`` has a fixed argument list without it."""

    _fp_transport_factory: Callable[..., paramiko.Transport] | None = None

    def connect(self, *args: Any, **kwargs: Any) -> None:
        if self._fp_transport_factory is not None:
            kwargs.setdefault("transport_factory", self._fp_transport_factory)
        super().connect(*args, **kwargs)


_FACTORY_CLASSES: dict[type, type] = {}
_FACTORY_LOCK = threading.Lock()


def order_host_key_algorithms(
    client: paramiko.SSHClient, order: Callable[[tuple[str, ...]], tuple[str, ...]]
) -> None:
    """Make ``client`` offer host-key algorithms in ``order(paramiko's default)``.

    The client's class becomes a subclass with :class:`_TransportFactoryClient` between it
    and ``SSHClient`` (so ``SSHJumpClient.connect``'s ``super().connect`` reaches it), and
    its transports are :class:`OrderedKeysTransport`.
    """
    cls = type(client)
    if not issubclass(cls, _TransportFactoryClient):
        with _FACTORY_LOCK:
            sub = _FACTORY_CLASSES.get(cls)
            if sub is None:
                bases = (cls, _TransportFactoryClient)
                sub = (
                    _TransportFactoryClient
                    if cls is paramiko.SSHClient
                    else type(f"{cls.__name__}Ordered", bases, {})
                )
                _FACTORY_CLASSES[cls] = sub
        client.__class__ = sub

    def factory(sock: Any, **kwargs: Any) -> paramiko.Transport:
        transport = OrderedKeysTransport(sock, **kwargs)
        transport.key_order = order
        return transport

    client._fp_transport_factory = factory  # type: ignore[attr-defined]
