"""A persistent remote shell per SSH connection: one session channel, many commands.

Every ``exec`` request makes the target's sshd fork a session and start a shell (a few ms of
the target's CPU per command). :class:`RemoteShell` opens ONE session channel running a POSIX
shell (``exec_command("exec sh")``, no pty) and sends it each command on its stdin, framed
with a random nonce per command. ``FabricPlusConnection`` runs commands through it under
``--remote-shell=persistent`` (``ssh/runner.py``'s ``run_in_shell``).

Waiting for the shell's output costs no file descriptor: paramiko's ``Channel.fileno()``
makes an OS pipe per channel, and ``select.select`` fails past descriptor 1,024 (a few
hundred hosts in one process); we wait on a ``threading.Event`` the channel's buffers set
(``channel.data_event``).

API::

    shell = RemoteShell(transport, describe="web1 (10.0.0.5:22)", shell="auto",
                        start_timeout=10.0)
    result = shell.run("uname -r", timeout=30.0, on_stdout=None, on_stderr=None)
    result.stdout, result.stderr, result.exited     # bytes, bytes, int
    shell.alive                                      # the shell is running now
    shell.close()                                    # the next run starts a new one
    shell.program, shell.process_groups, shell.pid, shell.starts   # what was started

* ``shell``: ``"auto"`` (default) starts the login shell (``exec "$SHELL"``, read by the
  login shell itself) when it is bash, sh, dash or ash: ``exec`` runs commands with
  ``$SHELL -c``, so they run in the same shell (bashisms keep working). A host whose login
  shell is another one (zsh, ksh, fish, csh...) is :class:`ShellUnavailable`: its commands
  stay on exec channels, in that shell. ``"sh"``, ``"bash"``: that program. Starting takes
  three round trips: the channel, the exec request, then the shell's name and the probe
  together.
* The shell starts lazily, on the first :meth:`RemoteShell.run`, and is probed: a POSIX
  shell must answer (``$((6*7))``, ``$$``), and it must be able to put a command in a
  process group of its own (``set -m`` works — bash — or ``setsid`` exists, e.g. for dash,
  whose ``set -m`` needs a tty). Otherwise :class:`ShellUnavailable` (no ``sh``,
  ``nologin``, no process groups, no answer within ``start_timeout`` s): the caller runs
  commands through ``exec`` instead.
* Each command runs in a child of the shell with stdin ``/dev/null``: ``cd``, ``export``,
  ``umask``, variables, traps and ``exit`` do not reach the next command. With ``set -m``
  it is a subshell ``( eval 'COMMAND' )`` (a fork), or, for a command that reads the
  shell's identity (``$$``, ``${$}``, ``$0``, ``$BASHPID``, ``$LINENO``), a new shell
  ``( exec -a bash /bin/bash -c 'COMMAND' )`` as sshd would start it (a fork and an exec:
  its ``$$`` is its own, as with exec); with ``setsid`` it is ``setsid sh -c 'COMMAND'``
  (a fork and two execs). A syntax error is the command's (exit 2), not the shell's.
* stdout and stderr are kept apart, as bytes, exactly (NUL, no trailing newline, MB on both
  streams at once); the markers never reach the result or the callbacks. ``exited`` is the
  shell's ``$?``: 0..255, 127 for "not found", 128+N when killed by signal N (``exec``
  reports a signal as exit-signal, which paramiko shows as -1).
* ``timeout`` (seconds, None: no limit): the command's process group is killed with
  ``kill -9 PGID -PGID`` over a separate ``exec`` channel and
  :class:`~pytest_fabricplus.errors.CommandTimeout` raised; the shell stays usable.
* A shell that dies or whose channel closes while a command runs raises :class:`ShellLost`
  for that command (also when the transport is dead; the caller maps it to
  ``ConnectionLost`` when ``transport.is_active()`` is false); the next :meth:`RemoteShell.run`
  starts a new shell (on a live transport). sshd reports nothing while an orphaned command
  still holds the pipes, so a command running longer than 1 s is checked on with
  ``kill -0 PID`` over exec (after 1, 2, 4, 8, 8... s); the orphan's group is killed.
* Interrupted (``KeyboardInterrupt`` in the thread running a command, or :meth:`interrupt`
  from another thread): the command's process group is killed over exec, as on timeout,
  within :data:`_INTERRUPT_KILL` s, and the shell refuses further commands.
* In a cooperative fleet-mode body (``run(..., hub=hub)``, ``cooperative.py``) the body
  parks while its command runs; the shell channel's data event wakes its hub. Starting the
  shell, and a shell busy with another caller, are waited for in a pool thread. A body the
  hub abandons (Ctrl-C) does not wait for the host: the shell gets a TERM (SSH "signal"
  request), whose trap kills the command's process group and ends the shell; the run's
  :meth:`interrupt` kills the group over exec too (sshd before 7.9 ignores the request).
* One command at a time per shell: :meth:`RemoteShell.run` holds a lock; a second thread
  waits for the first command to finish (so does :meth:`RemoteShell.close`).

Differences from ``exec`` (where the shell is NOT the same):

* With ``shell="sh"`` or ``"bash"`` commands are interpreted by that program, whatever the
  login shell ``exec`` uses (``auto`` uses the login shell, or leaves the host to exec).
* In a ``set -m`` subshell (bash): a syntax error's message says ``bash: eval: line N:``
  with N the line of the shell's whole input so far, where ``exec`` says ``bash: -c: line
  1:``; ``$$`` is the persistent shell's pid where the command's text does not show it
  (text the command builds at run time and evaluates, a file it sources); a command killed
  by a signal may get the subshell's ``Terminated``/``Killed`` line on stderr.
* A background process a command leaves running with the command's stdout/stderr open
  (``(sleep 1; echo late) &``) holds the command up, and what it writes is this command's
  output, as with ``exec``; one that closed them (``sleep 30 >/dev/null 2>&1 &``) does not.
  The shell finds such processes in the command's process group through Linux's ``/proc``
  (read only while the group still has a process once the command ended: ~5 ms per look,
  every 50 ms). Not found, unlike ``exec``: one that left the group (``setsid``), one of
  another user (``sudo cmd &``), any on a target without ``/proc``; what those write later
  is read as a later command's output.
* The environment is that of the shell started once per connection (sshd's session
  environment, as for ``exec``); startup files the login shell reads for ``-c`` are read
  once, not per command.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import greenlet
import paramiko

from ..errors import CommandTimeout, ShellLost, ShellUnavailable
from . import channel as private  # every use of paramiko internals
from .cooperative import Hub

__all__ = ["RemoteShell", "ShellLost", "ShellResult", "ShellUnavailable"]

Callback = Callable[[bytes], None]
_T = TypeVar("_T")

#: login shells (``$SHELL``'s last part) ``shell="auto"`` runs commands in, as exec does;
#: a host whose login shell is another (zsh, ksh, fish, csh...) is ShellUnavailable, and its
#: commands use exec channels (the shells here share the POSIX syntax the framing uses)
LOGIN_SHELLS = ("bash", "sh", "dash", "ash")
#: a command that reads the shell's identity (``$$``, ``${$}``, ``$0``, ``$BASHPID``,
#: ``$LINENO``): in a subshell those would be the persistent shell's, so such a command
#: runs in a shell of its own, as on exec (a textual test: one more match only costs time)
_NAMES_ITS_SHELL = re.compile(r"\$\$|\$\{[$0]|\$0|BASHPID|LINENO")
#: how long the killed command's shell gets to report its end after a timeout
_DRAIN_AFTER_KILL = 5.0
#: the longest one wait for data lasts (the transport is checked that often)
_POLL = 1.0
#: a command still running after this long: check the shell is alive (``kill -0`` over
#: exec), then again after twice as long, up to every _CHECK_MAX s. sshd sends neither EOF
#: nor exit status for a dead shell while its orphaned command keeps the pipes open.
_CHECK_FIRST = 1.0
_CHECK_MAX = 8.0
#: when the run is interrupted: how long learning the command's process group and killing it
#: over exec may take (s)
_INTERRUPT_KILL = 2.0


def _killpg(pgid: int) -> str:
    """The command that kills the command's process group ``pgid``, in any login shell:
    ``kill -9 PGID -PGID`` (dash's ``kill`` refuses ``kill -KILL -- -PGID``: "Illegal
    number: -"). The process itself first: on the ``setsid`` path the shell learns the pid
    when it forks, and the group exists only once that child has called setsid(1); killed
    before, it never does (a kill right after the start missed it, seen in CI)."""
    return f"kill -9 {pgid} -{pgid}"


@dataclass(frozen=True)
class ShellResult:
    stdout: bytes
    stderr: bytes
    exited: int


def quote(text: str) -> str:
    """``text`` as one single-quoted POSIX shell word."""
    return "'" + text.replace("'", "'\\''") + "'"


class _Framer:
    """One output stream of a command: bytes up to the end marker, other markers cut out.

    A marker is ``NONCE KIND [VALUE]\\n``, written by the shell in one ``printf`` (one
    ``write`` smaller than PIPE_BUF, so contiguous in the stream even when the command's own
    writes surround it). ``P PGID`` (stdout) may come anywhere; ``E [STATUS]`` ends it.
    """

    def __init__(self, nonce: bytes, callback: Callback | None) -> None:
        self.nonce = nonce
        self.callback = callback
        self.pending = b""
        self.chunks: list[bytes] = []
        self.done = False
        self.pgid: int | None = None
        self.status: int | None = None

    def _deliver(self, data: bytes) -> None:
        if data:
            self.chunks.append(data)
            if self.callback is not None:
                self.callback(data)

    def feed(self, data: bytes) -> None:
        if self.done:
            return  # written after the end: a background process of the command
        buf = self.pending + data
        nonce = self.nonce
        while True:
            i = buf.find(nonce)
            if i < 0:
                keep = min(len(buf), len(nonce) - 1)  # may be the start of a marker
                self._deliver(buf[: len(buf) - keep])
                self.pending = buf[len(buf) - keep :]
                return
            self._deliver(buf[:i])
            j = buf.find(b"\n", i + len(nonce))
            if j < 0:
                self.pending = buf[i:]
                return
            kind, _, value = buf[i + len(nonce) : j].strip().partition(b" ")
            buf = buf[j + 1 :]
            if kind == b"P":
                self.pgid = int(value)
            elif kind == b"E":
                self.status = int(value) if value else None
                self.done = True
                self.pending = b""
                return

    def data(self) -> bytes:
        return b"".join(self.chunks)


class RemoteShell:
    """One persistent ``sh`` on a session channel of ``transport`` (see the module doc)."""

    def __init__(
        self,
        transport: paramiko.Transport,
        describe: str,
        shell: str = "auto",
        start_timeout: float = 10.0,
    ) -> None:
        self.transport = transport
        self.describe = describe
        self.shell = shell
        self.program = "sh" if shell == "auto" else shell  # the shell running (once started)
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._channel: paramiko.Channel | None = None
        # the channel has data, EOF or closed; while a cooperative fleet body runs a command
        # it also wakes that body's hub (``also``)
        self._ready = private.Notifying()
        self._hub: Hub | None = None  # a cooperative fleet body's, while it runs a command
        self._job_control = False  # set -m works (else setsid)
        self.pid: int | None = None  # the shell's pid on the target
        self.starts = 0  # shells started so far (tests, benchmarks)
        self._job: _Framer | None = None  # the running command's stdout (its pgid on it)
        self._orphan: int | None = None  # the pgid of an abandoned fleet body's command
        self._interrupted = False

    # -- state ------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        """The shell is running now (a dead one is replaced by the next :meth:`run`)."""
        channel = self._channel
        return (
            channel is not None
            and not channel.closed
            and not channel.eof_received
            and not channel.exit_status_ready()
            and bool(self.transport.is_active())
        )

    @property
    def busy(self) -> bool:
        """A command runs in the shell now (or an abandoned fleet body's may still run)."""
        return self._job is not None or self._orphan is not None

    @property
    def process_groups(self) -> str:
        """How each command gets its own process group: ``"set -m"`` or ``"setsid"``."""
        return "set -m" if self._job_control else "setsid"

    def close(self) -> None:
        """End the shell (EOF on its stdin, channel closed). The next run starts a new one."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            with contextlib.suppress(Exception):
                private.send_eof(channel)
            with contextlib.suppress(Exception):
                channel.close()

    # -- starting ---------------------------------------------------------------------------
    def _start(self, command: str) -> paramiko.Channel:
        if not self.transport.is_active():
            raise ShellLost(self.describe, command, "the SSH transport is closed")
        auto = self.shell == "auto"
        # the login shell runs this (``$SHELL -c``); valid in sh, bash, zsh, csh and fish.
        # ``auto``: the login shell itself, reading commands on stdin (exec's ``$SHELL -c``
        # runs them in it); it says which it is, and one not of ours is left to exec.
        first = 'exec "$SHELL"' if auto else f"exec {self.shell}"
        nonce = secrets.token_hex(16)
        channel: paramiko.Channel | None = None
        try:
            deadline = time.monotonic() + self.start_timeout
            channel = private.open_session(self.transport, deadline)
            ready = private.Notifying()
            private.data_event(channel, ready)
            private.start_exec(channel, first, deadline, eof=False)
            # the name and the probe at once: one round trip for both. (Not before the exec
            # reply: sshd opens a session channel's window only once it has started the
            # command, with the reply, so sending earlier gains nothing and waits unbounded.)
            name = f"echo {nonce}-shell $SHELL\n" if auto else ""  # any shell's syntax
            channel.sendall((name + self._probe(nonce)).encode())
        except (private.Unanswered, EOFError, OSError, paramiko.SSHException) as exc:
            if channel is not None:
                with contextlib.suppress(Exception):
                    channel.close()
            if isinstance(exc, private.Unanswered):
                raise ShellUnavailable(
                    self.describe, f"no answer to {exc.what} within {self.start_timeout:g}s"
                ) from None
            if not self.transport.is_active():
                raise ShellLost(self.describe, command, f"{type(exc).__name__}: {exc}") from None
            raise ShellUnavailable(self.describe, f"{type(exc).__name__}: {exc}") from None
        # until it says its name, the login shell is known as what started it
        self.program = "$SHELL" if auto else self.shell
        try:
            out = b""
            if auto:
                out = self._read(channel, ready, f"{nonce}-shell ", deadline)
                line = out.split(f"{nonce}-shell ".encode(), 1)[1].split(b"\n", 1)[0]
                said = line.decode(errors="replace").strip().rsplit("/", 1)[-1]
                if said not in LOGIN_SHELLS:  # zsh, ksh, fish, csh...: exec runs commands in
                    raise ShellUnavailable(  # it, so shall we
                        self.describe,
                        f"its login shell is {said!r}, in which exec channels run commands; "
                        f"the persistent shell runs them only in {', '.join(LOGIN_SHELLS)}",
                    )
                self.program = said
            out = self._read(channel, ready, f"{nonce} end\n", deadline, out)
            lines = [line for line in out.splitlines() if line.split(b" ", 1)[0] == nonce.encode()]
        except ShellUnavailable:
            with contextlib.suppress(Exception):
                channel.close()
            raise
        except (EOFError, OSError, paramiko.SSHException) as exc:
            with contextlib.suppress(Exception):
                channel.close()
            raise ShellUnavailable(self.describe, f"{type(exc).__name__}: {exc}") from None
        words = lines[0].split() if lines else []
        if len(words) != 4 or words[1] != b"42" or not words[2].isdigit():
            channel.close()
            raise ShellUnavailable(self.describe, f"{self.program!r} is not a POSIX shell")
        self.pid = int(words[2])
        self._job_control = b"m" in words[3]
        has_setsid = any(line.split()[1:2] == [b"setsid"] for line in lines)
        if not self._job_control and not has_setsid:
            channel.close()
            raise ShellUnavailable(
                self.describe,
                f"{self.program!r} cannot run a command in a process group of its own "
                "(no job control without a tty, no setsid)",
            )
        self.starts += 1
        self._channel = channel
        self._ready = ready
        return channel

    @staticmethod
    def _probe(nonce: str) -> str:
        """What the shell runs first: job control if it can, the TERM trap, the helper
        functions, then its answers (``NONCE 42 PID FLAGS``, ``NONCE setsid``, ``NONCE end``)."""
        return (
            "set -m 2>/dev/null\n"
            "__fpsh_sh=$0\n"  # the program, for a command that names its shell
            # SIGTERM to the shell (an SSH "signal" request: an abandoned fleet body)
            # kills the running command's process group, then ends the shell
            'trap \'[ -n "${__fpsh_j-}" ] && kill -9 "$__fpsh_j" -"$__fpsh_j" 2>/dev/null; '
            "exit 143' TERM\n"
            # does a process of group $1 still hold the shell's stdout or stderr (a
            # background process of the command: exec waits for it)? Linux's /proc
            "__fpsh_held() {\n"
            "__fpsh_g=$1\n"
            "for __fpsh_p in /proc/[0-9]*; do\n"
            # (2>/dev/null for the read alone: on the loop, fd 2 would be /dev/null)
            '{ read -r __fpsh_l < "$__fpsh_p/stat"; } 2>/dev/null || continue\n'
            "set -- ${__fpsh_l##*) }\n"
            '[ "$3" = "$__fpsh_g" ] || continue\n'
            'for __fpsh_f in "$__fpsh_p"/fd/*; do\n'
            'if [ "$__fpsh_f" -ef /proc/$$/fd/1 ] || [ "$__fpsh_f" -ef /proc/$$/fd/2 ]; '
            "then return 0; fi\n"
            "done\n"
            "done\n"
            "return 1\n"
            "}\n"
            f'printf \'%s %s %s %s\\n\' {nonce} "$((6*7))" "$$" "$-"\n'
            f"command -v setsid >/dev/null 2>&1 && printf '%s setsid\\n' {nonce}\n"
            f"printf '%s end\\n' {nonce}\n"
        )

    def _read(
        self,
        channel: paramiko.Channel,
        ready: threading.Event,
        until: str,
        deadline: float,
        out: bytes = b"",
    ) -> bytes:
        """``out`` and the stdout that follows, up to and including the line where ``until``
        is (stderr is drained: a shell's complaints about the probe are not its answer)."""
        end = until.encode()
        while end not in out or b"\n" not in (end + out.split(end, 1)[1])[len(end) - 1 :]:
            data = self._recv_some(channel, ready, deadline, drain_stderr=True)
            if data is None:
                raise ShellUnavailable(self.describe, f"{self.program!r} did not answer")
            if data == b"":
                status = channel.exit_status if channel.exit_status_ready() else None
                raise ShellUnavailable(
                    self.describe,
                    f"{self.program!r} ended at once (exit status {status}); output {out[-200:]!r}",
                )
            out += data
        return out

    @staticmethod
    def _recv_some(
        channel: paramiko.Channel,
        ready: threading.Event,
        deadline: float,
        drain_stderr: bool = False,
    ) -> bytes | None:
        """Stdout data, b"" at EOF/close, None when ``deadline`` passed (probe only)."""
        while True:
            if drain_stderr:
                while channel.recv_stderr_ready():
                    channel.recv_stderr(65536)
            if channel.recv_ready():
                return channel.recv(65536)
            if channel.closed or channel.eof_received:
                return b""
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready.wait(min(remaining, _POLL))

    # -- running ----------------------------------------------------------------------------
    def _script(self, command: str, nonce: str) -> str:
        if self._job_control and _NAMES_ITS_SHELL.search(command):
            # exec's own: a new shell (ours, named as sshd names it) runs the command, so $$,
            # $0, $BASHPID and $LINENO are its own, not the persistent shell's (~1 ms more)
            job = (
                '( exec ${BASH_VERSION:+-a "${__fpsh_sh##*/}"} "$__fpsh_sh" -c '
                f"{quote(command)}\n) </dev/null &\n"
            )
        elif self._job_control:  # a subshell: its own process group, no exec
            job = f"( eval {quote(command)}\n) </dev/null &\n"
        else:  # dash & co: setsid(1) execs (the child is no group leader) and sh runs it
            job = f"setsid {self.program} -c {quote(command)} </dev/null &\n"
        # P: the job's pgid (anywhere in stdout); E: the end and $? (stdout), the end (stderr)
        return (
            f"{job}__fpsh_j=$!; printf '%s P %d\\n' {nonce} \"$!\"\n"
            'wait "$!"; __fpsh_s=$?\n'
            # with job control, wait also returns when the job STOPS (128+SIGSTOP...): wait
            # on for its end, as exec does (the timeout kills it)
            'while [ "$__fpsh_s" -gt 128 ] && kill -0 "$!" 2>/dev/null; do\n'
            'sleep 1; wait "$!"; __fpsh_s=$?; done\n'
            # as exec: the end comes when no process the command left running still holds
            # its stdout or stderr (the timeout kills them); what they write is this output
            'while kill -0 -"$__fpsh_j" 2>/dev/null && __fpsh_held "$__fpsh_j"; do\n'
            "sleep 0.05 2>/dev/null || sleep 1; done; __fpsh_j=\n"
            f"printf '%s E\\n' {nonce} >&2\n"
            f"printf '%s E %d\\n' {nonce} \"$__fpsh_s\"\n"
        )

    def start(self) -> None:
        """Start the shell now (if none runs) instead of on the first :meth:`run`: pre-flight
        does it in the background, so the first command does not wait the three round trips
        of opening and probing it. Raises :class:`ShellUnavailable` / :class:`ShellLost`."""
        with self._lock:
            if self._channel is None or not self.alive:
                self._drop()
                self._start("(starting the shell)")

    def run(
        self,
        command: str,
        timeout: float | None,
        on_stdout: Callback | None = None,
        on_stderr: Callback | None = None,
        hub: Hub | None = None,
    ) -> ShellResult:
        """Run ``command`` in the shell (started now if none runs); see the module doc.

        ``hub``: the caller is a cooperative fleet body of that hub (``cooperative.py``):
        while the command runs, the body parks and the hub's other bodies go on. Starting a
        shell, and a shell another body or thread is using, are waited for in a pool thread
        (``Hub.offload``) instead."""
        if hub is not None:
            if self._lock.acquire(blocking=False):
                try:
                    if not self._interrupted and self._channel is not None and self.alive:
                        self._hub = hub
                        self._ready.also = hub.waker()
                        try:
                            return self._run(command, timeout, on_stdout, on_stderr)
                        finally:
                            self._hub = None
                            self._ready.also = None
                finally:
                    self._lock.release()
            # a shell to start, or one another caller is using: wait in a pool thread
            return hub.offload(lambda: self.run(command, timeout, on_stdout, on_stderr))
        with self._lock:
            return self._run(command, timeout, on_stdout, on_stderr)

    def _run(
        self,
        command: str,
        timeout: float | None,
        on_stdout: Callback | None,
        on_stderr: Callback | None,
    ) -> ShellResult:
        """:meth:`run`, with the lock held."""
        if self._interrupted:
            raise ShellLost(self.describe, command, "the run was interrupted")
        channel = self._channel
        if channel is None or not self.alive:
            self._drop()
            channel = self._start(command)
        nonce = secrets.token_hex(16)
        out = _Framer(nonce.encode(), on_stdout)
        err = _Framer(nonce.encode(), on_stderr)
        deadline = None if timeout is None else time.monotonic() + timeout
        self._job = out
        try:
            channel.sendall(self._script(command, nonce).encode())
            if not self._pump(channel, out, err, deadline):
                self._unless_silent(command, f"within {timeout or 0:g}s (--command-timeout)")
                if out.pgid is None:  # the shell has not said which group yet
                    self._pump(channel, out, err, time.monotonic() + _DRAIN_AFTER_KILL, out)
                self._kill(out.pgid, command)
                drained = self._pump(channel, out, err, time.monotonic() + _DRAIN_AFTER_KILL)
                if not drained:
                    self._drop()  # out of step: the next command gets a new shell
                raise CommandTimeout(self.describe, command, timeout or 0)
        except ShellLost as exc:
            if self._interrupted:
                self._learn_pgid(channel, out, err)
            self._drop()
            if out.pgid is not None and not out.done:  # an orphan: end it (best effort)
                pgid = out.pgid
                with contextlib.suppress(ShellLost):
                    self._blocking(lambda: self._exec(_killpg(pgid), command))
            raise ShellLost(self.describe, command, exc.detail) from None
        except (EOFError, OSError, paramiko.SSHException) as exc:
            self._drop()
            raise ShellLost(self.describe, command, f"{type(exc).__name__}: {exc}") from None
        except (KeyboardInterrupt, SystemExit, greenlet.GreenletExit):
            # Ctrl-C, SIGTERM, an abandoned fleet body: kill it, as on timeout
            self._abandon(channel, out, err, command)
            raise
        finally:
            self._job = None
        if out.status is None:
            self._drop()
            raise ShellLost(self.describe, command, "no exit status in the shell's answer")
        return ShellResult(out.data(), err.data(), out.status)

    def interrupt(self, timeout: float = _INTERRUPT_KILL) -> None:
        """The run is stopping (SIGINT/SIGTERM, from another thread): kill the running
        command's process group now (over exec, within ``timeout``) and refuse new commands.
        Does not wait for the command's lock."""
        self._interrupted = True
        deadline = time.monotonic() + timeout
        orphan, self._orphan = self._orphan, None
        if orphan is not None:  # the shell got a TERM; sshd before 7.9 ignores that
            with contextlib.suppress(ShellLost):
                self._exec(_killpg(orphan), "", max(time.monotonic() + 0.2, deadline))
        job = self._job
        if job is None:
            return
        while job.pgid is None and not job.done and time.monotonic() < deadline:
            time.sleep(0.02)  # the thread running it reads the "P" marker
        if job.pgid is not None and not job.done:
            with contextlib.suppress(ShellLost):
                self._exec(_killpg(job.pgid), "", max(time.monotonic() + 0.2, deadline))

    def _learn_pgid(self, channel: paramiko.Channel, out: _Framer, err: _Framer) -> None:
        """Read on (briefly) until the shell says the running command's process group."""
        if out.pgid is None and not out.done and not channel.closed:
            with contextlib.suppress(Exception):
                deadline = time.monotonic() + _INTERRUPT_KILL / 2
                self._pump(channel, out, err, deadline, out, stop_on_interrupt=False)

    def _abandon(self, channel: paramiko.Channel, out: _Framer, err: _Framer, command: str) -> None:
        """This thread was interrupted while ``command`` ran: kill its process group (bounded)
        and drop the shell, whose output is now out of step. A fleet body the hub abandons
        must not wait (the hub abandons every body in turn): the shell gets a TERM (an SSH
        "signal" request: its trap kills the command's group and ends it), and
        :meth:`interrupt` kills the group over exec as well, once the run's interrupt
        reaches this connection."""
        if self._hub is not None:  # (run() unsets it, and the hub's waker, on the way out)
            try:
                with contextlib.suppress(Exception):
                    while out.pgid is None and not out.done and channel.recv_ready():
                        out.feed(channel.recv(65536))  # what has arrived: the pgid?
                    private.send_signal(channel, "TERM")
                if out.pgid is not None and not out.done:
                    self._orphan = out.pgid
            finally:
                self._drop()
            return
        try:
            self._learn_pgid(channel, out, err)
            if out.pgid is not None and not out.done:
                with contextlib.suppress(Exception):
                    self._exec(_killpg(out.pgid), command, time.monotonic() + _INTERRUPT_KILL)
        finally:
            self._drop()

    def _pump(
        self,
        channel: paramiko.Channel,
        out: _Framer,
        err: _Framer,
        deadline: float | None,
        until_pgid: _Framer | None = None,
        stop_on_interrupt: bool = True,
    ) -> bool:
        """Read both streams until both end markers came (True) or ``deadline`` (False);
        with ``until_pgid``, only until the pgid is known. :class:`ShellLost` when the run
        is interrupted (:meth:`interrupt`)."""
        check_every = _CHECK_FIRST
        next_check = time.monotonic() + check_every
        while not (out.done and err.done):
            if until_pgid is not None and (until_pgid.pgid is not None or until_pgid.done):
                return True
            if stop_on_interrupt and self._interrupted:
                raise ShellLost(self.describe, "", "the run was interrupted")
            read = False
            while channel.recv_ready():
                out.feed(channel.recv(65536))
                read = True
            while channel.recv_stderr_ready():
                err.feed(channel.recv_stderr(65536))
                read = True
            if read:
                continue
            # nothing buffered in this pass: a later arrival sets the channel's pipe
            if channel.closed or channel.eof_received or channel.exit_status_ready():
                status = channel.exit_status if channel.exit_status_ready() else None
                detail = "the shell's channel closed"
                if status is not None:
                    detail = f"the shell exited (status {status})"
                if not self.transport.is_active():
                    detail = "the SSH transport is closed"
                raise ShellLost(self.describe, "", detail)
            if not self.transport.is_active():
                raise ShellLost(self.describe, "", "the SSH transport is closed")
            now = time.monotonic()
            if now >= next_check:
                alive = self._blocking(lambda: self._exec(f"kill -0 {self.pid}", "", deadline))
                if alive is None and deadline is not None and time.monotonic() >= deadline:
                    return False  # the command's deadline came first: run() decides
                if alive is None:  # no answer to the check in time: a silent host?
                    self._unless_silent(
                        "", f"to a check on the shell within {_DRAIN_AFTER_KILL:g}s"
                    )
                if alive != 0:
                    raise ShellLost(self.describe, "", "the shell is gone")
                check_every = min(check_every * 2, _CHECK_MAX)
                next_check = time.monotonic() + check_every
            step = min(_POLL, max(0.0, next_check - now))
            if deadline is not None:
                remaining = deadline - now
                if remaining <= 0:
                    return False
                step = min(step, remaining)
            self._wait(step)
        return True

    def _wait(self, seconds: float) -> None:
        """Until the channel has something to read (or ``seconds`` passed); a fleet body
        parks meanwhile (the channel wakes its hub)."""
        hub = self._hub
        if hub is None:
            self._ready.wait(seconds)
            return
        ready = self._ready
        hub.park(lambda: ready.is_set() or self._interrupted, time.monotonic() + seconds)

    def _blocking(self, call: Callable[[], _T]) -> _T:
        """``call()``, which waits for the host: in a pool thread for a fleet body."""
        hub = self._hub
        return call() if hub is None else hub.offload(call)

    def _unless_silent(self, command: str, waited: str) -> None:
        """After the host left us ``waited``: return when it still answers a keepalive, else
        close the connection and raise :class:`ShellLost` (the caller's ConnectionLost)."""
        live = private.liveness(self.transport)
        if live is None or self._blocking(lambda: live.probe(private.LIVENESS_PROBE)):
            return
        reason = (
            f"no answer from the SSH server {waited}, nor to a keepalive within "
            f"{private.LIVENESS_PROBE:g}s; the connection was closed"
        )
        live.declare_lost(reason)
        self._drop()
        raise ShellLost(self.describe, command, reason)

    def _kill(self, pgid: int | None, command: str) -> None:
        """:func:`_killpg` over an ``exec`` channel of its own."""
        if pgid is None or pgid <= 1:
            raise ShellLost(self.describe, command, "timed out before the shell started it")
        self._blocking(lambda: self._exec(_killpg(pgid), command))

    def _exec(self, line: str, command: str, until: float | None = None) -> int | None:
        """``line`` on an ``exec`` channel of its own: its exit status (None: no answer
        within _DRAIN_AFTER_KILL s, or before ``until``)."""
        deadline = time.monotonic() + _DRAIN_AFTER_KILL
        if until is not None:
            deadline = min(deadline, until)
        try:
            channel = private.open_session(self.transport, deadline)
            try:
                private.start_exec(channel, line, deadline)
                if not private.exit_status_event(channel).wait(
                    max(0.0, deadline - time.monotonic())
                ):
                    return None
                return channel.recv_exit_status()
            finally:
                channel.close()
        except private.Unanswered:
            return None
        except (EOFError, OSError, paramiko.SSHException) as exc:
            if not self.transport.is_active():
                raise ShellLost(self.describe, command, "the SSH transport is closed") from None
            raise ShellLost(self.describe, command, f"{line!r} failed: {exc}") from None
