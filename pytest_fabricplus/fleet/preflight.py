"""Pre-flight: open a process's hosts concurrently at session start.

A host that cannot be reached costs one connect timeout for the whole session: the registry
remembers the failure and every later use re-raises it at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..errors import HostUnreachable
from ..hosts.spec import HostSpec
from .pool import ConnectionSource


@dataclass
class PreflightReport:
    total: int
    seconds: float
    unreachable: dict[str, HostUnreachable] = field(default_factory=dict)

    def summary(self) -> str:
        ok = self.total - len(self.unreachable)
        text = f"{ok}/{self.total} hosts connected in {self.seconds:.1f}s"
        if self.unreachable:
            dead = ", ".join(f"{h} ({e.cause})" for h, e in sorted(self.unreachable.items()))
            text += f"; unreachable: {dead}"
        return text


#: hosts an xdist worker opens at once in its background pre-flight (its tests run meanwhile)
WORKER_PREFLIGHT_THREADS = 8


def preflight(
    registry: ConnectionSource,
    hosts: Sequence[HostSpec],
    max_workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> PreflightReport:
    """Open every host through ``registry.get`` concurrently (bounded by ``max_workers``)."""
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
        except HostUnreachable as exc:
            with lock:
                report.unreachable[spec.name] = exc
        finally:
            with lock:
                done += 1
                if progress is not None:
                    progress(done, len(hosts))

    with ThreadPoolExecutor(
        min(max(1, max_workers), len(hosts)), thread_name_prefix="fabricplus-preflight"
    ) as ex:
        list(ex.map(one, hosts))
    report.seconds = time.monotonic() - started
    return report
