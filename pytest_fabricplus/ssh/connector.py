"""``Connector``: turn a :class:`HostSpec` into an open connection, or one readable cause.

Upstream behaviour worked around here:

* paramiko never sets ``TCP_NODELAY``: every command then pays a delayed-ACK stall. We open
  the TCP socket ourselves, set it, and hand it to paramiko.
* Fabric truncates ``connect_timeout`` to ``int`` (0.5 s becomes "no timeout"): we keep the
  float.
* fabricplus' string ``jumphost_target`` connects to the *target* address instead of the
  jump host, so we always pass an opened jump connection object instead.
* Fabric reads ``~/.ssh/config`` with paramiko's ``SSHConfig`` (no ``Include``, only part of
  ``Match``) and applies it in ``Connection.__init__`` (HostName, User, Port, IdentityFile,
  ProxyJump, ProxyCommand, ConnectTimeout). We resolve the client config through ``ssh -G``
  (``sshconfig.py``) and give Fabric an explicit, empty ``SSHConfig``, which makes its
  ``Config`` load no file at all (``_given_explicit_object``) -- so nothing is applied twice
  and Fabric 3.2's ``Config.clone()`` bug (re-reading the files into the *original* config
  on every clone) cannot grow the base config either.
* Fabric's ProxyCommand gateway re-expands the command's tokens with a dummy config that
  lacks the port (``%p`` becomes 22): we open ``paramiko.ProxyCommand`` ourselves and pass it
  as the socket; its ``close()`` never reaps the command: :class:`ReapedProxyCommand`.
* paramiko reports a banner timeout in its transport thread and then raises "No existing
  session" from the auth step: :meth:`Connector.open` reports the saved exception.
* paramiko raises a bare ``SSHException("No authentication methods available")`` when it
  had nothing to offer (no key, no agent key, no password): :func:`classify` files it under
  ``auth`` and says what this run had and what to give.
* Fabric/paramiko raise whatever goes wrong while connecting, bugs included: only
  :data:`CONNECT_ERRORS` mean the host cannot be used; anything else propagates.
* paramiko sends no keepalive unless asked, and its own never notices a dead peer: every
  connection gets :func:`~.channel.keep_alive` (ServerAliveInterval/ServerAliveCountMax
  semantics, default 15 s x 3: :func:`keepalive_for`).
* A handshake waits (up to the connect timeout) in a blocking socket call or paramiko's
  event loop, which nothing can interrupt from another thread: :class:`InFlight` keeps the
  sockets and ProxyCommands of handshakes under way, and :meth:`Connector.abort` shuts them
  down when the run is interrupted, so pre-flight threads end at once and do not hold exit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import threading
from collections.abc import Mapping
from typing import Any

import paramiko
from fabric import Config
from paramiko.config import SSHConfig

from ..errors import ConfigError, HostKeyError, HostUnreachable, RunInterrupted
from ..hosts.spec import Address, HostSpec
from ..runas import RunAs
from ..secrets import KINDS, SecretStore, password_variable
from ..settings import Settings
from .channel import (
    KEEPALIVE_COUNT_MAX,
    KEEPALIVE_INTERVAL,
    fast_path_enabled,
    keep_alive,
    quiet_transport,
)
from .connection import FabricPlusConnection
from .hostkeys import KnownHostsCache, apply_host_key_policy, changed_key_message, known_hosts_name
from .privilege import PrivilegeRunner
from .sshconfig import HostQuery, ResolvedConfig, SshConfigResolver
from .usercerts import UserKeys, user_keys

#: ``StrictHostKeyChecking`` as our host-key policy (when --host-key-policy is not given):
#: OpenSSH's ``accept-new`` would write the key to known_hosts; we never write, so the key
#: is accepted and said so (``warn``), every run. A *changed* key is refused under all three.
STRICT_TO_POLICY = {"yes": "reject", "no": "accept", "accept-new": "warn"}

log = logging.getLogger("pytest_fabricplus")


def quiet_paramiko_logger() -> None:
    """Give paramiko's logger a ``NullHandler`` (once), when we are about to connect.

    paramiko has no handler of its own: without one, errors its transport thread logs while we
    abandon a failed handshake (e.g. a blackhole host) go to stderr through logging's
    last-resort handler. A NullHandler keeps them to configured logging (pytest captures
    them). Done by the first :class:`Connector`, not at import: importing this module (type
    annotations, documentation tools) changes no library's logging.
    """
    logger = logging.getLogger("paramiko")
    if not any(type(h) is logging.NullHandler for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


class InFlight:
    """The sockets (and ProxyCommands) of handshakes under way: :meth:`abort` ends them all,
    and refuses new ones, when the run is interrupted."""

    def __init__(self) -> None:
        self._items: set[Any] = set()
        self._lock = threading.Lock()
        self.aborted = False

    def add(self, name: str, sock: Any) -> None:
        with self._lock:
            if not self.aborted:
                self._items.add(sock)
                return
        _abort_socket(sock)
        raise RunInterrupted(name, "connecting")

    def discard(self, sock: Any) -> None:
        with self._lock:
            self._items.discard(sock)

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            items, self._items = list(self._items), set()
        for sock in items:
            _abort_socket(sock)


def _abort_socket(sock: Any) -> None:
    """Wake whatever waits on ``sock`` (connect, recv) in another thread, and close it."""
    process = getattr(sock, "process", None)  # a ProxyCommand: kill it, its pipes close
    if process is not None:
        with contextlib.suppress(OSError):
            process.kill()
        return  # the thread that opened it closes (and reaps) it
    if isinstance(sock, socket.socket):
        # shutdown() wakes a connect() in progress and a blocked recv(); close() alone does not
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class Connector:
    """Turns a :class:`HostSpec` into an open :class:`FabricPlusConnection`.

    Holds the run's settings and the :class:`SecretStore` passwords are read through (every
    value read is remembered there for redaction); creates one Fabric ``Config`` and clones it
    per host.
    """

    def __init__(
        self,
        settings: Settings,
        env: Mapping[str, str] | None = None,
        privilege: PrivilegeRunner | None = None,
        secrets: SecretStore | None = None,
    ) -> None:
        quiet_paramiko_logger()
        self.settings = settings
        self.secrets = secrets or SecretStore(os.environ if env is None else env)
        self.env = self.secrets.env
        self.privilege = privilege or PrivilegeRunner()
        self.fast = fast_path_enabled()
        overrides = {"run": {"in_stream": False}, "timeouts": {"command": settings.command_timeout}}
        # The ssh client config is ours to apply (self.resolver, through ``ssh -G``): an
        # explicit empty SSHConfig keeps Fabric from loading ~/.ssh/config (or
        # --ssh-config) with paramiko a second time. It also sidesteps Fabric 3.2's
        # Config.clone(), which re-reads the files into the *original* config when it was
        # not given an explicit object (the base then grew by two entries per host).
        self._config = Config(ssh_config=SSHConfig(), overrides=overrides)
        self.resolver = SshConfigResolver(settings.ssh_config, settings.ssh_extra_args)
        self._warned: dict[str, tuple[str, ...]] = {}
        self._warned_lock = threading.Lock()
        self._cert_warnings: set[str] = set()
        self._user_keys: dict[tuple[tuple[str, ...], tuple[str, ...]], UserKeys] = {}
        self.known_hosts = KnownHostsCache()
        self.in_flight = InFlight()

    def abort(self) -> None:
        """The run is interrupted: abandon every handshake under way (pre-flight's threads
        end at once instead of after their connect timeout) and refuse new ones."""
        self.in_flight.abort()

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
        su_var, _ = password_variable("su", spec, s, password_env)
        sudo_var, _ = password_variable("sudo", spec, s)
        return RunAs(
            user=user,
            method=chosen,
            su_password=self.secrets.read(su_var, f"the su password for {user}"),
            sudo_password=self.secrets.read(sudo_var, KINDS["sudo"]),
            login=login,
        )

    def resolve(self, spec: HostSpec, hop: bool = False) -> ResolvedConfig:
        """``spec``'s ssh client config (cached); :class:`HostUnreachable` when it is bad.

        ``hop``: ``spec`` is a ProxyJump hop (``--ssh-extra-args`` do not apply, as ssh does
        not pass its command line on to jump hosts)."""
        s = self.settings
        query = HostQuery(
            host=spec.host,
            port=spec.port or s.ssh_port,
            user=spec.user or s.ssh_user,
            args=spec.ssh_args,
            name=spec.describe(),
            hop=hop,
        )
        try:
            resolved = self.resolver.resolve(query)
        except ConfigError as exc:
            text = str(exc)
            prefix = f"{query.name}: "  # the resolver names the host; HostUnreachable does too
            detail = text[len(prefix) :] if text.startswith(prefix) else text
            raise HostUnreachable(spec.describe(), "config", detail) from None
        if resolved.warnings:
            key = spec.name
            with self._warned_lock:
                new = key not in self._warned
                self._warned[key] = resolved.warnings
            if new:
                for warning in resolved.warnings:
                    log.warning("%s", warning)
        return resolved

    def config_warnings(self, spec: HostSpec) -> tuple[str, ...]:
        """What ``spec``'s ssh arguments ask for that we do not honour (once resolved)."""
        with self._warned_lock:
            return self._warned.get(spec.name, ())

    def connect_timeout_for(self, resolved: ResolvedConfig) -> float:
        """--connect-timeout when given, else the ssh config's ConnectTimeout, else ours."""
        s = self.settings
        if "connect_timeout" in s.explicit or resolved.connect_timeout is None:
            return s.connect_timeout
        return resolved.connect_timeout

    def host_key_policy_for(self, resolved: ResolvedConfig) -> str:
        """--host-key-policy when given (CLI, ini, env), else StrictHostKeyChecking, else ours."""
        s = self.settings
        strict = resolved.strict_host_key_checking
        if "host_key_policy" in s.explicit or strict is None:
            return s.host_key_policy
        return STRICT_TO_POLICY.get(strict, s.host_key_policy)

    def build(
        self,
        spec: HostSpec,
        jump: FabricPlusConnection | None = None,
        resolved: ResolvedConfig | None = None,
    ) -> FabricPlusConnection:
        s = self.settings
        if resolved is None:
            resolved = self.resolve(spec)
        timeout = self.connect_timeout_for(resolved)
        connect_kwargs: dict[str, Any] = {"banner_timeout": timeout, "auth_timeout": timeout}
        # explicit keys first (inventory, --ssh-identity-file), then the ssh config's -- as
        # ssh tries -i keys before IdentityFile ones
        identity = spec.identity_file or s.ssh_identity_file
        keys = [os.path.expanduser(identity)] if identity else []
        keys += [k for k in resolved.identity_files if k not in keys]
        # user certificates as ssh offers them (usercerts.py): KEY-cert.pub and the plain
        # key both, CertificateFile paired with its key
        found = (tuple(keys), resolved.certificate_files)
        with self._warned_lock:
            certs = self._user_keys.get(found)
        if certs is None:  # once per key set: a private key is loaded for the plain offer
            certs = user_keys(keys, resolved.certificate_files)
            with self._warned_lock:
                self._user_keys[found] = certs
        keys += [k for k in certs.key_filenames if k not in keys]
        if certs.pkey is not None:
            connect_kwargs["pkey"] = certs.pkey
        for warning in certs.warnings:
            with self._warned_lock:
                new = warning not in self._cert_warnings
                self._cert_warnings.add(warning)
            if new:
                log.warning("%s: %s", spec.describe(), warning)
        if keys:
            connect_kwargs["key_filename"] = keys
        password_var, _ = password_variable("login", spec, s)
        password = self.secrets.read(password_var, KINDS["login"])
        if password is not None:
            connect_kwargs["password"] = password
        kwargs: dict[str, Any] = {}
        if jump is not None:
            kwargs["jumphost_target"] = jump
        conn = FabricPlusConnection(
            resolved.hostname,
            user=resolved.user or spec.user or s.ssh_user,
            port=resolved.port,
            config=self._config.clone(),
            connect_kwargs=connect_kwargs,
            # never Fabric's own gateway: ProxyJump is our chain of jump connections, and
            # ProxyCommand our socket (Connector.open)
            gateway=False,
            **kwargs,
        )
        conn.connect_timeout = timeout  # Fabric would truncate it to int
        conn.attach(
            spec,
            s.command_timeout,
            self.privilege,
            self.run_as_for,
            self.secrets,
            self.fast,
            persistent_shell=self.fast and s.remote_shell == "persistent",
        )
        files = resolved.known_hosts_files()
        policy = self.host_key_policy_for(resolved)
        # without the fast path the known_hosts files are parsed per connection (no cache)
        cache = self.known_hosts if self.fast else None
        skipped = apply_host_key_policy(
            conn, s, cache, files=files, policy=policy, alias=resolved.host_key_alias
        )
        if skipped:  # shown once each in the run's summary, as config not honoured
            with self._warned_lock:
                known = self._warned.get(spec.name, ())
                self._warned[spec.name] = tuple(dict.fromkeys((*known, *skipped)))
        return conn

    def open(
        self, spec: HostSpec, jump: FabricPlusConnection | None = None, *, hop: bool = False
    ) -> FabricPlusConnection:
        """Build and connect; raise :class:`HostUnreachable` with the cause on failure.

        Without a ``jump`` connection, the ssh config's ProxyCommand (if any) is the socket.
        """
        resolved = self.resolve(spec, hop)
        conn = self.build(spec, jump, resolved)
        name = spec.describe()
        timeout = self.connect_timeout_for(resolved)
        sock: Any = None
        try:
            if jump is None and resolved.proxy_command:
                sock = proxy_command(name, resolved.proxy_command, timeout)
                self.in_flight.add(name, sock)
                conn.connect_kwargs["sock"] = sock
            elif jump is None:
                sock = tcp_connect(name, conn.host, int(conn.port), timeout, self.in_flight)
                conn.connect_kwargs["sock"] = sock
            try:
                conn.open()
            finally:
                conn.connect_kwargs.pop("sock", None)
                self.in_flight.discard(sock)
        except RunInterrupted:
            close_quietly(conn, sock)
            raise
        except HostUnreachable as exc:
            close_quietly(conn, sock)
            if exc.host == name:
                raise
            # raised inside paramiko (host key policy), which only knew the address
            if isinstance(exc, HostKeyError):
                raise HostKeyError(name, exc.detail) from None
            raise HostUnreachable(name, exc.cause, exc.detail) from None
        except CONNECT_ERRORS as exc:
            # paramiko reports a banner timeout in its transport thread and then raises
            # "No existing session" from the auth step: the saved exception is the cause
            transport = conn.client.get_transport() if conn.client is not None else None
            saved = getattr(transport, "saved_exception", None)
            close_quietly(conn, sock)
            if self.in_flight.aborted:  # we cut it short: the run is stopping
                raise RunInterrupted(name, "connecting") from None
            if isinstance(saved, Exception) and not isinstance(saved, CONNECT_ERRORS):
                raise internal_error(saved, name) from exc  # a bug in the transport thread
            cause = saved if isinstance(saved, Exception) else exc
            key_name = known_hosts_name(conn.host, int(conn.port))
            raise classify(
                name, key_name, cause, self.settings, timeout, resolved, offered=offered(conn)
            ) from None
        except Exception as exc:
            # not the host's fault: a bug of ours or of a dependency (a TypeError after an
            # upgrade). It propagates with its traceback, and is not "unreachable".
            close_quietly(conn, sock)
            if self.in_flight.aborted:  # we cut it short: the run is stopping
                raise RunInterrupted(name, "connecting") from None
            internal_error(exc, name)
            raise
        transport = conn.client.get_transport() if conn.client is not None else None
        if transport is not None:
            keep_alive(transport, *keepalive_for(resolved))
            if self.fast:
                quiet_transport(transport)
        if jump is not None:
            # the jump connection's own socket carries our traffic: no-delay it too
            jump_transport: Any = jump.transport
            set_nodelay(getattr(jump_transport, "sock", None))
        return conn


