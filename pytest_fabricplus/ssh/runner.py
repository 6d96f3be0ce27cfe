"""Our own run loop: a command's channel read directly, without invoke's runner.

invoke's runner starts three IO threads per command and merges its configuration each time;
over a fleet, in threads sharing the GIL, that is most of a check's time. For the common
call (:func:`direct_ok`: keywords among hide, warn, timeout, encoding; no pty, echo, env,
watchers or streams configured) :func:`run_direct` reads the channel itself and
:func:`run_in_shell` uses the connection's persistent shell (``ssh/shell.py``): the same
invoke :class:`Result`, the same errors (``UnexpectedExit``, ``CommandTimeout``,
``ConnectionLost``, ``RunInterrupted``), output streamed to ``sys.stdout``/``sys.stderr``
unless hidden, multibyte characters split across packets decoded whole.

Only public API here; the private internals it needs (the bounded exec request, the exit
status event, the ``signal`` request that kills a command, the deadline verdict) come from
``ssh/channel.py``. ``FABRICPLUS_FAST_PATH=0`` turns this path off (invoke's runner for every
command); ``tests/integration/test_fast_path.py`` requires both to give equal results.

Upstream behaviour worked around here:

* invoke's runner polls for the exit status every 10 ms and starts a thread per stream and a
  timer per command: :func:`run_direct` waits on the exit-status event and keeps the deadline.
* invoke's runner answers Ctrl-C by forwarding it and waiting on: :func:`run_direct` kills the
  command on the host (as a timeout does) before re-raising ``KeyboardInterrupt``.
"""

from __future__ import annotations

import codecs
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import paramiko
from fabric.runners import Result
from invoke.exceptions import UnexpectedExit
from invoke.runners import default_encoding, normalize_hide

from ..errors import CommandTimeout, RunInterrupted, ShellLost
from .channel import (
    DirectConnection,
    Unanswered,
    exec_reply,
    exit_status_event,
    expired,
    kill,
    notify,
    prefix_commands,
    request_exec,
)
from .cooperative import Hub, current_hub

DIRECT_KWARGS = frozenset({"hide", "warn", "timeout", "encoding"})


def direct_ok(conn: DirectConnection, kwargs: Mapping[str, Any], run: Mapping[str, Any]) -> bool:
    """Whether :func:`run_direct` can serve this call exactly as invoke's runner would."""
    if not DIRECT_KWARGS.issuperset(kwargs) or conn.forward_agent:
        return False
    get = run.get
    return not (
        get("in_stream", False) is not False  # a stream to forward: invoke's runner does it
        or get("pty")
        or get("echo")
        or get("env")
        or get("watchers")
        or get("asynchronous")
        or get("disown")
        or get("dry")
        or get("out_stream") is not None
        or get("err_stream") is not None
    )


class _Echo:
    """Output of a shell command shown as it arrives (unless hidden), decoded whole."""

    def __init__(self, stream: Any, encoding: str) -> None:
        self.stream = stream
        try:
            self.decoder: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder(encoding)(
                "replace"
            )
        except LookupError:  # a codec without an incremental decoder
            self.decoder = None
        self.encoding = encoding

    def feed(self, data: bytes) -> None:
        text = (
            self.decoder.decode(data)
            if self.decoder is not None
            else data.decode(self.encoding, "replace")
        )
        if text:
            self.stream.write(text)
            self.stream.flush()

    def finish(self) -> None:
        if self.decoder is not None:
            tail = self.decoder.decode(b"", final=True)
            if tail:
                self.stream.write(tail)
                self.stream.flush()


class _Stream:
    """One output stream of a channel: kept as bytes, echoed decoded unless hidden."""

    def __init__(self, recv: Callable[[int], bytes], echo: Any, encoding: str) -> None:
        self.recv = recv
        self.chunks: list[bytes] = []
        self.echo = None if echo is None else _Echo(echo, encoding)
        self.encoding = encoding

    def read(self) -> bool:
        """Read what is there (blocking up to the channel's timeout); False at EOF."""
        data = self.recv(65536)
        if not data:
            return False
        self.chunks.append(data)
        if self.echo is not None:
            self.echo.feed(data)
        return True

    def text(self) -> str:
        if self.echo is not None:
            self.echo.finish()
        return b"".join(self.chunks).decode(self.encoding, "replace")


def _options(
    conn: DirectConnection,
    config: Mapping[str, Any],
    hide: Any,
    warn: bool | None,
    timeout: float | None,
    encoding: str | None,
) -> tuple[Any, bool, str, float | None]:
    """run()'s keywords over the connection's config: hidden streams, warn, encoding, limit."""
    return (
        normalize_hide(config.get("hide") if hide is None else hide),
        bool(config.get("warn") if warn is None else warn),
        encoding or config.get("encoding") or default_encoding(),
        conn.command_timeout if timeout is None else timeout,
    )


