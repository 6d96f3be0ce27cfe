"""pytest-xdist integration: whole hosts per worker, planned alike by controller and workers.

:class:`XdistHooks` is registered only when xdist is installed; the scheduler
(:mod:`.xdist_scheduler`) is used when ``--dist`` is ``load`` (what ``-n N`` implies) and is
imported only by the controller, when it schedules. Each worker computes the same
:func:`plan` from the same collection, so it knows its hosts at start and pre-flights them.

:func:`host_of_nodeid` reads the host id back from a test id's parameter part. It is a
heuristic (``web`` vs ``web-1``: longest id wins) and only decides *where* an item runs, never
*whether* it runs correctly: an item it cannot place runs on whichever worker is lightest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pytest

#: workerinput key telling workers that hosts are planned per worker (they pre-flight theirs)
AFFINITY_KEY = "fabricplus_host_affinity"


class XdistHooks:
    """Registered at configure time when xdist is installed (before xdist's own ``DSession``
    is, so that our ``trylast`` scheduler hook is asked before xdist's default); the hosts
    are known from ``pytest_sessionstart`` on, before any node is configured."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.host_ids: list[str] = []
        self.active = False

    def set_hosts(self, host_ids: list[str]) -> None:
        self.host_ids = host_ids
        # workers see dist="no": decide here, on the controller, and tell them
        self.active = bool(host_ids) and self.config.getvalue("dist") == "load"

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[AFFINITY_KEY] = self.active

    @pytest.hookimpl(trylast=True, optionalhook=True)
    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        if not self.active:
            return None
        # xdist's scheduler modules (execnet, ~0.1 s) load in the controller only, when needed
        from .xdist_scheduler import HostAffinityScheduling

        return HostAffinityScheduling(config, log, self.host_ids)


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
