"""Host affinity: whole hosts per worker, balanced by item count (pure; no xdist import).

The xdist controller (``plugin/xdist_scheduler.py``) and every worker compute the same
:func:`plan` from the same collection, so a worker knows its hosts before its first item and
can open them concurrently.

:func:`host_of_nodeid` reads the host id back from a test id's parameter part. It is a
heuristic (``web`` vs ``web-1``: longest id wins) and only decides *where* an item runs, never
*whether* it runs correctly: an item it cannot place runs on whichever worker is lightest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set


def host_of_nodeid(nodeid: str, host_ids: Iterable[str]) -> str | None:
    """The host id in a test id's parameter part (``test_x[web1-3]`` -> ``web1``).

    Longest id wins, so ``web-1`` beats ``web``. Used identically by the xdist controller and
    its workers, so both compute the same plan from the same ids.
    """
    ids = host_ids if isinstance(host_ids, (set, frozenset)) else frozenset(host_ids)
    return _host_in_params(nodeid, ids)


def _host_in_params(nodeid: str, ids: Set[str]) -> str | None:
    # A host id stands in the parameter part as a run of whole "-"-separated fields: the
    # whole part, its start, its end or its middle. Trying every run of fields (a handful)
    # against a set costs the same for 10 or 1,000 hosts; the scan over every id per test
    # cost a 300-host run ~0.2 s of CPU in each xdist process.
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    fields = nodeid[nodeid.index("[") + 1 : -1].split("-")
    best: str | None = None
    for start in range(len(fields)):
        for end in range(len(fields), start, -1):
            candidate = "-".join(fields[start:end])
            if best is not None and len(candidate) < len(best):
                break  # shorter runs from this start cannot win
            if candidate in ids and (
                best is None or len(candidate) > len(best) or candidate < best
            ):
                best = candidate
    return best


def plan(
    nodeids: Sequence[str], host_ids: Iterable[str], workers: Sequence[str]
) -> dict[str, list[int]]:
    """Give each worker whole hosts (all items of a host on one worker), balanced by items.

    Greedy longest-processing-time: hosts with most items first, each to the least loaded
    worker (ties: the first worker); items without a host fill in last, one by one.
    """
    ids = frozenset(host_ids)
    by_host: dict[str, list[int]] = {}
    loose: list[int] = []
    for index, nodeid in enumerate(nodeids):
        host = _host_in_params(nodeid, ids)
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