def _result(
    conn: DirectConnection,
    command: str,
    config: Mapping[str, Any],
    stdout: str,
    stderr: str,
    exited: int,
    hidden: Any,
    encoding: str,
    warn: bool,
) -> Any:
    """invoke's :class:`Result` of a finished command; ``UnexpectedExit`` unless it exited
    0 or ``warn``."""
    result = Result(
        stdout=stdout,
        stderr=stderr,
        encoding=encoding,
        command=command,
        shell=config.get("shell"),
        env={},
        exited=exited,
        pty=False,
        hide=hidden,
        connection=conn,
    )
    conn.check_alive(command, result)
    if exited != 0 and not warn:
        raise UnexpectedExit(result)
    return result


def run_direct(
    conn: DirectConnection,
    command: str,
    config: Mapping[str, Any],
    hide: Any = None,
    warn: bool | None = None,
    timeout: float | None = None,
    encoding: str | None = None,
) -> Any:
    """Run ``command`` on ``conn`` reading the channel directly: the same :class:`Result`
    and errors as invoke's runner, output streamed to ``sys.stdout``/``sys.stderr`` unless
    hidden, multibyte characters split across packets decoded whole."""
    __tracebackhide__ = True
    run = DirectRun(conn, command, config, hide, warn, timeout, encoding)
    hub = current_hub()
    if hub is not None:  # a fleet-mode body: the others run while this one waits
        return run_parked(hub, run)
    run.start()
    return run.finish()


def run_parked(hub: Hub, run: DirectRun) -> Any:
    """``run.start()`` and ``run.finish()`` for a body of ``hub``: parked while the command
    runs (its output read as it comes); past its deadline, or with the connection
    interrupted, ``finish`` (which kills the command and asks whether the host still answers)
    runs in a thread of its own, so that the other bodies do not wait for that probe."""
    __tracebackhide__ = True
    run.start(hub.waker())
    try:
        while not (run.done() or run.conn.interrupted):
            hub.park(lambda: run.done() or run.conn.interrupted or run.has_output(), run.deadline)
            if run.deadline is not None and run.deadline <= time.monotonic() and not run.done():
                break
            run.drain()
    except BaseException:  # the run was interrupted (the body abandoned): nothing keeps running
        run.abandon()
        raise
    if run.done():
        return run.finish()
    return hub.offload(run.finish)


