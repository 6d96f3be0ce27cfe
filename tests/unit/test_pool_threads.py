"""``PoolThreads``: one executor for every pool of a session, each pool bounded by its size."""

from __future__ import annotations

import threading
import time
from typing import Any

from pytest_fabricplus.fleet.pool import POOL_THREAD_PREFIX, HostPool, PoolThreads
from pytest_fabricplus.hosts.spec import HostSpec


class _Registry:
    def get(self, spec: HostSpec) -> Any:
        return spec.id


def _pool_threads() -> int:
    return sum(t.name.startswith(POOL_THREAD_PREFIX) for t in threading.enumerate())


def test_pools_of_many_sizes_share_one_bounded_executor() -> None:
    threads = PoolThreads(6)
    hosts = [HostSpec(f"10.0.0.{i}", id=f"h{i}") for i in range(12)]
    lock = threading.Lock()
    running = 0
    peak: dict[int, int] = {}
    try:
        for size in (2, 3, 5, 4):
            peak[size] = 0

            def work(conn: Any, size: int = size) -> str:
                nonlocal running
                with lock:
                    running += 1
                    peak[size] = max(peak[size], running)
                time.sleep(0.02)
                with lock:
                    running -= 1
                return str(conn)

            pool = HostPool(_Registry(), hosts, max_workers=size, threads=threads)
            result = pool.map(work)
            assert [o.value for o in result.values()] == [h.id for h in hosts]
        # each pool ran at most its own size at once, and the session kept ONE executor's
        # threads (its size, 6, at most), not 2 + 3 + 5 + 4 of four executors. (Not "5, the
        # largest pool": ThreadPoolExecutor starts a thread when no idle one has signalled
        # yet, so under load a 6th may start -- seen in CI.)
        assert all(peak[size] <= size for size in peak), peak
        assert peak[5] >= 2
        assert _pool_threads() <= threads.size
    finally:
        threads.close()
    assert _pool_threads() == 0


def test_a_pool_larger_than_the_executor_still_runs_every_host() -> None:
    threads = PoolThreads(2)
    hosts = [HostSpec(f"10.0.1.{i}", id=f"g{i}") for i in range(7)]
    try:
        result = HostPool(_Registry(), hosts, max_workers=50, threads=threads).map(str)
        assert [o.value for o in result.values()] == [h.id for h in hosts]
        assert _pool_threads() <= 2
    finally:
        threads.close()