def keepalive_for(resolved: ResolvedConfig) -> tuple[int, int]:
    """(interval s, count max) of keepalives: the ssh config's ServerAliveInterval and
    ServerAliveCountMax where set (interval 0: off), else ours (15 s, 3)."""
    interval = resolved.server_alive_interval
    count = resolved.server_alive_count_max
    return (
        KEEPALIVE_INTERVAL if interval is None else interval,
        KEEPALIVE_COUNT_MAX if count is None else count,
    )


def _connect(
    name: str, host: str, port: int, timeout: float, in_flight: InFlight | None
) -> socket.socket:
    """``socket.create_connection``, with each socket known to ``in_flight`` while it
    connects (so that an interruption can wake it); on success it stays there until
    :meth:`Connector.open` has finished the handshake."""
    error: OSError | None = None
    for family, kind, proto, _name, address in socket.getaddrinfo(
        host, port, 0, socket.SOCK_STREAM
    ):
        sock = socket.socket(family, kind, proto)
        try:
            if in_flight is not None:
                in_flight.add(name, sock)
            sock.settimeout(timeout)
            sock.connect(address)
            return sock
        except BaseException as exc:
            if in_flight is not None:
                in_flight.discard(sock)
            sock.close()
            if in_flight is not None and in_flight.aborted:
                raise RunInterrupted(name, "connecting") from None
            if not isinstance(exc, OSError):
                raise
            error = exc
    raise error or OSError(f"getaddrinfo returned nothing for {host!r}")


