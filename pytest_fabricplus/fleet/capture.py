"""Per-thread (and per-greenlet) output capture for code that runs many hosts' test bodies
at once.

``sys.stdout``, ``sys.stderr`` and the root logger are process-wide: pytest captures them
for the one test that runs. When several test bodies run in threads of their own (fleet
mode), :class:`ThreadCapture` puts routers in their place for that time: what a registered
thread writes or logs goes to that thread's :class:`Captured` (text streams, log records),
anything else to the original stream or handlers. Afterwards each body's output can be
replayed where pytest captures it for that test alone (:meth:`Captured.replay`).

Output that does not go through these objects is not separated: writes to the file
descriptors themselves (a subprocess, a C extension) and writes from threads the body
started (invoke's IO threads, when a command runs with a pty or the fast path is off) go
to the original streams.

The owner of a write is the running greenlet (``greenlet.getcurrent()``): a body that
:mod:`.cooperative` runs in a greenlet, or a plain thread (each has a main greenlet of its
own).

No pytest here (plugin/fleetmode.py is the pytest side).
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

import greenlet


@dataclass
class Captured:
    """What one thread wrote and logged while registered."""

    stdout: io.StringIO = field(default_factory=io.StringIO)
    stderr: io.StringIO = field(default_factory=io.StringIO)
    records: list[logging.LogRecord] = field(default_factory=list)

    def replay(self) -> None:
        """Write the output to the current ``sys.stdout``/``sys.stderr`` and hand the log
        records to the root logger's handlers (as when they were made), in this thread."""
        out, err = self.stdout.getvalue(), self.stderr.getvalue()
        if out:
            sys.stdout.write(out)
            sys.stdout.flush()
        if err:
            sys.stderr.write(err)
            sys.stderr.flush()
        for record in self.records:
            for handler in list(logging.root.handlers):
                if record.levelno >= handler.level:
                    handler.handle(record)


class _Bytes:
    """``stream.buffer`` of a router: bytes decoded into the thread's text stream."""

    def __init__(self, router: _Router) -> None:
        self._router = router

    def write(self, data: bytes) -> int:
        self._router.write(bytes(data).decode(self._router.encoding, "replace"))
        return len(data)

    def flush(self) -> None:
        self._router.flush()


class _Router(io.TextIOBase):
    """A text stream that writes to the calling thread's capture, else to ``original``."""

    def __init__(self, original: TextIO, which: str, owners: dict[Any, Captured]) -> None:
        super().__init__()
        self._original = original
        self._which = which
        self._owners = owners
        self.buffer = _Bytes(self)

    def _target(self) -> TextIO | io.StringIO:
        captured = self._owners.get(greenlet.getcurrent())
        if captured is None:
            return self._original
        return captured.stdout if self._which == "stdout" else captured.stderr

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._original, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        self._target().write(text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        target = self._target()
        if target is self._original and not getattr(target, "closed", False):
            target.flush()

    def close(self) -> None:
        """A router owns no stream: closing it -- io.IOBase's finaliser does, when the router
        is collected, by then pytest may have closed the stream it stood for (an
        "Exception ignored" warning, an error under pytest's unraisable-exception check on
        Python 3.13) -- leaves the original alone."""

    def isatty(self) -> bool:
        return self._target() is self._original and self._original.isatty()

    def fileno(self) -> int:
        return self._original.fileno()

    def writable(self) -> bool:
        return True


class _LogRouter(logging.Handler):
    """The root logger's only handler while bodies run: a registered thread's records are
    kept for it, others go to the handlers that were there."""

    def __init__(self, handlers: list[logging.Handler], owners: dict[Any, Captured]) -> None:
        super().__init__(logging.NOTSET)
        self._handlers = handlers
        self._owners = owners

    def handle(self, record: logging.LogRecord) -> bool:
        captured = self._owners.get(greenlet.getcurrent())
        if captured is not None:
            captured.records.append(record)
            return True
        for handler in self._handlers:
            if record.levelno >= handler.level:
                handler.handle(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:  # handle() does the work
        pass


class ThreadCapture:
    """While active (``with capture.active():``), registered threads' output is theirs."""

    def __init__(self) -> None:
        self._owners: dict[Any, Captured] = {}

    @contextmanager
    def active(self) -> Iterator[None]:
        saved_out, saved_err = sys.stdout, sys.stderr
        saved_handlers = list(logging.root.handlers)
        sys.stdout = _Router(saved_out, "stdout", self._owners)
        sys.stderr = _Router(saved_err, "stderr", self._owners)
        logging.root.handlers[:] = [_LogRouter(saved_handlers, self._owners)]
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved_out, saved_err
            logging.root.handlers[:] = saved_handlers

    @contextmanager
    def thread(self) -> Iterator[Captured]:
        """Capture what the calling thread (or greenlet) writes and logs until the block
        ends."""
        with self.owned(Captured()) as captured:
            yield captured

    @contextmanager
    def owned(self, captured: Captured) -> Iterator[Captured]:
        """What the calling thread (or greenlet) writes and logs goes to ``captured`` until
        the block ends (a call made in another thread for a body: the body's)."""
        key = greenlet.getcurrent()
        self._owners[key] = captured
        try:
            yield captured
        finally:
            self._owners.pop(key, None)

    def owner(self) -> Captured | None:
        """Where the calling thread's (or greenlet's) output goes now, if captured."""
        return self._owners.get(greenlet.getcurrent())
