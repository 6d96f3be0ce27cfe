"""``Connector``: turn a :class:`HostSpec` into an open connection, or one readable cause.

Upstream behaviour worked around here:

* paramiko never sets ``TCP_NODELAY``: every command then pays a delayed-ACK stall. We open
  the TCP socket ourselves, set it, and hand it to paramiko.
* Fabric truncates ``connect_timeout`` to ``int`` (0.5 s becomes "no timeout"): we keep the
  float.
* fabricplus' string ``jumphost_target`` connects to the *target* address instead of the
  jump host, so we always pass an opened jump connection object instead.
* Fabric 3.2's ``Config.clone()`` re-reads the ssh config files into the *original*: see
  :meth:`Connector.__init__`.
* paramiko reports a banner timeout in its transport thread and then raises "No existing
  session" from the auth step: :meth:`Connector.open` reports the saved exception.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Mapping
from typing import Any

import paramiko
from fabric import Config

from ..errors import ConfigError, HostKeyError, HostUnreachable
from ..hosts.spec import Address, HostSpec
from ..runas import RunAs
from ..secrets import KINDS, SecretStore, password_variable
from ..settings import Settings
from .channel import fast_path_enabled
from .connection import FabricPlusConnection
from .hostkeys import KnownHostsCache, apply_host_key_policy, changed_key_message, known_hosts_name
from .privilege import PrivilegeRunner

# paramiko has no handler of its own: without one, errors its transport thread logs while we
# abandon a failed handshake (e.g. a blackhole host) go to stderr through logging's
# last-resort handler. A NullHandler keeps them to configured logging (pytest captures them).
logging.getLogger("paramiko").addHandler(logging.NullHandler())


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
        self.settings = settings
        self.secrets = secrets or SecretStore(os.environ if env is None else env)
        self.env = self.secrets.env
        self.privilege = privilege or PrivilegeRunner()
        self.fast = fast_path_enabled()
        overrides = {"run": {"in_stream": False}, "timeouts": {"command": settings.command_timeout}}
        # Fabric 3.2's Config.clone() re-reads the ssh config files into the *original*
        # (self.load_ssh_config() where new's was meant), so a base cloned per host grows by
        # two entries per connection and every clone copies more. A clone is built from an
        # explicit SSHConfig object and never re-reads files: clone once, then clone that.
        self._config = Config(runtime_ssh_path=settings.ssh_config, overrides=overrides).clone()
        self.known_hosts = KnownHostsCache()

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
        password_var, _ = password_variable("login", spec, s)
        password = self.secrets.read(password_var, KINDS["login"])
        if password is not None:
            connect_kwargs["password"] = password
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
        conn.attach(
            spec, s.command_timeout, self.privilege, self.run_as_for, self.secrets, self.fast
        )
        if self.fast:
            apply_host_key_policy(conn, s, self.known_hosts)
        else:  # paramiko parses the known_hosts files itself, per connection
            apply_host_key_policy(conn, s, None)
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
                sock = tcp_connect(name, conn.host, int(conn.port), self.settings.connect_timeout)
                conn.connect_kwargs["sock"] = sock
            try:
                conn.open()
            finally:
                conn.connect_kwargs.pop("sock", None)
        except HostUnreachable as exc:
            close_quietly(conn, sock)
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
            close_quietly(conn, sock)
            key_name = known_hosts_name(conn.host, int(conn.port))
            raise classify(name, key_name, cause, self.settings) from None
        if jump is not None:
            # the jump connection's own socket carries our traffic: no-delay it too
            jump_transport: Any = jump.transport
            set_nodelay(getattr(jump_transport, "sock", None))
        return conn


def set_nodelay(sock: Any) -> None:
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def tcp_connect(name: str, host: str, port: int, timeout: float) -> socket.socket:
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
    set_nodelay(sock)
    return sock


def close_quietly(conn: Any, sock: socket.socket | None) -> None:
    with contextlib.suppress(Exception):
        conn.close()
    if sock is not None:
        with contextlib.suppress(Exception):
            sock.close()


def classify(name: str, key_name: str, exc: BaseException, settings: Settings) -> HostUnreachable:
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
