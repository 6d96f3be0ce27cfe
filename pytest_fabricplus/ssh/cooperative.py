"""Many test bodies in one thread: each in a greenlet, switching where it waits for a host.

Fleet mode's bodies wait for their hosts most of the time. In a thread each, every command
costs thread hand-offs: the pool's queue wakes a thread, the transport's reader wakes it
again when the exit status comes, and the GIL passes between hundreds of threads (measured
at 300 hosts: ~0.4 ms of client CPU per command more than ``HostPool.run``'s one-thread
fan-out). Here a :class:`Hub` runs each body in a greenlet (the ``greenlet`` package, the
one gevent and SQLAlchemy build on) in the calling thread. A body that runs a command on the
direct path (``connection.run``, testinfra's ``host.run``) sends it and *parks*: the hub
goes on with the other bodies and resumes it when its command has ended, has output to
read, or has passed its deadline. Nothing switches anywhere else, so no two bodies ever run
Python code at once, and a body's code between two commands runs as it would alone.

What would block the thread instead of parking -- a run-as user (``su_user``), ``sudo``,
``put``/``get``, the persistent shell, a call invoke's runner serves -- is *offloaded*: the
call runs in a pool thread while its body parks (:meth:`Hub.offload`); what that thread
writes or logs is the body's. A body that blocks outside the connection's API
(``time.sleep``, a subprocess, an SFTP client it holds) holds up the hub until it returns:
correct, but the other bodies wait (``--fleet-bodies=threads`` runs each body in a thread).

Output: the caller keeps ``fleet.capture.ThreadCapture``'s routers in place of
``sys.stdout``/``sys.stderr`` and the root logger's handlers while the hub runs; they are
keyed by the running greenlet (a plain thread's key is its own main greenlet).

No pytest here (plugin/fleetmode.py is the pytest side). Here, below ``fleet``, because the
connection's ``run`` (``runner.run_direct``) parks through it.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

import greenlet

_T = TypeVar("_T")


class Capture(Protocol):
    """Where a thread's or greenlet's output goes (``fleet.capture.ThreadCapture``)."""

    def owner(self) -> Any:
        """The calling thread's (greenlet's) capture, or None."""

    def owned(self, captured: Any) -> AbstractContextManager[Any]:
        """The calling thread's (greenlet's) output goes to ``captured`` in this block."""


#: the longest the hub waits without waking up (s): a signal's handler runs in the main
#: thread only when it wakes (as ``pool.WAIT_STEP``)
WAIT_STEP = 0.2


class _Body(greenlet.greenlet):  # type: ignore[misc]  # greenlet is untyped (Any)
    """A body's greenlet, knowing its hub (:func:`current_hub`)."""

    fleet_hub: Hub


def current_hub() -> Hub | None:
    """The hub running the calling code's body, if a hub runs it (else None: a plain
    thread, or code outside fleet mode's bodies)."""
    hub: Hub | None = getattr(greenlet.getcurrent(), "fleet_hub", None)
    return hub


class _Waker(threading.Event):
    """Set from any thread (a channel's data or status, a future's end): queues its body for
    the hub to look at, and wakes the hub."""

    def __init__(self, hub: Hub, body: _Body) -> None:
        super().__init__()
        self._hub = hub
        self._body = body

    def set(self) -> None:
        self._hub._ready.append(self._body)
        self._hub.wake.set()


