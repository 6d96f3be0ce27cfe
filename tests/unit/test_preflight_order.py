"""Pre-flight's order and concurrency (pure logic: a registry that records, no SSH)."""

from __future__ import annotations

import threading
import time

from pytest_fabricplus.fleet.preflight import WORKER_PREFLIGHT_THREADS, preflight
from pytest_fabricplus.hosts.spec import HostSpec


class Recording:
    """A connection source whose ``get`` takes a little while and records the order."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.prepared: list[str] = []
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()

    def get(self, spec: HostSpec) -> Recording.Conn:
        with self.lock:
            self.started.append(spec.id)
            self.running += 1
            self.peak = max(self.peak, self.running)
        time.sleep(0.01)
        with self.lock:
            self.running -= 1
        return Recording.Conn(self, spec.id)

    class Conn:
        def __init__(self, owner: Recording, host: str) -> None:
            self.owner, self.host = owner, host

        def prepare(self) -> None:
            with self.owner.lock:
                self.owner.prepared.append(self.host)


def hosts(n: int) -> list[HostSpec]:
    # ids deliberately not in sorted order: pre-flight must keep the caller's order
    return [HostSpec(host="127.0.0.1", port=2000 + i, id=f"h{(i * 7) % n:03d}") for i in range(n)]


def test_one_at_a_time_opens_in_the_given_order() -> None:
    source = Recording()
    specs = hosts(12)
    report = preflight(source, specs, 1)  # type: ignore[arg-type]
    assert source.started == [s.id for s in specs]
    assert source.prepared == [s.id for s in specs]  # every host's prepare() ran
    assert report.total == 12
    assert not report.unreachable


def test_concurrency_is_bounded_by_max_workers() -> None:
    source = Recording()
    specs = hosts(40)
    preflight(source, specs, WORKER_PREFLIGHT_THREADS)  # type: ignore[arg-type]
    assert 1 < source.peak <= WORKER_PREFLIGHT_THREADS
    # started in order, a few at a time: the first hosts are the first ones asked for
    assert source.started[:WORKER_PREFLIGHT_THREADS] == [
        s.id for s in specs[:WORKER_PREFLIGHT_THREADS]
    ]
    assert sorted(source.prepared) == sorted(s.id for s in specs)
