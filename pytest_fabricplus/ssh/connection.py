"""``FabricPlusConnection``: the ``connection`` fixture's object, a fabricplus ``ConnectionPlus``.

Adds to ``ConnectionPlus``: the host's :class:`HostSpec`, a default command timeout whose
expiry raises :class:`CommandTimeout` naming host and command, a lost connection reported as
:class:`ConnectionLost`, running as another user (``as_user``, the ``su_user`` marker), a
corrected ``su()``, and :meth:`reset` of per-test state. The private-API fast paths it uses
live in :mod:`.channel`.

Upstream behaviour worked around here:

* fabricplus' ``su()`` runs the command through the login user's shell (backticks, ``$HOME``
  and quoting go wrong), shows the password prompt in the output and turns a wrong password
  into a bare ``UnexpectedExit``: :meth:`FabricPlusConnection.su` is our ``Su`` strategy.
* Fabric's ``sudo()`` answers sudo's prompt only with ``config.sudo.password`` (never the
  sudo password the run configured), shows the prompt in the output and passes the command
  unquoted to the login user's shell: :meth:`FabricPlusConnection.sudo` is our ``Sudo``
  strategy.
* Fabric's SFTP ``put``/``get`` errors (``PermissionError: [Errno 13] Permission denied``)
  name neither host nor path: :meth:`FabricPlusConnection.put`/``get`` re-raise the same
  class with both paths and the host.
* Fabric's ``close()`` only acts after a *successful* connect and leaves ProxyJump gateways
  open: :meth:`FabricPlusConnection.close` closes every hop.
* Closing a channel (or the connection) leaves a command without a pty running on the host,
  and Fabric reopens a closed connection on the next command: :meth:`FabricPlusConnection.
  interrupt` kills the running commands first and refuses new ones.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import paramiko
from fabric.runners import Remote
from fabricplus.connection import ConnectionPlus
from invoke.exceptions import CommandTimedOut, UnexpectedExit
from paramiko.agent import AgentRequestHandler

from ..errors import ConfigError, ConnectionLost, RunInterrupted
from ..hosts.spec import HostSpec
from ..runas import RunAs
from ..secrets import Secret, SecretStore
from . import channel, runner
from .cooperative import current_hub
from .hostkeys import accepted_warnings, hops
from .shell import RemoteShell, ShellUnavailable

if TYPE_CHECKING:
    from .privilege import PrivilegeRunner

_T = TypeVar("_T")
_P = ParamSpec("_P")


def _offloaded_in_fleet_bodies(method: Callable[_P, _T]) -> Callable[_P, _T]:
    """A call that blocks its thread: in a cooperative fleet-mode body
    (``cooperative.current_hub()``) it runs in a pool thread while the other bodies go on."""

    @functools.wraps(method)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        __tracebackhide__ = True
        hub = current_hub()
        if hub is not None:
            return hub.offload(lambda: method(*args, **kwargs))
        return method(*args, **kwargs)

    return call


log = logging.getLogger("pytest_fabricplus")


class FabricPlusConnection(ConnectionPlus, channel.PlainAttributes):
    """The ``connection`` fixture's object: a ``ConnectionPlus`` for one inventory host.

    Adds: the host's :class:`HostSpec`, a default command timeout whose expiry raises
    :class:`CommandTimeout` naming host and command, and :meth:`reset` of per-test state.

    Exported for type annotations (``def test_x(connection: FabricPlusConnection)``); it is
    made by :class:`Connector` (``Connector(settings).open(spec)``, a ``ConnectionRegistry``,
    the ``connection`` fixture). Built directly it has no host spec: using it raises
    :class:`ConfigError` saying so.
    """

    command_timeout: float | None = None
    _spec: HostSpec | None = None
    # per-connection state, declared so that reads are plain attribute reads (set with _set:
    # invoke's DataProxy turns other assignments into config keys)
    _run_as: RunAs | None = None
    _privilege: PrivilegeRunner
    _resolve_run_as: Callable[..., RunAs]
    _secrets: SecretStore | None = None
    _fast: bool = True
    _spare: channel.Spare | None = None
    _pristine: Any = None
    _users_used: tuple[RunAs, ...] = ()
    _persistent: bool = False
    _shell: RemoteShell | None = None
    _shell_lock: threading.Lock  # the shell's and the spare channel's hand-over
    _channels: Any = None  # WeakSet of the session channels handed out (commands running)
    _interrupted: bool = False

    @property
    def spec(self) -> HostSpec:
        """The inventory host this connection is for (given by :class:`Connector`)."""
        spec = self._spec
        if spec is None:
            raise ConfigError(
                f"FabricPlusConnection({self.host!r}) was built directly: it has no host "
                "spec, command timeout or privilege settings. Use the `connection` fixture, "
                "or in a script Connector(Settings(...)).open(HostSpec(...)) or a "
                "ConnectionRegistry"
            )
        return spec

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # fabricplus' __init__ ends by loading ~/.ssh/known_hosts with paramiko, which raises
        # on @cert-authority/@revoked lines: our own reader judges host keys (hostkeys.py)
        try:
            super().__init__(*args, **kwargs)
        except paramiko.hostkeys.InvalidHostKey:
            if getattr(self, "client", None) is None:
                raise

    def _remote_runner(self) -> Remote:
        runner = channel.FastRemote if self._fast else channel.KillingRemote
        return runner(context=self, inline_env=self.inline_ssh_env)

    def _timed(self, call: Callable[..., _T], command: str, kwargs: dict[str, Any]) -> _T:
        __tracebackhide__ = True  # pytest: show the test's line, not ours
        kwargs.setdefault("timeout", self.command_timeout)
        try:
            result = call(command, **kwargs)
        except CommandTimedOut as exc:  # killed; the host still answers, or went silent
            raise channel.expired(self, command, exc.timeout) from None
        except channel.Unanswered as exc:  # no answer to the channel open/exec in time
            raise channel.expired(self, command, kwargs["timeout"] or 0, exc.what) from None
        except UnexpectedExit as exc:
            self.check_alive(command, exc.result)
            raise
        except (EOFError, OSError, paramiko.SSHException) as exc:
            self.raise_if_lost(command, exc)
            raise
        self.check_alive(command, result)
        return result

    def raise_if_lost(self, command: str, exc: BaseException) -> None:
        """An I/O error on a dead transport is a lost connection; on a live one, the caller
        re-raises it as it is."""
        if self._interrupted:  # we killed the command and closed the connection
            raise RunInterrupted(self.spec.describe(), f"running {command!r}") from None
        if not self._transport_alive():
            reason = channel.lost_reason(self.transport) or f"{type(exc).__name__}: {exc}"
            raise ConnectionLost(self.spec.describe(), command, reason) from None

    def _transport_alive(self) -> bool:
        transport = self.transport
        return transport is not None and bool(transport.is_active())

    def check_alive(self, command: str, result: Any) -> None:
        # A channel cut by a dying connection ends with exit status -1: that is no answer
        if getattr(result, "exited", None) == -1 and self._interrupted:
            raise RunInterrupted(self.spec.describe(), f"running {command!r}")
        if getattr(result, "exited", None) == -1 and not self._transport_alive():
            reason = channel.lost_reason(self.transport) or "the SSH connection closed"
            raise ConnectionLost(self.spec.describe(), command, reason)

    def run(self, command: str, **kwargs: Any) -> Any:
        """Fabric's ``run``; as another user while :meth:`as_user` (or ``su_user``) is active.

        The common call (keywords among hide, warn, timeout, encoding; no pty, echo, env,
        watchers or streams configured) reads the channel directly instead of through
        invoke's runner: same :class:`Result`, same errors, output still streamed to
        ``sys.stdout``/``sys.stderr`` unless hidden. invoke starts three IO threads and
        merges its configuration per command; over a fleet, in threads
        sharing the GIL, that is most of a check's time.

        In a fleet-mode body that runs cooperatively (``ssh/cooperative.py``) the direct path
        and the persistent shell park the body while the command runs; any other path (and
        opening the connection or starting the shell) runs in a pool thread.
        """
        __tracebackhide__ = True
        if self._spec is None:
            self.spec  # noqa: B018  # raises: built directly, not by a Connector
        run = self._direct_settings(kwargs)  # None with a run-as user
        hub = current_hub()
        if hub is not None and run is None:
            # a fleet-mode body, on a path that blocks: in a thread while the others run
            return hub.offload(lambda: self.run(command, **kwargs))
        run_as = self._run_as
        if run_as is not None:
            return self._privilege.run(self, run_as, command, **kwargs)
        if run is not None:
            shell = None
            if self._persistent:
                if hub is not None and not self.is_connected:
                    # opening the connection blocks: in a thread while the others run
                    return hub.offload(lambda: self.run(command, **kwargs))
                shell = self._start_shell()
            if shell is not None:
                try:
                    return runner.run_in_shell(self, shell, command, run, hub=hub, **kwargs)
                except ShellUnavailable as exc:  # raised before the command was sent
                    self._no_shell(exc)
            return runner.run_direct(self, command, run, **kwargs)
        return self._timed(super().run, command, kwargs)

    def direct_run(self, command: str, **kwargs: Any) -> runner.DirectRun | None:
        """``run(command, **kwargs)`` as a :class:`~.runner.DirectRun` (started and finished
        by the caller, e.g. ``HostPool.run`` for many hosts from one thread) when :meth:`run`
        would read the channel directly; None when it would not (a run-as user, the
        persistent shell, ``FABRICPLUS_FAST_PATH=0``, keywords or config the direct path does
        not serve): call :meth:`run`."""
        if self._spec is None:
            self.spec  # noqa: B018  # raises: built directly, not by a Connector
        run = None if self._persistent else self._direct_settings(kwargs)
        return None if run is None else runner.DirectRun(self, command, run, **kwargs)

    def _direct_settings(self, kwargs: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """invoke's ``run`` settings when :meth:`run` reads the channel itself (the fast path,
        no run-as user, a call :func:`runner.direct_ok` serves); else None. The one place
        :meth:`run` and :meth:`direct_run` decide it."""
        if self._run_as is not None or not self._fast:
            return None
        run = channel.run_settings(self.config)
        return run if runner.direct_ok(self, kwargs, run) else None

    # -- the persistent remote shell (--remote-shell=persistent) ----------------------------
    def _start_shell(self) -> RemoteShell | None:
        """This connection's shell; a new one on a reopened connection (Fabric reopens a
        dropped one on the next command, as the exec path does)."""
        with self._shell_lock:  # pre-flight's thread and the test's may both get here
            if not self._persistent:
                return None
            if not self.is_connected:
                self.open()
            transport = self.transport
            shell = self._shell
            if shell is not None and shell.transport is transport:
                return shell
            if shell is not None:  # of a transport that closed
                shell.close()
            if transport is None:
                self._set(_shell=None)
                return None
            shell = RemoteShell(transport, self.spec.describe())
            self._set(_shell=shell)
            return shell

    def prepare(self) -> None:
        """What can be done before the first command, in pre-flight's threads: request the
        first spare session channel (exec path: the first command then costs one round trip,
        not two), or start the persistent shell (``--remote-shell=persistent``; four round
        trips a host would otherwise pay on its first command). Errors are left for that
        command to report."""
        if not self._persistent:
            if self._fast and not self.forward_agent:
                self._prefetch()
            return
        shell = self._start_shell()
        if shell is None:
            return
        try:
            shell.start()
        except ShellUnavailable as exc:
            self._no_shell(exc)
        except Exception as exc:  # ShellLost, a closing transport: the first run() says it
            log.debug("%s: persistent shell not started ahead: %s", self.spec.describe(), exc)

    def _no_shell(self, exc: ShellUnavailable) -> None:
        """No POSIX shell on this host: its commands use exec channels from now on."""
        log.warning("%s; running its commands over exec channels", exc)
        shell = self._shell
        self._set(_shell=None, _persistent=False)
        if shell is not None:
            shell.close()

    @property
    def host_key_warnings(self) -> list[str]:
        """Unknown host keys accepted under ``--host-key-policy=warn`` (this hop and gateways)."""
        return accepted_warnings(self)

    @_offloaded_in_fleet_bodies
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
        spec = self.spec  # first: built directly, this raises a clear error
        run_as = self._resolve_run_as(spec, user, method, password_env, login)
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
        self._set(_users_used=(*self._users_used, run_as))

    @property
    def users_used(self) -> list[RunAs]:
        """Every user this test's commands were set to run as (marker, ``as_user``)."""
        return list(self._users_used)

    @_offloaded_in_fleet_bodies
    def sudo(self, command: str, **kwargs: Any) -> Any:
        """Fabric's ``sudo``, through our :class:`~pytest_fabricplus.privilege.Sudo` strategy
        (the path of ``su_user(USER, method="sudo", login=False)``), as the login user.

        The password is, in this order: ``password=``, ``config.sudo.password``, the sudo
        password the run configured (inventory ``sudo_password_env``, ``--sudo-password-env``
        / ini / ``FABRICPLUS_SUDO_PASSWORD_ENV``, else the login password); none: ``sudo -n``.
        ``user=`` (else ``config.sudo.user``, else root) is whom the command runs as, in a
        non-login ``sh -c`` in the current directory, as Fabric's ``sudo`` does. Every password
        used is redacted; a refused one is a ``PrivilegeError`` naming host and users.
        """
        __tracebackhide__ = True
        sudo_config = self.config.sudo
        user = kwargs.pop("user", None) or sudo_config.user or "root"
        password = kwargs.pop("password", None) or sudo_config.password
        kwargs.pop("prompt", None)  # the strategy answers a prompt of its own (a nonce)
        spec = self.spec  # first: built directly, this raises a clear error
        run_as = self._resolve_run_as(spec, user, "sudo", login=False)
        if password:
            if self._secrets is not None:
                self._secrets.add(password)  # redacted wherever it could show up
            run_as = dataclasses.replace(run_as, sudo_password=Secret(password))
        return self._privilege.run(self, run_as, command, **kwargs)

    # -- file transfer: errors that name host and both paths ---------------------------------
    @_offloaded_in_fleet_bodies
    def put(self, *args: Any, **kwargs: Any) -> Any:
        """fabricplus' ``put`` (SFTP, or scp with ``scp=True``), bounded as :meth:`_transfer`
        says; an ``OSError`` (SFTP's ``PermissionError``, ``FileNotFoundError``, ...) is
        re-raised as the same class with a message naming host and both paths."""
        __tracebackhide__ = True
        try:
            return self._transfer(super().put, "put", args, kwargs)
        except OSError as exc:
            local = _argument(args, kwargs, 0, "local", "local_path")
            remote = _argument(args, kwargs, 1, "remote", "remote_path")
            where = (
                f"cannot put {_local_name(local)} to {remote or '(the remote home directory)'} "
                f"on {self.spec.describe()}"
            )
            raise _with_where(exc, where) from None

    @_offloaded_in_fleet_bodies
    def get(self, *args: Any, **kwargs: Any) -> Any:
        """fabricplus' ``get`` (SFTP, or scp with ``scp=True``); an ``OSError`` is re-raised as
        the same class with a message naming host and both paths."""
        __tracebackhide__ = True
        try:
            return self._transfer(super().get, "get", args, kwargs)
        except OSError as exc:
            remote = _argument(args, kwargs, 0, "remote", "remote_path")
            local = _argument(args, kwargs, 1, "local", "local_path")
            where = (
                f"cannot get {remote} from {self.spec.describe()} to "
                f"{_local_name(local) if local else '(the current directory)'}"
            )
            raise _with_where(exc, where) from None

    @_offloaded_in_fleet_bodies
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
        spec = self.spec  # first: built directly, this raises a clear error
        run_as = self._resolve_run_as(spec, user, "su")
        secret = password or run_as.su_password or self.connect_kwargs.get("password")
        if secret and self._secrets is not None:
            self._secrets.add(secret)  # redacted wherever it could show up
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
        secrets: SecretStore | None = None,
        fast: bool = True,
        persistent_shell: bool = False,
    ) -> None:
        # invoke's DataProxy turns unknown attribute sets into config keys: use _set
        self._set(
            _spec=spec,
            command_timeout=command_timeout,
            _privilege=privilege,
            _resolve_run_as=resolve_run_as,
            _run_as=None,
            _secrets=secrets,
            _fast=fast,
            _persistent=persistent_shell and fast,
            _shell_lock=threading.Lock(),
            _channels=weakref.WeakSet(),
        )

    def remember_state(self) -> None:
        """Snapshot the configuration :meth:`reset` restores; once, before a test first gets
        the connection (the fixtures call it), not while opening: a clone costs CPU
        that pre-flight of many hosts need not pay."""
        if self._pristine is None:
            self._set(_pristine=self.config.clone())

    def reset(self) -> None:
        """Forget what a test changed: cwd (``cd``), prefixes, config (env, sudo password)."""
        # _set: invoke's DataProxy.__setattr__ costs a dir() per attribute
        self._set(command_cwds=[], command_prefixes=[], _run_as=None, _users_used=())
        pristine = self._pristine
        if pristine is not None and (
            not self._fast or channel.config_changed(self.config, pristine)
        ):
            self._set(config=pristine.clone())  # only when needed: a clone is costly

    # -- a session channel opened ahead of time: one round trip less per command ------------
    def create_session(self, deadline: float | None = None) -> Any:
        """A new session channel; the next one is requested meanwhile (:class:`.channel.Spare`).

        ``deadline`` (``time.monotonic()``; default: that of the command invoke's runner is
        starting): the open and the channel's requests wait until then at most, then raise
        :class:`.channel.Unanswered`. After :meth:`interrupt`: :class:`RunInterrupted`."""
        if self._interrupted:
            raise RunInterrupted(self.spec.describe(), "opening a channel")
        if deadline is None:
            deadline = channel.pending_deadline()
        if self.forward_agent or not self._fast:
            if deadline is None:
                # Fabric wires agent forwarding per channel
                return self._track(super().create_session())
            session: Any = channel.open_session(self.transport, deadline)
            if self.forward_agent:
                self._set(_agent_handler=AgentRequestHandler(session))
            return self._track(session)
        with self._shell_lock:  # pre-flight's prepare() may be requesting one meanwhile
            spare = self._spare
            self._set(_spare=None)
        wait = self.connect_timeout if deadline is None else deadline - time.monotonic()
        taken = spare.take(timeout=wait) if spare is not None else None
        if taken is None:
            session = channel.open_session(self.transport, deadline)
        else:
            session = taken
            channel.bound_requests(session, deadline)
        self._prefetch()
        return self._track(session)

    def _track(self, session: Any) -> Any:
        """Remember a channel handed out for a command: :meth:`interrupt` kills what runs."""
        channels = self._channels
        if channels is not None:
            with self._shell_lock:
                channels.add(session)
        return session

    # -- interruption (SIGINT/SIGTERM): nothing of the run keeps running on the host ----------
    @property
    def interrupted(self) -> bool:
        """:meth:`interrupt` was called: no new command starts on this connection."""
        return self._interrupted

    def open(self) -> Any:
        if self._spec is None:
            self.spec  # noqa: B018  # raises: built directly, not by a Connector
        if self._interrupted:  # Fabric reopens a closed connection on the next command
            raise RunInterrupted(self.spec.describe(), "opening the connection")
        return super().open()

    def running_channels(self) -> list[Any]:
        """Channels of commands still running (no exit status yet, not closed)."""
        channels = self._channels
        if channels is None:
            return []
        with self._shell_lock:
            handed = list(channels)
        return [c for c in handed if not c.closed and not c.exit_status_ready()]

    @property
    def busy(self) -> bool:
        """A command runs on this connection now (an exec channel, or the shell's)."""
        shell = self._shell
        return bool(self.running_channels()) or (shell is not None and shell.busy)

    def interrupt(self, timeout: float = 2.0) -> None:
        """The run is stopping: kill every command running on this connection on the host
        (exec channels by the SSH ``signal`` request, the persistent shell's command over
        exec), as a timeout does, and refuse new commands. Waits at most ``timeout`` s for
        the host to report them ended; the connection stays open (close it next). Callable
        from any thread, also while other threads run commands on the connection."""
        self._set(_interrupted=True)
        running = self.running_channels()
        for session in running:
            channel.kill(session)
        deadline = time.monotonic() + timeout
        shell = self._shell
        if shell is not None:
            shell.interrupt(timeout)
        for session in running:  # exit-signal KILL (or the close) comes back in one round trip
            channel.exit_status_event(session).wait(max(0.0, deadline - time.monotonic()))

    # -- SFTP (put/get): every wait bounded by the command timeout ----------------------------
    def sftp(self) -> Any:
        """Fabric's SFTP client, opened with every wait bounded by the command timeout
        (:func:`.channel.open_sftp`; Fabric's waits up to an hour to open, then forever)."""
        if self._sftp is None:
            if not self.is_connected:
                self.open()
            self._set(_sftp=channel.open_sftp(self.transport, self.command_timeout))
        return self._sftp

    def _transfer(self, call: Callable[..., _T], what: str, args: Any, kwargs: Any) -> _T:
        """A put/get whose server went silent is a ``ConnectionLost`` (or, while the host
        still answers keepalives, a ``CommandTimeout``), not a bare ``TimeoutError``."""
        __tracebackhide__ = True
        label = f"{what} {args[0]}" if args else what
        limit = self.command_timeout or 0
        try:
            return call(*args, **kwargs)
        except channel.Unanswered as exc:
            self._drop_sftp()
            raise channel.expired(self, label, limit, exc.what) from None
        except TimeoutError:
            self._drop_sftp()
            raise channel.expired(self, label, limit, "an SFTP request") from None
        except (EOFError, OSError, paramiko.SSHException) as exc:
            self.raise_if_lost(label, exc)
            raise

    def _drop_sftp(self) -> None:
        """Forget an SFTP client left out of step by an unanswered request."""
        sftp = self._sftp
        self._set(_sftp=None)
        if sftp is not None:
            with contextlib.suppress(Exception):
                sftp.close()

    def _prefetch(self) -> None:
        """Request the next spare channel unless one is pending. Under the lock: pre-flight's
        prepare() and the test's create_session() may both get here, and a second request
        would replace (and leak, until close) the first."""
        with self._shell_lock:
            transport = self.transport
            if self._spare is None and transport is not None and transport.is_active():
                self._set(_spare=channel.Spare(transport))

    def close(self) -> None:
        shell = self._shell
        if shell is not None:
            self._set(_shell=None)
            shell.close()
        spare = self._spare
        if spare is not None:
            spare.discard()
            self._set(_spare=None)
        # Fabric's close() only acts when ``transport`` was set, i.e. after a *successful*
        # connect: a handshake that failed (host key, auth) leaves paramiko's transport thread
        # and socket open. It also leaves a ProxyJump gateway open. Close all of them.
        super().close()
        for hop in hops(self):
            client = getattr(hop, "client", None)
            if client is not None:
                client.close()
            if hop is not self and hasattr(hop, "close"):
                hop.close()

    def __repr__(self) -> str:
        if self._spec is None:
            return f"<FabricPlusConnection {self.host} (built directly, not usable)>"
        return f"<FabricPlusConnection {self.spec.describe()}>"


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, *names: str) -> Any:
    if len(args) > index:
        return args[index]
    for name in names:
        if kwargs.get(name) is not None:
            return kwargs[name]
    return None


def _local_name(local: Any) -> str:
    if isinstance(local, (str, bytes)) or hasattr(local, "__fspath__"):
        return str(local)
    name = getattr(local, "name", None)  # a file object
    return f"file object {name}" if isinstance(name, str) else "a file object"


def _with_where(exc: OSError, where: str) -> OSError:
    """``exc``'s class (callers' ``except PermissionError`` still match), errno and
    traceback, with ``where`` (what was transferred, from/to which host) in the message."""
    try:
        if exc.errno is not None and exc.strerror:
            new = type(exc)(exc.errno, f"{exc.strerror}: {where}")
        else:
            new = type(exc)(f"{exc}: {where}" if str(exc) else where)
    except Exception:  # a subclass with a constructor of its own: keep it as it is
        return exc
    return new.with_traceback(exc.__traceback__)
