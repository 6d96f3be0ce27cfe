"""Pre-flight: open a process's hosts concurrently at session start; host affinity plans.

A host that cannot be reached costs one connect timeout for the whole session: the registry
remembers the failure and every later use re-raises it at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .errors import HostUnreachable
from .hostspec import HostSpec


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


def preflight(
    registry: object,
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
    get: Callable[[HostSpec], object] = registry.get  # type: ignore[attr-defined]

    def one(spec: HostSpec) -> None:
        nonlocal done
        try:
            get(spec)
        except HostUnreachable as exc:
            with lock:
                report.unreachable[spec.id or spec.name] = exc
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


# -- host affinity for xdist ----------------------------------------------------------------
def host_of_nodeid(nodeid: str, host_ids: Iterable[str]) -> str | None:
    """The host id in a test id's parameter part (``test_x[web1-3]`` -> ``web1``).

    Longest id wins, so ``web-1`` beats ``web``. Used identically by the xdist controller and
    its workers, so both compute the same plan from the same ids.
    """
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    params = nodeid[nodeid.index("[") + 1 : -1]
    for host in sorted(host_ids, key=lambda h: (-len(h), h)):
        if (
            params == host
            or params.startswith(host + "-")
            or params.endswith("-" + host)
            or f"-{host}-" in params
        ):
            return host
    return None


def plan(
    nodeids: Sequence[str], host_ids: Iterable[str], workers: Sequence[str]
) -> dict[str, list[int]]:
    """Give each worker whole hosts (all items of a host on one worker), balanced by items.

    Greedy longest-processing-time: hosts with most items first, each to the least loaded
    worker (ties: the first worker); items without a host fill in last, one by one.
    """
    ids = list(host_ids)
    by_host: dict[str, list[int]] = {}
    loose: list[int] = []
    for index, nodeid in enumerate(nodeids):
        host = host_of_nodeid(nodeid, ids)
        if host is None:
            loose.append(index)
        else:
            by_host.setdefault(host, []).append(index)
    result: dict[str, list[int]] = {w: [] for w in workers}
    if not workers:
        return result
    load = dict.fromkeys(workers, 0)
    order = {w: i for i, w in enumerate(workers)}

    def lightest() -> str:
        return min(workers, key=lambda w: (load[w], order[w]))

    for host in sorted(by_host, key=lambda h: (-len(by_host[h]), h)):
        worker = lightest()
        result[worker].extend(by_host[host])
        load[worker] += len(by_host[host])
    for index in loose:
        worker = lightest()
        result[worker].append(index)
        load[worker] += 1
    for indices in result.values():
        indices.sort()
    return result


def worker_ids(count: int) -> list[str]:
    return [f"gw{i}" for i in range(count)]
