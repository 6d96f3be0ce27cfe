"""pytest-xdist integration: a scheduler that keeps all items of a host on one worker.

Registered only when xdist is active and ``--dist`` is ``load`` (what ``-n N`` implies).
"""

from __future__ import annotations

from typing import Any

import pytest

#: workerinput key telling workers that hosts are planned per worker (they pre-flight theirs)
AFFINITY_KEY = "fabricplus_host_affinity"


class XdistHooks:
    """Registered as a plugin only when xdist is installed."""

    def __init__(self, config: pytest.Config, host_ids: list[str]) -> None:
        self.host_ids = host_ids
        # workers see dist="no": decide here, on the controller, and tell them
        self.active = bool(host_ids) and config.getvalue("dist") == "load"

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
