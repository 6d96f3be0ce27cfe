"""The xdist scheduler that keeps all items of a host on one worker (controller only)."""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadScheduling

from ..fleet.affinity import plan


class HostAffinityScheduling(LoadScheduling):  # type: ignore[misc]
    """Like ``--dist load`` but hands each worker whole hosts, once, balanced by item count.

    A run then opens one connection per host in total. A crashed worker's remaining items
    go back to the pending queue and are scheduled as ``load`` does.
    """

    collection: list[str] | None
    maxschedchunk: int | None

    def __init__(self, config: pytest.Config, log: Any, host_ids: list[str]) -> None:
        super().__init__(config, log)
        self.host_ids = host_ids

    def schedule(self) -> None:
        if self.collection is not None:  # later calls (e.g. a restarted worker)
            super().schedule()
            return
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")
            return
        self.collection = list(next(iter(self.node2collection.values())))
        if not self.collection:
            return
        if self.maxschedchunk is None:  # as LoadScheduling does; used when rescheduling
            self.maxschedchunk = len(self.collection)
        nodes = sorted(self.nodes, key=lambda n: int(n.gateway.id.lstrip("gw") or 0))
        assignment = plan(self.collection, self.host_ids, [n.gateway.id for n in nodes])
        self.pending[:] = []
        for node in nodes:
            indices = assignment[node.gateway.id]
            if indices:
                self.node2pending[node].extend(indices)
                node.send_runtest_some(indices)
        for node in nodes:
            node.shutdown()
