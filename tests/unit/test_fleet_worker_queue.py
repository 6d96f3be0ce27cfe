"""Fleet mode reads an xdist worker's queue (what is queued after the current item) without
taking anything out, for both kinds of queue xdist has used: the execmodel's ``queue.Queue``
(xdist 3.2 to 3.6, our floor) and xdist 3.7's ``TestQueue`` (``lock()`` yields its deque)."""

from __future__ import annotations

import collections
import contextlib
import queue
from collections.abc import Iterator

from pytest_fabricplus.plugin.fleetmode import _queued

SHUTDOWN = object()  # xdist's shutdown marker is not an int


def test_plain_queue_as_in_xdist_3_2() -> None:
    torun: queue.Queue[object] = queue.Queue()
    for entry in (3, 4, SHUTDOWN):
        torun.put(entry)
    assert _queued(torun) == [3, 4, SHUTDOWN]
    assert [torun.get_nowait() for _ in range(3)] == [3, 4, SHUTDOWN]  # all still there


class LockedQueue:
    """The shape of xdist 3.7's ``TestQueue``: ``lock()`` yields the deque itself."""

    def __init__(self, entries: list[object]) -> None:
        self.items = collections.deque(entries)
        self.locked = 0

    @contextlib.contextmanager
    def lock(self) -> Iterator[collections.deque[object]]:
        self.locked += 1
        yield self.items


def test_locked_queue_as_in_xdist_3_7() -> None:
    torun = LockedQueue([5, 6])
    assert _queued(torun) == [5, 6]
    assert list(torun.items) == [5, 6]
    assert torun.locked == 1


def test_unknown_queue_holds_nothing_known() -> None:
    assert _queued(object()) == []