def set_nodelay(sock: Any) -> None:
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def tcp_connect(
    name: str, host: str, port: int, timeout: float, in_flight: InFlight | None = None
) -> socket.socket:
    try:
        sock = _connect(name, host, port, timeout, in_flight)
    except RunInterrupted:
        raise
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
    set_nodelay(sock)
    return sock


class ReapedProxyCommand(paramiko.ProxyCommand):
    """paramiko's ProxyCommand whose ``close()`` also reaps the command.

    paramiko's ``close()`` sends SIGTERM and leaves it there: the process stays a zombie and
    its pipes open until garbage collection, which then warns ("subprocess ... is still
    running", unclosed files). We wait for it (bounded; SIGKILL after 2 s) and close them.
    """

    def close(self) -> None:
        process = self.process
        with contextlib.suppress(Exception):
            super().close()
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=2)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def proxy_command(name: str, command: str, timeout: float) -> paramiko.ProxyCommand:
    """The ssh config's ProxyCommand (tokens already expanded) as paramiko's socket."""
    try:
        sock = ReapedProxyCommand(command)
    except paramiko.SSHException as exc:
        raise HostUnreachable(name, "proxy", f"ProxyCommand {command!r}: {exc}") from None
    sock.settimeout(timeout)
    return sock


#: What opening a connection raises when the *host* cannot be used: the network and the
#: local system (``OSError``: refused, unreachable, timeouts, DNS, an unreadable key file),
#: the SSH protocol and authentication (``paramiko.SSHException`` and its family), a
#: connection closed during the handshake (``EOFError``), our own config checks
#: (``ConfigError``). :class:`HostUnreachable` (host keys) is handled before. Anything else
#: is a bug -- ours, or a dependency's after an upgrade -- and propagates with its
#: traceback: never a dead host, never cached as one, never a skip under --skip-unreachable.
CONNECT_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    EOFError,
    paramiko.SSHException,
    ConfigError,
)


