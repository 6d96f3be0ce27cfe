"""``InterruptGuard``: SIGINT and SIGTERM stop a run cleanly, on the hosts too.

Installed (main thread only) for a run that uses hosts; the previous handlers come back with
:meth:`InterruptGuard.uninstall`. On the first signal it starts ``on_signal`` in a thread of
its own -- the run state's :meth:`~pytest_fabricplus.fleet.state.RunState.interrupt`: every
command running on a host is killed there (as a timeout does), handshakes under way are
abandoned, connections close; under xdist the controller passes the signal on to its
workers -- and then lets the signal take its usual course in the main thread: SIGINT calls
the previous handler (Python's: ``KeyboardInterrupt``), SIGTERM becomes a
``KeyboardInterrupt`` too (pytest has no handler of its own for it: the process would just
die, leaving everything running), so pytest reports the interruption and runs its teardown.

The kill does not wait for the main thread to unwind (a test may be blocked anywhere, or
catch ``KeyboardInterrupt``), and the process does not exit before it is done: the thread is
not a daemon, and it is bounded (:data:`STOP_BOUND`). A second signal within
:data:`STOP_BOUND` s of the first is ignored (a terminal's Ctrl-C reaches the controller and
its xdist workers, and the controller passes it on too: a worker would be interrupted again
in its teardown); a later one takes the usual course again, to stop a teardown that hangs.

Limits (what the stop cannot do):

* OpenSSH older than 7.9 (RHEL/CentOS 7 ship 7.4) ignores the ``signal`` request: a command
  on the exec path keeps running there after an interruption, as after a timeout. The
  persistent shell (``--remote-shell=persistent``) kills by process group over exec, which
  works on any sshd.
* A connection cut without a signal to us (the process SIGKILLed, the network gone) leaves
  its commands running, as ``ssh host cmd`` without ``-t`` does: sshd signals nothing to a
  command without a pty. We do not wrap every command in a watchdog (a cost on every
  command); xdist SIGKILLs a worker only 10 s after its interruption, long after the stop.
* A host name still being resolved (``getaddrinfo``) cannot be abandoned: exit waits for
  the resolver's answer (its own timeout).

Upstream behaviour worked around here:

* pytest installs no SIGTERM handler: a SIGTERM (CI time limits, ``timeout``, ``docker
  stop``) killed the run without teardown, leaving commands and containers behind.
* Python delivers signals to the main thread only: commands that ``host_pool`` and
  pre-flight threads run are not interrupted by ``KeyboardInterrupt``.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

#: the bound (s) on stopping after a signal: killing the commands, closing the connections
STOP_BOUND = 5.0

SIGNALS = (signal.SIGINT, signal.SIGTERM)
log = logging.getLogger("pytest_fabricplus")


class InterruptGuard:
    """Turns SIGINT/SIGTERM into ``on_signal(signum)`` (in a thread) + ``KeyboardInterrupt``."""

    def __init__(self, on_signal: Callable[[int], None]) -> None:
        self.on_signal = on_signal
        self._previous: dict[int, Any] = {}
        self._first: float | None = None
        self.thread: threading.Thread | None = None

    @property
    def installed(self) -> bool:
        return bool(self._previous)

    @property
    def signalled(self) -> bool:
        return self._first is not None

    def install(self) -> None:
        """Take SIGINT and SIGTERM over (main thread only; elsewhere nothing happens). A
        signal the process was told to ignore (``SIG_IGN``, e.g. ``nohup``) stays ignored."""
        if threading.current_thread() is not threading.main_thread() or self._previous:
            return
        for signum in SIGNALS:
            previous = signal.getsignal(signum)
            if previous == signal.SIG_IGN or previous is None:  # None: not set from Python
                continue
            signal.signal(signum, self._handle)
            self._previous[signum] = previous

    def uninstall(self) -> None:
        """Give the previous handlers back (those still ours: another plugin's later handler
        stays). Waits for a stop under way (bounded)."""
        self.wait()
        previous, self._previous = self._previous, {}
        for signum, handler in previous.items():
            with contextlib.suppress(ValueError):  # not the main thread
                if signal.getsignal(signum) == self._handle:
                    signal.signal(signum, handler)

    def wait(self) -> None:
        thread = self.thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(STOP_BOUND)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if self._first is None:
            self._first = now
            self.thread = threading.Thread(
                target=self._stop, args=(signum,), name="fabricplus-interrupt"
            )
            self.thread.start()
        elif now - self._first < STOP_BOUND:
            return  # the same interruption again (see the module doc): the stop is under way
        previous = self._previous.get(signum)
        if callable(previous):
            previous(signum, frame)  # Python's SIGINT handler raises KeyboardInterrupt
        raise KeyboardInterrupt(f"{signal.Signals(signum).name} received")

    def _stop(self, signum: int) -> None:
        try:
            self.on_signal(signum)
        except Exception:  # said, not raised: an unhandled error in a thread says less
            log.exception("pytest-fabricplus: stopping the run after a signal failed")
