"""Build, open and keep SSH connections: a thin ``ConnectionPlus`` subclass and a registry.

Upstream behaviour worked around here, each at one place:

* fabricplus' ``ConnectionPlus.__init__`` installs paramiko's ``WarningPolicy`` (accept any host
  key) and Fabric's ``Connection`` installs ``AutoAddPolicy`` on ProxyJump gateways: we replace
  both with the policy the user chose (``reject`` by default).
* paramiko never sets ``TCP_NODELAY``: every command then pays a ~40 ms delayed-ACK stall. We
  open the TCP socket ourselves, set it, and hand it to paramiko.
* Fabric truncates ``connect_timeout`` to ``int`` (0.5 s becomes "no timeout"): we keep the float.
* fabricplus' string ``jumphost_target`` connects to the *target* address instead of the jump
  host, so we always pass an opened jump connection object instead.
* invoke's runner polls for the exit status every 10 ms (``input_sleep``) and starts a stdin
  thread: :class:`FastRemote` waits on paramiko's exit-status event instead.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import dataclasses
import hashlib
import logging
import os
import socket
import sys
import threading
import time
import typing
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import paramiko
from fabric import Config
from fabric.runners import Remote, Result
from fabricplus.connection import ConnectionPlus
from invoke.exceptions import CommandTimedOut, UnexpectedExit
from invoke.runners import default_encoding, normalize_hide
from paramiko.message import Message

from .errors import CommandTimeout, ConfigError, ConnectionLost, HostKeyError, HostUnreachable
from .hostspec import DEFAULT_SSH_PORT, Address, HostSpec
from .pool import POOL_THREAD_PREFIX
from .privilege import PrivilegeRunner
from .runas import RunAs
from .settings import Settings, check_password_variables

log = logging.getLogger("pytest_fabricplus")
# paramiko has no handler of its own: without one, errors its transport thread logs while we
# abandon a failed handshake (e.g. a blackhole host) go to stderr through logging's
# last-resort handler. A NullHandler keeps them to configured logging (pytest captures them).
logging.getLogger("paramiko").addHandler(logging.NullHandler())
_T = TypeVar("_T")


class Secret(str):
    """A string that never shows its value in ``repr`` (tracebacks, ``--showlocals``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'********'"


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(host: str, port: int) -> str:
    return host if port == DEFAULT_SSH_PORT else f"[{host}]:{port}"


class HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """What to do with a host key that no known_hosts file lists."""

    def __init__(self, policy: str, known_hosts: list[str]) -> None:
        self.policy = policy
        self.known_hosts = known_hosts
        self.accepted: list[str] = []  # warnings given under "warn", shown in the summary

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        if self.policy == "accept":
            return
        text = f"{key.get_name()} key {fingerprint(key)} of {hostname}"
        if self.policy == "warn":
            message = f"accepting unknown host key: {text} (--host-key-policy=warn)"
            log.warning(message)
            self.accepted.append(message)
            return
        host, _, port = hostname.strip("[").partition("]:")
        scan = f"ssh-keyscan{' -p ' + port if port else ''} {host}"
        searched = (
            f"not in {', '.join(self.known_hosts)}" if self.known_hosts else "no known_hosts file"
        )
        raise HostKeyError(
            hostname,
            f"unknown host key ({text}; {searched}). Verify the fingerprint, then add it "
            f"with `{scan} >> ~/.ssh/known_hosts` or pass --known-hosts FILE; "
            "--host-key-policy=accept skips the check (not recommended)",
        )


def changed_key_message(exc: paramiko.BadHostKeyException, name: str, files: list[str]) -> str:
    return (
        f"host key CHANGED for {name}: known_hosts has {exc.expected_key.get_name()} "
        f"{fingerprint(exc.expected_key)}, the server sent {exc.key.get_name()} "
        f"{fingerprint(exc.key)}. This can mean a man-in-the-middle attack. If the change is "
        f"expected, remove the old key with `ssh-keygen -R '{name}'"
        + (f" -f {files[-1]}" if files else "")
        + "` and add the new one"
    )


class FastRemote(Remote):  # type: ignore[misc]
    """Fabric's remote runner, without its polling delays, killing the command on timeout."""

    _killed = False
    _deadline: float | None = None

    def start_timer(self, timeout: float | None) -> None:
        # invoke starts a threading.Timer per command; wait() below keeps the deadline instead
        self._deadline = None if timeout is None else time.monotonic() + timeout

    def wait(self) -> None:
        # invoke polls process_is_finished every input_sleep (10 ms); block on the event
        # paramiko sets when the exit status arrives, still noticing dead IO threads.
        status = self.channel.status_event
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

    @property
    def timed_out(self) -> bool:
        # invoke decides "timed out" by its timer thread having ended; we have none
        return self._killed

    def kill(self) -> None:
        # invoke only closes the channel; a command without a pty keeps running on the
        # host. OpenSSH (>= 7.9) accepts a "signal" channel request: send KILL first.
        self._killed = True
        with contextlib.suppress(Exception):
            send_signal(self.channel, "KILL")
        super().kill()


def send_signal(channel: paramiko.Channel, name: str) -> None:
    """Send an RFC 4254 "signal" request (paramiko has no API for it)."""
    msg = Message()
    msg.add_byte(bytes([98]))  # SSH_MSG_CHANNEL_REQUEST
    msg.add_int(channel.remote_chanid)
    msg.add_string("signal")
    msg.add_boolean(False)
    msg.add_string(name)
    transport: Any = channel.get_transport()
    transport._send_user_message(msg)


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
#: run() keywords the direct channel path handles; any other keyword goes through invoke
_DIRECT_KWARGS = frozenset({"hide", "warn", "timeout", "encoding"})


class _Stream:
    """One output stream of a channel: kept as bytes, echoed decoded unless hidden."""

    def __init__(self, recv: Callable[[int], bytes], echo: Any, encoding: str) -> None:
        self.recv = recv
        self.chunks: list[bytes] = []
        self.echo = echo
        self.encoding = encoding
        self.decoder: codecs.IncrementalDecoder | None = None
        if echo is not None:
            with contextlib.suppress(LookupError):  # a codec without an incremental decoder
                self.decoder = codecs.getincrementaldecoder(encoding)("replace")

    def read(self) -> bool:
        """Read what is there (blocking up to the channel's timeout); False at EOF."""
        data = self.recv(65536)
        if not data:
            return False
        self.chunks.append(data)
        if self.echo is not None:
            if self.decoder is not None:
                text = self.decoder.decode(data)
            else:
                text = data.decode(self.encoding, "replace")
            self.echo.write(text)
            self.echo.flush()
        return True

    def text(self) -> str:
        if self.decoder is not None and self.echo is not None:
            tail = self.decoder.decode(b"", final=True)
            if tail:
                self.echo.write(tail)
                self.echo.flush()
        return b"".join(self.chunks).decode(self.encoding, "replace")


class FabricPlusConnection(ConnectionPlus):
    """The ``connection`` fixture's object: a ``ConnectionPlus`` for one inventory host.

    Adds: the host's :class:`HostSpec`, a default command timeout whose expiry raises
    :class:`CommandTimeout` naming host and command, and :meth:`reset` of per-test state.
    """

    spec: HostSpec
    command_timeout: float | None
    # fabricplus' __init__ assigns these two: invoke's DataProxy turns an assignment to a name
    # that is not a real attribute into a config key, and every config key set re-merges the
    # whole configuration (~1 ms each). As class attributes they stay plain attributes.
    _scp: Any = None
    _ConnectionPlus__scp: Any = None
    _run_as: RunAs | None
    _privilege: PrivilegeRunner
    _resolve_run_as: Callable[..., RunAs]

    def _remote_runner(self) -> Remote:
        return FastRemote(context=self, inline_env=self.inline_ssh_env)

    def _timed(self, call: Callable[..., _T], command: str, kwargs: dict[str, Any]) -> _T:
        __tracebackhide__ = True  # pytest: show the test's line, not ours
        kwargs.setdefault("timeout", self.command_timeout)
        try:
            result = call(command, **kwargs)
        except CommandTimedOut as exc:
            raise CommandTimeout(self.spec.describe(), command, exc.timeout) from None
        except UnexpectedExit as exc:
            self._check_alive(command, exc.result)
            raise
        except (EOFError, OSError, paramiko.SSHException) as exc:
            self._raise_if_lost(command, exc)
            raise
        self._check_alive(command, result)
        return result

    def _raise_if_lost(self, command: str, exc: BaseException) -> None:
        """An I/O error on a dead transport is a lost connection; on a live one, the caller
        re-raises it as it is."""
        if not self._transport_alive():
            raise ConnectionLost(
                self.spec.describe(), command, f"{type(exc).__name__}: {exc}"
            ) from None

    def _transport_alive(self) -> bool:
        transport = self.transport
        return transport is not None and bool(transport.is_active())

    def _check_alive(self, command: str, result: Any) -> None:
        # A channel cut by a dying connection ends with exit status -1: that is no answer
        if getattr(result, "exited", None) == -1 and not self._transport_alive():
            raise ConnectionLost(self.spec.describe(), command, "the SSH connection closed")

    def run(self, command: str, **kwargs: Any) -> Any:
        """Fabric's ``run``; as another user while :meth:`as_user` (or ``su_user``) is active.

        The common call (keywords among hide, warn, timeout, encoding; no pty, echo, env,
        watchers or streams configured) reads the channel directly instead of through
        invoke's runner: same :class:`Result`, same errors, output still streamed to
        ``sys.stdout``/``sys.stderr`` unless hidden. invoke starts three IO threads and
        merges its configuration per command (~3 ms of CPU); over a fleet, in threads
        sharing the GIL, that is most of a check's time.
        """
        __tracebackhide__ = True
        run_as = self._run_as
        if run_as is not None:
            return self._privilege.run(self, run_as, command, **kwargs)
        run = self._run_settings()
        if self._direct_ok(kwargs, run):
            return self._run_direct(command, run, **kwargs)
        return self._timed(super().run, command, kwargs)

    def _run_settings(self) -> Mapping[str, Any]:
        # invoke's merged configuration as a plain dict: each attribute read through its
        # DataProxy costs ~15 us, and run() needs a dozen of them per command
        merged = getattr(self.config, "_config", None)
        run = merged.get("run") if isinstance(merged, dict) else None
        return run if isinstance(run, dict) else dict(self.config.run)

    def _direct_ok(self, kwargs: Mapping[str, Any], run: Mapping[str, Any]) -> bool:
        if not _DIRECT_KWARGS.issuperset(kwargs) or self.forward_agent:
            return False
        get = run.get
        return not (
            get("pty")
            or get("echo")
            or get("env")
            or get("watchers")
            or get("asynchronous")
            or get("disown")
            or get("dry")
            or get("out_stream") is not None
            or get("err_stream") is not None
        )

    def _run_direct(
        self,
        command: str,
        config: Mapping[str, Any],
        hide: Any = None,
        warn: bool | None = None,
        timeout: float | None = None,
        encoding: str | None = None,
    ) -> Any:
        __tracebackhide__ = True
        hidden = normalize_hide(config.get("hide") if hide is None else hide)
        warn = bool(config.get("warn") if warn is None else warn)
        encoding = encoding or config.get("encoding") or default_encoding()
        limit = self.command_timeout if timeout is None else timeout
        deadline = None if limit is None else time.monotonic() + limit
        if not self.is_connected:
            self.open()
        channel = self.create_session()  # takes the spare, requests the next one
        out = _Stream(channel.recv, None if "stdout" in hidden else sys.stdout, encoding)
        err = _Stream(channel.recv_stderr, None if "stderr" in hidden else sys.stderr, encoding)
        try:
            # paramiko waits for the exec request's reply: the next spare, requested just
            # before, is confirmed during that round trip
            channel.exec_command(self._prefix_commands(command))
            status = channel.status_event
            while True:
                flowing = False
                while channel.recv_ready():
                    flowing = out.read()
                while channel.recv_stderr_ready():
                    flowing = err.read()
                if status.is_set():
                    break
                step = 0.002 if flowing else 0.05
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        with contextlib.suppress(Exception):
                            send_signal(channel, "KILL")
                        raise CommandTimeout(self.spec.describe(), command, limit or 0)
                    step = min(step, remaining)
                status.wait(step)
            # the exit status can precede the last output: read both streams to their EOF
            channel.settimeout(max(1.0, (deadline - time.monotonic()) if deadline else 30.0))
            while out.read():
                pass
            while err.read():
                pass
            exited = channel.recv_exit_status()
        except (EOFError, OSError, paramiko.SSHException) as exc:
            self._raise_if_lost(command, exc)
            raise
        finally:
            channel.close()
        result = Result(
            stdout=out.text(),
            stderr=err.text(),
            encoding=encoding,
            command=command,
            shell=config.get("shell"),
            env={},
            exited=exited,
            pty=False,
            hide=hidden,
            connection=self,
        )
        self._check_alive(command, result)
        if exited != 0 and not warn:
            raise UnexpectedExit(result)
        return result

    @property
    def host_key_warnings(self) -> list[str]:
        """Unknown host keys accepted under ``--host-key-policy=warn`` (this hop and gateways)."""
        found: list[str] = []
        hop: Any = self
        while hop is not None and not isinstance(hop, str):
            policy = getattr(getattr(hop, "client", None), "_policy", None)
            found.extend(getattr(policy, "accepted", []))
            hop = getattr(hop, "gateway", None)
        return found

    @property
    def testinfra(self) -> Any:
        """testinfra's ``Host`` over this connection, for the user active now.

        Needs the ``[testinfra]`` extra (``pip install pytest-fabricplus[testinfra]``).
        """
        from .testinfra_backend import testinfra_host  # the optional extra: on first use

        return testinfra_host(self)

    def run_plain(self, command: str, **kwargs: Any) -> Any:
        """``run`` as the login user, whatever user is active."""
        __tracebackhide__ = True
        return self._timed(super().run, command, kwargs)

    @contextlib.contextmanager
    def as_user(
        self,
        user: str,
        method: str | None = None,
        password_env: str | None = None,
        login: bool = True,
    ) -> Iterator[FabricPlusConnection]:
        """Run this block's ``run()`` calls as ``user`` (su, sudo, or auto-detected)."""
        previous = self._run_as
        run_as = self._resolve_run_as(self.spec, user, method, password_env, login)
        self._note_user(run_as)
        self._set(_run_as=run_as)
        try:
            yield self
        finally:
            self._set(_run_as=previous)

    @property
    def run_as(self) -> RunAs | None:
        return self._run_as

    def set_run_as(self, run_as: RunAs | None) -> None:
        if run_as is not None:
            self._note_user(run_as)
        self._set(_run_as=run_as)

    def _note_user(self, run_as: RunAs) -> None:
        self._set(_users_used=[*self.users_used, run_as])

    @property
    def users_used(self) -> list[RunAs]:
        """Every user this test's commands were set to run as (marker, ``as_user``)."""
        return list(self.__dict__.get("_users_used") or [])

    def sudo(self, command: str, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        return self._timed(super().sudo, command, kwargs)

    def su(
        self,
        command: str,
        user: str,
        password: str | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """fabricplus' ``su()``, corrected: our :class:`~pytest_fabricplus.privilege.Su`.

        Same arguments; the password defaults to the configured su password (inventory,
        ``--su-password-env``), then, as fabricplus does, to the login password. The command
        is quoted for the target user's shell, the output has no prompt and no CRLF, and a
        wrong password is a ``PrivilegeError`` naming user and host.
        """
        __tracebackhide__ = True
        run_as = self._resolve_run_as(self.spec, user, "su")
        secret = password or run_as.su_password or self.connect_kwargs.get("password")
        run_as = dataclasses.replace(run_as, su_password=Secret(secret) if secret else None)
        if timeout is not None:
            kwargs["timeout"] = timeout
        return self._privilege.run(self, run_as, command, **kwargs)

    def attach(
        self,
        spec: HostSpec,
        command_timeout: float | None,
        privilege: PrivilegeRunner,
        resolve_run_as: Callable[..., RunAs],
    ) -> None:
        # invoke's DataProxy turns unknown attribute sets into config keys: use _set
        self._set(
            spec=spec,
            command_timeout=command_timeout,
            _privilege=privilege,
            _resolve_run_as=resolve_run_as,
            _run_as=None,
        )

    def remember_state(self) -> None:
        """Snapshot the configuration :meth:`reset` restores; once, before a test first gets
        the connection (the fixtures call it), not while opening: a clone is ~1 ms of CPU
        that pre-flight of many hosts need not pay."""
        if "_pristine" not in self.__dict__:
            self._set(_pristine=self.config.clone())

    def reset(self) -> None:
        """Forget what a test changed: cwd (``cd``), prefixes, config (env, sudo password)."""
        # _set: invoke's DataProxy.__setattr__ costs a dir() per attribute
        self._set(command_cwds=[], command_prefixes=[], _run_as=None, _users_used=[])
        pristine = self.__dict__.get("_pristine")
        if pristine is not None and self._config_changed(pristine):
            self._set(config=pristine.clone())  # a clone costs ~1 ms: only when needed

    def _config_changed(self, pristine: Any) -> bool:
        config = self.config
        return any(
            getattr(config, layer, None) != getattr(pristine, layer, None)
            for layer in _CONFIG_LAYERS
        )

    # -- a session channel opened ahead of time: one round trip less per command ------------
    def create_session(self) -> Any:
        """A new session channel; the next one is opened in the background meanwhile.

        Opening a channel costs a round trip (CHANNEL_OPEN -> OPEN_CONFIRMATION) before the
        exec request's; with the spare ready, ``run()`` costs one round trip instead of two.
        """
        if self.forward_agent:
            return super().create_session()  # Fabric wires agent forwarding per channel
        spare: _Spare | None = self.__dict__.get("_spare")
        self._set(_spare=None)
        channel = spare.take(timeout=self.connect_timeout) if spare is not None else None
        if channel is None:
            channel = super().create_session()
        self._prefetch()
        return channel

    def _prefetch(self) -> None:
        transport = self.transport
        if transport is not None and transport.is_active():
            self._set(_spare=_Spare(transport))

    def close(self) -> None:
        spare: _Spare | None = self.__dict__.get("_spare")
        if spare is not None:
            spare.discard()
            self._set(_spare=None)
        # Fabric's close() only acts when ``transport`` was set, i.e. after a *successful*
        # connect: a handshake that failed (host key, auth) leaves paramiko's transport thread
        # and socket open. It also leaves a ProxyJump gateway open. Close all of them.
        super().close()
        hop: Any = self
        while hop is not None and not isinstance(hop, str):
            client = getattr(hop, "client", None)
            if client is not None:
                client.close()
            if hop is not self and hasattr(hop, "close"):
                hop.close()
            hop = getattr(hop, "gateway", None)

    def __repr__(self) -> str:
        return f"<FabricPlusConnection {self.spec.describe()}>"


class _Spare:
    """A session channel requested ahead of time: CHANNEL_OPEN sent, confirmation pending.

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


class KnownHostsCache:
    """known_hosts files parsed once per process (per set of files and their mtimes).

    paramiko re-parses a known_hosts file for every client (~40 ms for 200 lines, under the
    logging lock): with hundreds of hosts opened concurrently that dominated pre-flight. The
    parsed keys are only read (our policies never add keys), so one object serves all clients.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[tuple[str, float], ...], paramiko.HostKeys] = {}
        self._lock = threading.Lock()

    def get(self, files: list[str]) -> tuple[paramiko.HostKeys, list[str]]:
        found: list[tuple[str, float]] = []
        for path in files:
            full = os.path.expanduser(path)
            if os.path.isfile(full) and full not in (f for f, _ in found):
                found.append((full, os.stat(full).st_mtime))
        key = tuple(found)
        with self._lock:
            keys = self._cache.get(key)
            if keys is None:
                keys = paramiko.HostKeys()
                for full, _ in found:
                    try:
                        keys.load(full)
                    except (OSError, paramiko.SSHException) as exc:
                        raise ConfigError(f"cannot read known_hosts file {full}: {exc}") from None
                self._cache[key] = keys
        return keys, [f for f, _ in found]


def _apply_host_key_policy(conn: Any, settings: Settings, cache: KnownHostsCache) -> None:
    """Install our policy and known_hosts on ``conn`` and on any ProxyJump gateway chain."""
    while conn is not None and hasattr(conn, "client"):
        ssh_config: Mapping[str, Any] = getattr(conn, "ssh_config", {}) or {}
        files = ["~/.ssh/known_hosts"]
        for key in ("userknownhostsfile", "globalknownhostsfile"):
            value = ssh_config.get(key)
            files.extend(value if isinstance(value, list) else str(value).split() if value else [])
        if settings.known_hosts:
            files.append(settings.known_hosts)
        files.extend(settings.extra_known_hosts)
        keys, loaded = cache.get(files)
        # paramiko's SSHClient reads "system" host keys from this attribute (no setter exists)
        conn.client._system_host_keys = keys
        conn.client.set_missing_host_key_policy(HostKeyPolicy(settings.host_key_policy, loaded))
        gateway = getattr(conn, "gateway", None)
        conn = gateway if not isinstance(gateway, str) else None


class Connector:
    """Turns a :class:`HostSpec` into an open :class:`FabricPlusConnection`.

    Holds the run's settings and the environment passwords are read from; creates one Fabric
    ``Config`` and clones it per host.
    """

    def __init__(
        self,
        settings: Settings,
        env: Mapping[str, str] | None = None,
        privilege: PrivilegeRunner | None = None,
    ) -> None:
        self.settings = settings
        self.env = dict(os.environ if env is None else env)
        self.privilege = privilege or PrivilegeRunner()
        overrides = {"run": {"in_stream": False}, "timeouts": {"command": settings.command_timeout}}
        # Fabric 3.2's Config.clone() re-reads the ssh config files into the *original*
        # (self.load_ssh_config() where new's was meant), so a base cloned per host grows by
        # two entries per connection and every clone copies more. A clone is built from an
        # explicit SSHConfig object and never re-reads files: clone once, then clone that.
        self._config = Config(runtime_ssh_path=settings.ssh_config, overrides=overrides).clone()
        self.known_hosts = KnownHostsCache()

    def check_secrets(self, specs: list[HostSpec]) -> None:
        """Fail before any connection when a named password variable is not set."""
        check_password_variables(self.settings, self.env, specs)

    def _secret(self, var: str | None, what: str) -> str | None:
        if not var:
            return None
        if var not in self.env:
            raise ConfigError(f"environment variable {var} ({what}) is not set")
        return Secret(self.env[var])

    def run_as_for(
        self,
        spec: HostSpec,
        user: str,
        method: str | None = None,
        password_env: str | None = None,
        login: bool = True,
    ) -> RunAs:
        """Who/how to run as on ``spec``: marker > inventory > command line > ``auto``."""
        s = self.settings
        chosen = method or spec.vars.get("su_method") or s.su_method or "auto"
        su_var = password_env or spec.vars.get("su_password_env") or s.su_password_env
        sudo_var = (
            spec.vars.get("sudo_password_env")
            or s.sudo_password_env
            or spec.password_env
            or s.ssh_password_env
        )
        return RunAs(
            user=user,
            method=chosen,
            su_password=self._secret(su_var, f"the su password for {user}"),
            sudo_password=self._secret(sudo_var, "the sudo password"),
            login=login,
        )

    def build(
        self, spec: HostSpec, jump: FabricPlusConnection | None = None
    ) -> FabricPlusConnection:
        s = self.settings
        connect_kwargs: dict[str, Any] = {
            "banner_timeout": s.connect_timeout,
            "auth_timeout": s.connect_timeout,
        }
        identity = spec.identity_file or s.ssh_identity_file
        if identity:
            connect_kwargs["key_filename"] = [os.path.expanduser(identity)]
        password_var = spec.password_env or s.ssh_password_env
        if password_var:
            if password_var not in self.env:
                raise ConfigError(f"environment variable {password_var} is not set")
            connect_kwargs["password"] = Secret(self.env[password_var])
        kwargs: dict[str, Any] = {}
        if jump is not None:
            kwargs["jumphost_target"] = jump
        conn = FabricPlusConnection(
            spec.host,
            user=spec.user or s.ssh_user,
            port=spec.port or s.ssh_port,
            config=self._config.clone(),
            connect_kwargs=connect_kwargs,
            **kwargs,
        )
        conn.connect_timeout = s.connect_timeout  # Fabric would truncate it to int
        conn.attach(spec, s.command_timeout, self.privilege, self.run_as_for)
        _apply_host_key_policy(conn, s, self.known_hosts)
        return conn

    def open(
        self, spec: HostSpec, jump: FabricPlusConnection | None = None
    ) -> FabricPlusConnection:
        """Build and connect; raise :class:`HostUnreachable` with the cause on failure."""
        conn = self.build(spec, jump)
        name = spec.describe()
        sock: socket.socket | None = None
        try:
            if jump is None and not conn.gateway:
                sock = _tcp_connect(name, conn.host, int(conn.port), self.settings.connect_timeout)
                conn.connect_kwargs["sock"] = sock
            try:
                conn.open()
            finally:
                conn.connect_kwargs.pop("sock", None)
        except HostUnreachable as exc:
            _close_quietly(conn, sock)
            if exc.host == name:
                raise
            # raised inside paramiko (host key policy), which only knew the address
            if isinstance(exc, HostKeyError):
                raise HostKeyError(name, exc.detail) from None
            raise HostUnreachable(name, exc.cause, exc.detail) from None
        except Exception as exc:
            # paramiko reports a banner timeout in its transport thread and then raises
            # "No existing session" from the auth step: the saved exception is the cause
            transport = conn.client.get_transport() if conn.client is not None else None
            saved = getattr(transport, "saved_exception", None)
            cause = saved if isinstance(saved, Exception) else exc
            _close_quietly(conn, sock)
            key_name = known_hosts_name(conn.host, int(conn.port))
            raise _classify(name, key_name, cause, self.settings) from None
        if jump is not None:
            # the jump connection's own socket carries our traffic: no-delay it too
            jump_transport: Any = jump.transport
            _set_nodelay(getattr(jump_transport, "sock", None))
        return conn


def _set_nodelay(sock: Any) -> None:
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _tcp_connect(name: str, host: str, port: int, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror as exc:
        raise HostUnreachable(
            name, "dns", f"name {host!r} does not resolve ({exc.strerror})"
        ) from None
    except ConnectionRefusedError:
        raise HostUnreachable(
            name, "refused", f"connection refused on {Address(host, port)}"
        ) from None
    except TimeoutError:
        raise HostUnreachable(
            name, "timeout", f"no TCP answer from {Address(host, port)} within {timeout:g}s"
        ) from None
    except OSError as exc:
        raise HostUnreachable(
            name, "unreachable", f"{Address(host, port)}: {exc.strerror or exc}"
        ) from None
    _set_nodelay(sock)
    return sock


def _close_quietly(conn: Any, sock: socket.socket | None) -> None:
    with contextlib.suppress(Exception):
        conn.close()
    if sock is not None:
        with contextlib.suppress(Exception):
            sock.close()


def _classify(name: str, key_name: str, exc: BaseException, settings: Settings) -> HostUnreachable:
    """Map what paramiko/Fabric raise while connecting to one readable cause."""
    if isinstance(exc, paramiko.BadHostKeyException):
        return HostKeyError(
            name, changed_key_message(exc, key_name, [settings.known_hosts or "~/.ssh/known_hosts"])
        )
    if isinstance(exc, paramiko.BadAuthenticationType):
        allowed = ", ".join(exc.allowed_types) or "none"
        return HostUnreachable(
            name, "auth", f"authentication failed: server accepts only {allowed}"
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return HostUnreachable(
            name, "auth", "authentication failed; check the user, key and password"
        )
    if isinstance(exc, ConfigError):
        return HostUnreachable(name, "config", str(exc))
    if isinstance(exc, paramiko.SSHException):
        text = str(exc)
        # "No existing session": paramiko's start_client gave up waiting (its timeout is
        # ours) before the banner/key exchange finished, and the auth step found no session
        if "banner" in text.lower() or "No existing session" in text:
            return HostUnreachable(
                name, "timeout", f"no SSH answer within {settings.connect_timeout:g}s"
            )
        return HostUnreachable(name, "ssh", f"SSH error: {text}")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return HostUnreachable(name, "timeout", f"timed out after {settings.connect_timeout:g}s")
    if isinstance(exc, EOFError):
        return HostUnreachable(
            name, "closed", "the server closed the connection during the handshake"
        )
    if isinstance(exc, OSError):
        return HostUnreachable(name, "unreachable", exc.strerror or str(exc))
    return HostUnreachable(name, "error", f"{type(exc).__name__}: {exc}")


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
        self._executors: dict[int, ThreadPoolExecutor] = {}
        self.opened_count = 0

    def executor(self, workers: int) -> ThreadPoolExecutor:
        """Threads for acting on many hosts at once, kept for the session.

        A new executor per ``host_pool`` call started up to ``workers`` threads each time,
        and ``Thread.start`` waits for the new thread to take the GIL: with 20 hosts that
        added milliseconds to every check. Shut down by :meth:`close_all`.
        """
        with self._lock:
            executor = self._executors.get(workers)
            if executor is None:
                executor = ThreadPoolExecutor(workers, thread_name_prefix=POOL_THREAD_PREFIX)
                self._executors[workers] = executor
            return executor

    def _host_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def failure(self, spec: HostSpec) -> HostUnreachable | None:
        return self._failed.get(spec.id or spec.name)

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
                _close_quietly(conn, None)
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

    def connections(self) -> Iterator[FabricPlusConnection]:
        return iter(list(self._open.values()))

    def close_all(self) -> None:
        with self._lock:
            executors = list(self._executors.values())
            self._executors.clear()
        for executor in executors:
            executor.shutdown(wait=True)  # idle threads end at once; a busy one finishes
        for conn in [*self._open.values(), *self._jumps.values()]:
            _close_quietly(conn, None)
        self._open.clear()
        self._jumps.clear()
