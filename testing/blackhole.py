"""A TCP listener that accepts connections and never speaks SSH (a "black hole" host).

It counts what clients did instead of timing them: how many connections each hole accepted
and how many were open at once, across a group of holes. A client that gives up (its connect
timeout) closes its socket, which the hole sees as end-of-file. Tests assert "one attempt per
host" and "the hosts were tried together" with these counts, not with a clock.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType


class Holes:
    """``count`` black holes on 127.0.0.1, counted together (``peak`` open at once)."""

    def __init__(self, count: int) -> None:
        self._lock = threading.Lock()
        self._open = 0
        self.peak = 0
        self.accepted = [0] * count
        self.accept_times: list[float] = []  # time.monotonic() of every accept, in order
        self._stop = threading.Event()
        self._sockets = []
        self._threads: list[threading.Thread] = []
        for index in range(count):
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            listener.settimeout(0.2)  # the accept loop checks _stop between waits
            self._sockets.append(listener)
            thread = threading.Thread(target=self._accept, args=(index, listener), daemon=True)
            self._threads.append(thread)

    def started_within(self, seconds: float) -> int:
        """Connections accepted within ``seconds`` of the first: with a client whose connect
        timeout is longer, the hosts it tried at once (``peak`` can count one more: a hole
        may see a timed-out client's end-of-file after the next host's accept)."""
        with self._lock:
            times = sorted(self.accept_times)
        return sum(1 for t in times if t - times[0] <= seconds) if times else 0

    @property
    def ports(self) -> list[int]:
        return [s.getsockname()[1] for s in self._sockets]

    def __enter__(self) -> Holes:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        for listener in self._sockets:
            listener.close()

    def _accept(self, index: int, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted[index] += 1
                self.accept_times.append(time.monotonic())
                self._open += 1
                self.peak = max(self.peak, self._open)
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        """Say nothing; wait for the client to give up (end-of-file or reset)."""
        conn.settimeout(0.2)
        with conn:
            while not self._stop.is_set():
                try:
                    if conn.recv(4096) == b"":
                        break
                except TimeoutError:
                    continue
                except OSError:
                    break
        with self._lock:
            self._open -= 1