def internal_error(exc: Exception, name: str) -> Exception:
    """``exc`` as it is, with a note (Python >= 3.11) naming the host it was opening."""
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:
        add_note(
            f"pytest-fabricplus: raised while opening the SSH connection to {name}; this is "
            "not a network, DNS, authentication or SSH error, so the host is not reported "
            "as unreachable (please report it as a bug)"
        )
    return exc


def offered(conn: Any) -> str:
    """What the client had to offer for authentication (never a secret's value)."""
    kwargs: dict[str, Any] = getattr(conn, "connect_kwargs", None) or {}
    keys = kwargs.get("key_filename") or []
    if isinstance(keys, str):
        keys = [keys]
    parts = [f"identity files {', '.join(keys)}" if keys else "no identity file"]
    if kwargs.get("allow_agent", True) is False:
        parts.append("ssh-agent off")
    elif os.environ.get("SSH_AUTH_SOCK"):
        parts.append("no usable ssh-agent key (SSH_AUTH_SOCK is set)")
    else:
        parts.append("no ssh-agent (SSH_AUTH_SOCK is not set)")
    parts.append("a password" if kwargs.get("password") else "no password")
    return ", ".join(parts)


def close_quietly(conn: Any, sock: Any) -> None:
    with contextlib.suppress(Exception):
        conn.close()
    if sock is not None:
        with contextlib.suppress(Exception):
            sock.close()


