"""Pre-flight: open a process's hosts concurrently at session start.

A host that cannot be reached costs one connect timeout for the whole session: the registry
remembers the failure and every later use re-raises it at once.

Interrupted (``KeyboardInterrupt`` in the thread that called :func:`preflight`), it does not
wait for its threads: the registry is interrupted (handshakes under way are abandoned, their
sockets shut down), so they end at once, and the interruption goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from ..errors import HostUnreachable, RunInterrupted
from ..hosts.spec import HostSpec
from ..text import one_line
from .pool import ConnectionSource, map_in_steps


@dataclass
class PreflightReport:
    total: int
    seconds: float
    unreachable: dict[str, HostUnreachable] = field(default_factory=dict)
    #: hosts whose opening raised something else: a bug (ours or a dependency's), not a dead
    #: host. Not remembered by the registry: each test of the host raises it again, with
    #: its traceback.
    internal_errors: dict[str, Exception] = field(default_factory=dict)

    def summary(self) -> str:
        ok = self.total - len(self.unreachable) - len(self.internal_errors)
        text = f"{ok}/{self.total} hosts connected in {self.seconds:.1f}s"
        if self.unreachable:
            dead = ", ".join(f"{h} ({e.cause})" for h, e in sorted(self.unreachable.items()))
            text += f"; unreachable: {dead}"
        if self.internal_errors:
            bugs = ", ".join(
                f"{h} ({type(e).__name__}: {one_line(e, 200, keep='start')})"
                for h, e in sorted(self.internal_errors.items())
            )
            text += (
                f"; INTERNAL ERROR (a bug, not the host; its tests show the traceback) "
                f"opening {bugs}"
            )
        return text


#: hosts an xdist worker opens at once in its background pre-flight (its tests run meanwhile)
WORKER_PREFLIGHT_THREADS = 8
#: a host still opening after this long (s) no longer counts against ``fresh``: it waits for
#: the network (a timeout, a slow jump host), not for the CPU, and must not hold the others up
SLOW_OPEN = 1.0


def preflight(
    registry: ConnectionSource,
    hosts: Sequence[HostSpec],
    max_workers: int,
    progress: Callable[[int, int], None] | None = None,
    fresh: int | None = None,
) -> PreflightReport:
    """Open every host through ``registry.get`` concurrently, in the given order: at most
    ``max_workers`` at once, and (``fresh``) at most that many that started less than
    :data:`SLOW_OPEN` ago.

    ``fresh`` is for an xdist worker's background pre-flight: its first tests need its first
    hosts, and 37 handshakes sharing the CPU at once all finish late (measured: the first test
    of a 300-host ``-n 8`` run waited 4.5 s). Dead hosts still fail together: one that hangs
    stops counting after :data:`SLOW_OPEN`, so the next hosts start meanwhile.
    """
    started = time.monotonic()
    report = PreflightReport(total=len(hosts), seconds=0.0)
    if not hosts:
        return report
    done = 0
    lock = threading.Lock()
    get = registry.get

    def one(spec: HostSpec) -> None:
        nonlocal done
        try:
            get(spec).prepare()  # e.g. the persistent shell, started ahead of the first test
        except RunInterrupted:
            pass  # the run is stopping
        except HostUnreachable as exc:
            with lock:
                report.unreachable[spec.name] = exc
        except Exception as exc:  # a bug: the host's tests raise it again (not cached)
            with lock:
                report.internal_errors[spec.name] = exc
        finally:
            with lock:
                done += 1
                if progress is not None:
                    progress(done, len(hosts))

    workers = min(max(1, max_workers), len(hosts))
    limit = workers if fresh is None else max(1, min(fresh, workers))
    ex = ThreadPoolExecutor(workers, thread_name_prefix="fabricplus-preflight")
    wait_for_threads = True
    try:
        if limit >= workers:
            map_in_steps(ex, one, hosts)
        else:
            _paced(ex, one, list(hosts), workers, limit)
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C, SIGTERM: no wait for hosts still opening
        wait_for_threads = False
        interrupt = getattr(registry, "interrupt", None)
        if callable(interrupt):
            interrupt()  # their sockets shut down: the threads end at once
        raise
    finally:
        ex.shutdown(wait=wait_for_threads, cancel_futures=not wait_for_threads)
    report.seconds = time.monotonic() - started
    return report


def _paced(
    ex: ThreadPoolExecutor,
    one: Callable[[HostSpec], None],
    pending: list[HostSpec],
    workers: int,
    limit: int,
) -> None:
    """Start ``pending`` in order: at most ``workers`` running, ``limit`` of them fresh.

    Each pass starts hosts or waits (at most :data:`SLOW_OPEN` / 4) for one to finish; every
    host ends by its connect timeout, so the loop ends too.
    """
    running: dict[Future[None], float] = {}
    pending.reverse()  # pop() from the end: the given order
    while pending or running:
        now = time.monotonic()
        young = sum(1 for t in running.values() if now - t < SLOW_OPEN)
        while pending and len(running) < workers and young < limit:
            running[ex.submit(one, pending.pop())] = now
            young += 1
        finished, _ = wait(running, timeout=SLOW_OPEN / 4, return_when=FIRST_COMPLETED)
        for future in finished:
            del running[future]
            future.result()  # one() keeps every Exception; anything else (interrupts): raise