class Hub:
    """Run bodies (:meth:`spawn`), each until it parks or ends; :meth:`step` resumes those
    whose wait is over. ``executor``: the threads :meth:`offload` uses. Use it from one
    thread."""

    def __init__(self, executor: Callable[[], Executor], capture: Capture) -> None:
        #: set whenever something a parked body waits for happened
        self.wake = threading.Event()
        self._executor = executor
        self._capture = capture
        self._main = greenlet.getcurrent()
        # a parked body -> (can it go on?, its deadline)
        self._parked: dict[_Body, tuple[Callable[[], bool], float | None]] = {}
        self._ready: collections.deque[_Body] = collections.deque()  # woken, to look at
        self._next_look = 0.0  # when step() next looks at every parked body
        self._live: set[_Body] = set()

    # -- the caller's side --------------------------------------------------------------
    def spawn(self, func: Callable[[], None]) -> None:
        """Start ``func()`` as a body now; it runs until it parks or ends. What it raises
        (it should keep its own errors) is raised here, or by :meth:`step`."""
        body = _Body(func, parent=self._main)
        body.fleet_hub = self
        self._live.add(body)
        self._resume(body)

    @property
    def busy(self) -> bool:
        """Some body has not ended."""
        return bool(self._live)

    @property
    def running(self) -> int:
        """The bodies that have not ended."""
        return len(self._live)

    def step(self, timeout: float = WAIT_STEP) -> None:
        """Resume every parked body whose wait is over; if none is, wait until one may be
        (at most ``timeout`` seconds). The bodies that were woken are looked at each time;
        every parked body (a deadline passed, a connection interrupted) every
        :data:`WAIT_STEP` seconds."""
        self.wake.clear()  # before looking: what comes after sets it again
        now = time.monotonic()
        woken: dict[_Body, None] = {}
        ready = self._ready
        while ready:
            woken[ready.popleft()] = None
        if now >= self._next_look:
            woken.update(dict.fromkeys(self._parked))
            self._next_look = now + WAIT_STEP
        resumed = False
        for body in woken:
            parked = self._parked.get(body)
            if parked is None:
                continue
            can_go, deadline = parked
            if can_go() or (deadline is not None and deadline <= now):
                self._resume(body)
                resumed = True
        if resumed or not self._parked or self._ready:
            return
        self.wake.wait(max(0.0, min(timeout, self._next_look - now)))

    def abandon(self) -> None:
        """End every body that has not ended (each gets ``GreenletExit`` where it parked:
        its command is killed on its host and its channel closed, its offloaded call
        cancelled if not started). After an interrupt."""
        for body in list(self._live):
            self._parked.pop(body, None)
            self._live.discard(body)
            if not body.dead:
                with contextlib.suppress(greenlet.GreenletExit):
                    body.throw(greenlet.GreenletExit)

    def _resume(self, body: _Body) -> None:
        self._parked.pop(body, None)
        try:
            body.switch()
        finally:
            if body.dead:
                self._live.discard(body)

    # -- the bodies' side ---------------------------------------------------------------
    def waker(self) -> threading.Event:
        """For the calling body: an event whose ``set()`` (from any thread) tells the hub
        to look at this body again (``channel.notify`` takes it)."""
        return _Waker(self, self._me())

    def park(self, can_go: Callable[[], bool], deadline: float | None = None) -> None:
        """Called by a body: let the others run until ``can_go()`` or ``deadline`` (a
        ``time.monotonic()`` value). Whatever ``can_go`` waits for must set a
        :meth:`waker` of this body (else it is seen only every :data:`WAIT_STEP`)."""
        me = self._me()
        while not can_go():
            if deadline is not None and deadline <= time.monotonic():
                return
            self._parked[me] = (can_go, deadline)
            self._main.switch()

    def _me(self) -> _Body:
        me = greenlet.getcurrent()
        if not isinstance(me, _Body) or me.fleet_hub is not self:
            raise RuntimeError("for the hub's own bodies only")
        return me

    def offload(self, call: Callable[[], _T]) -> _T:
        """Called by a body: ``call()`` in a pool thread, parked until it returns. What the
        thread writes to ``sys.stdout``/``sys.stderr`` or logs is the body's."""
        waker = self.waker()
        captured = self._capture.owner()
        capture = self._capture

        def in_thread() -> _T:
            if captured is None:
                return call()
            with capture.owned(captured):
                return call()

        future = self._executor().submit(in_thread)
        future.add_done_callback(lambda _f: waker.set())
        try:
            self.park(future.done)
        except BaseException:
            future.cancel()  # not started yet; a started one ends as the run's interrupt says
            raise
        return future.result()