def classify(
    name: str,
    key_name: str,
    exc: BaseException,
    settings: Settings,
    timeout: float | None = None,
    resolved: ResolvedConfig | None = None,
    *,
    offered: str = "",
) -> HostUnreachable:
    """Map what paramiko/Fabric raise while connecting (:data:`CONNECT_ERRORS`) to one
    readable cause. ``offered``: what the client had to authenticate with (:func:`offered`)."""
    seconds = settings.connect_timeout if timeout is None else timeout
    if isinstance(exc, paramiko.BadHostKeyException):
        files = [settings.known_hosts] if settings.known_hosts else []
        if not files and resolved is not None:
            files = resolved.known_hosts_files()[:1]
        return HostKeyError(
            name, changed_key_message(exc, key_name, files or ["~/.ssh/known_hosts"])
        )
    if isinstance(exc, paramiko.BadAuthenticationType):
        allowed = ", ".join(exc.allowed_types) or "none"
        return HostUnreachable(
            name, "auth", f"authentication failed: server accepts only {allowed}"
        )
    if isinstance(exc, paramiko.PasswordRequiredException):
        had = f" (this run had {offered})" if offered else ""
        return HostUnreachable(
            name,
            "auth",
            f"authentication failed: an identity file is passphrase-protected{had}; we "
            "read no key passphrase: load the key into ssh-agent (ssh-add KEY) and run with "
            "SSH_AUTH_SOCK set",
        )
    if isinstance(exc, paramiko.AuthenticationException):
        return HostUnreachable(
            name, "auth", "authentication failed; check the user, key and password"
        )
    if isinstance(exc, ConfigError):
        return HostUnreachable(name, "config", str(exc))
    if isinstance(exc, paramiko.SSHException):
        text = str(exc)
        if "No authentication methods available" in text:
            # paramiko found nothing at all to try: no key, no agent key, no password
            had = f" (this run had {offered})" if offered else ""
            return HostUnreachable(
                name,
                "auth",
                "no key, ssh-agent key or password to authenticate with"
                f"{had}: give a key (--ssh-identity-file, identity_file= in the inventory, "
                "IdentityFile in the ssh config), load one into ssh-agent (ssh-add; a "
                "passphrase-protected key works this way), or name the variable holding "
                "the password (--ssh-password-env, password_env= in the inventory)",
            )
        # "No existing session": paramiko's start_client gave up waiting (its timeout is
        # ours) before the banner/key exchange finished, and the auth step found no session
        if "banner" in text.lower() or "No existing session" in text:
            return HostUnreachable(name, "timeout", f"no SSH answer within {seconds:g}s")
        return HostUnreachable(name, "ssh", f"SSH error: {text}")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return HostUnreachable(name, "timeout", f"timed out after {seconds:g}s")
    if isinstance(exc, EOFError):
        return HostUnreachable(
            name, "closed", "the server closed the connection during the handshake"
        )
    if isinstance(exc, OSError) and exc.filename:
        # a local file (an identity file that cannot be read), not the network
        return HostUnreachable(name, "config", f"cannot read {exc.filename}: {exc.strerror or exc}")
    if isinstance(exc, OSError):
        return HostUnreachable(name, "unreachable", exc.strerror or str(exc))
    return HostUnreachable(name, "error", f"{type(exc).__name__}: {exc}")