class DirectRun:
    """:func:`run_direct` in two halves, so that one thread can start a command on many
    hosts and then collect each (``HostPool.run``): :meth:`start` sends the exec request
    without waiting for its reply, :meth:`finish` waits for the reply and reads the channel
    to its end. The deadline (``timeout``, else ``--command-timeout``) runs from the
    constructor. A started run must be finished, or :meth:`abandon` ed (killed, closed)."""

    def __init__(
        self,
        conn: DirectConnection,
        command: str,
        config: Mapping[str, Any],
        hide: Any = None,
        warn: bool | None = None,
        timeout: float | None = None,
        encoding: str | None = None,
    ) -> None:
        self.conn = conn
        self.command = command
        self.config = config
        self.hidden, self.warn, self.encoding, self.limit = _options(
            conn, config, hide, warn, timeout, encoding
        )
        self.deadline = None if self.limit is None else time.monotonic() + self.limit
        self.channel: Any = None
        self._error: Exception | None = None  # what drain() met, raised by finish()

    def start(self, wake: threading.Event | None = None) -> None:
        """Send the exec request. ``wake``: set whenever this command's channel has data,
        its exit status or closes (one thread waiting for many commands)."""
        __tracebackhide__ = True
        conn, command = self.conn, self.command
        if not conn.is_connected:
            conn.open()
        try:
            channel = conn.create_session(self.deadline)  # takes the spare, requests the next
        except Unanswered as exc:
            raise expired(conn, command, self.limit or 0, exc.what) from None
        except (EOFError, OSError, paramiko.SSHException) as exc:
            conn.raise_if_lost(command, exc)
            raise
        hidden, encoding = self.hidden, self.encoding
        self.out = _Stream(channel.recv, None if "stdout" in hidden else sys.stdout, encoding)
        self.err = _Stream(
            channel.recv_stderr, None if "stderr" in hidden else sys.stderr, encoding
        )
        try:
            if wake is not None:
                notify(channel, wake)
            # the reply is awaited by finish(): the next spare, requested just before, is
            # confirmed during that round trip; stdin gets EOF (ssh -n) in the same flight
            request_exec(channel, prefix_commands(conn, command))
        except (EOFError, OSError, paramiko.SSHException) as exc:
            channel.close()
            conn.raise_if_lost(command, exc)
            raise
        except BaseException:  # Ctrl-C, SIGTERM: the request may be out; killed as on timeout
            kill(channel)
            channel.close()
            raise
        self.channel = channel

    def done(self) -> bool:
        """:meth:`finish` will not wait: the channel closed, or both the exit status and the
        end of the output came (OpenSSH sends the exit status first when a process the
        command left running still holds its output open, and ``exec`` waits for it), or
        :meth:`drain` failed."""
        channel = self.channel
        if channel is None or self._error is not None or channel.closed:
            return True
        return bool(channel.exit_status_ready() and channel.eof_received)

    def has_output(self) -> bool:
        """Output has arrived that :meth:`drain` would read."""
        channel = self.channel
        return channel is not None and bool(channel.recv_ready() or channel.recv_stderr_ready())

    def drain(self) -> None:
        """Read the output that has arrived (the channel's window stays open: a command
        writing more than it holds would otherwise wait for us). What reading raises (a
        connection reset, output that cannot be shown) is this command's: :meth:`finish`
        raises it, as :func:`run_direct` would have."""
        channel = self.channel
        if channel is None or self._error is not None:
            return
        try:
            while channel.recv_ready():
                self.out.read()
            while channel.recv_stderr_ready():
                self.err.read()
        except Exception as exc:
            self._error = exc

    def abandon(self) -> None:
        """Kill the command on its host and close the channel (the caller was interrupted)."""
        channel, self.channel = self.channel, None
        if channel is not None:
            kill(channel)
            channel.close()

    def finish(self) -> Any:
        __tracebackhide__ = True
        conn, command, limit, deadline = self.conn, self.command, self.limit, self.deadline
        channel = self.channel
        if channel is None:
            raise RuntimeError(f"{command!r} was not started, or was abandoned")
        hidden, encoding = self.hidden, self.encoding
        out, err = self.out, self.err
        try:
            if self._error is not None:
                raise self._error  # met by drain(): handled as if met here
            exec_reply(channel, deadline)
            status = exit_status_event(channel)
            while True:
                flowing = False
                while channel.recv_ready():
                    flowing = out.read()
                while channel.recv_stderr_ready():
                    flowing = err.read()
                if status.is_set():
                    break
                if conn.interrupted:  # SIGINT/SIGTERM handled in another thread: as a timeout
                    kill(channel)
                    raise RunInterrupted(conn.spec.describe(), f"running {command!r}")
                step = 0.002 if flowing else 0.05
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        kill(channel)
                        raise expired(conn, command, limit or 0)
                    step = min(step, remaining)
                status.wait(step)
            # the exit status can precede the last output: read both streams to their EOF
            channel.settimeout(max(1.0, (deadline - time.monotonic()) if deadline else 30.0))
            while out.read():
                pass
            while err.read():
                pass
            exited = channel.recv_exit_status()
        except Unanswered as exc:
            raise expired(conn, command, limit or 0, exc.what) from None
        except TimeoutError:  # the exit status came, then the rest of the output did not
            raise expired(conn, command, limit or 0) from None
        except (EOFError, OSError, paramiko.SSHException) as exc:
            conn.raise_if_lost(command, exc)
            raise
        except (KeyboardInterrupt, SystemExit):  # Ctrl-C, SIGTERM: killed, as on timeout
            kill(channel)
            raise
        finally:
            channel.close()
            self.channel = None
        return _result(
            conn, command, self.config, out.text(), err.text(), exited, hidden, encoding, self.warn
        )


def run_in_shell(
    conn: DirectConnection,
    shell: Any,
    command: str,
    config: Mapping[str, Any],
    hide: Any = None,
    warn: bool | None = None,
    timeout: float | None = None,
    encoding: str | None = None,
    hub: Hub | None = None,
) -> Any:
    """:func:`run_direct`'s contract (same :class:`Result`, errors, streaming) over the
    connection's persistent shell (:class:`~.shell.RemoteShell`). ``hub``: the caller is a
    body of that cooperative hub, parked while the command runs."""
    __tracebackhide__ = True
    hidden, warn, encoding, limit = _options(conn, config, hide, warn, timeout, encoding)
    out = None if "stdout" in hidden else _Echo(sys.stdout, encoding)
    err = None if "stderr" in hidden else _Echo(sys.stderr, encoding)
    try:
        answer = shell.run(
            prefix_commands(conn, command),
            limit,
            on_stdout=out.feed if out is not None else None,
            on_stderr=err.feed if err is not None else None,
            hub=hub,
        )
    except CommandTimeout:
        raise CommandTimeout(conn.spec.describe(), command, limit or 0) from None
    except ShellLost as exc:  # the shell (or the connection) went away
        conn.raise_if_lost(command, exc)
        raise
    finally:
        for echo in (out, err):
            if echo is not None:
                echo.finish()
    return _result(
        conn,
        command,
        config,
        answer.stdout.decode(encoding, "replace"),
        answer.stderr.decode(encoding, "replace"),
        answer.exited,
        hidden,
        encoding,
        warn,
    )
