"""HostAffinityScheduling with fake nodes: no processes, no execnet gateways, no sshd.

As pytest-xdist's own testing/test_dsession.py does (MockGateway, MockNode): the scheduler
sees objects with a ``gateway.id``, ``send_runtest_some``, ``shutdown`` and
``shutting_down``, and DSession's calls are made by hand in the order DSession makes them
(add_node, add_node_collection, schedule; mark_test_complete per finished item;
remove_node when a worker crashes; add_node ... schedule again for its replacement).
The end-to-end run with real workers and sshd is tests/plugin/test_xdist_affinity.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_fabricplus.plugin.xdist_scheduler import HostAffinityScheduling  # needs xdist


class MockGateway:
    def __init__(self, id: str) -> None:
        self.id = id


class MockNode:
    def __init__(self, id: str) -> None:
        self.gateway = MockGateway(id)
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indices: list[int]) -> None:
        assert not self.shutting_down, f"{self.gateway.id}: items sent after shutdown"
        self.sent.extend(indices)

    def send_runtest_all(self) -> None:  # pragma: no cover - load scheduling never calls it
        raise AssertionError("send_runtest_all")

    def shutdown(self) -> None:
        self.shutting_down = True

    def __repr__(self) -> str:
        return f"<MockNode {self.gateway.id}>"


class FakeConfig:
    """What LoadScheduling reads from the config: ``tx`` (how many workers) and
    ``maxschedchunk``; collection reports of a collection mismatch are recorded."""

    def __init__(self, workers: int) -> None:
        self.values: dict[str, Any] = {"tx": [f"{workers}*popen"], "maxschedchunk": None}
        self.collect_reports: list[pytest.CollectReport] = []
        config = self

        class Hook:
            def pytest_collectreport(self, report: pytest.CollectReport) -> None:
                config.collect_reports.append(report)

        self.hook = Hook()

    def getvalue(self, name: str) -> Any:
        return self.values[name]

    getoption = getvalue


class FakeLog:
    """xdist's log producer: the scheduler logs through ``log.loadsched(...)``."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def loadsched(self, *args: object) -> None:
        self.lines.append(" ".join(str(a) for a in args))


def collection(items_per_host: dict[str, int], loose: int = 0) -> list[str]:
    ids = [
        f"t.py::test_{n}[{host}]" for host, count in items_per_host.items() for n in range(count)
    ]
    return ids + [f"t.py::test_plain_{n}" for n in range(loose)]


def started(
    hosts: dict[str, int], node_ids: list[str], loose: int = 0
) -> tuple[HostAffinityScheduling, list[MockNode], list[str], FakeLog]:
    """A scheduler after DSession's start: every node added and collected, then schedule()."""
    log = FakeLog()
    sched = HostAffinityScheduling(FakeConfig(len(node_ids)), log, list(hosts))  # type: ignore[arg-type]
    nodes = [MockNode(i) for i in node_ids]
    items = collection(hosts, loose)
    for node in nodes:
        sched.add_node(node)
    for node in nodes:
        assert not sched.collection_is_completed
        sched.add_node_collection(node, items)
    assert sched.collection_is_completed
    sched.schedule()
    return sched, nodes, items, log


def hosts_of(node: MockNode, items: list[str]) -> set[str]:
    return {items[i].split("[")[1].rstrip("]") for i in node.sent if "[" in items[i]}


def run_all(sched: HostAffinityScheduling, node: MockNode) -> list[int]:
    """The worker runs what it was sent, in order, reporting each item (bounded)."""
    done: list[int] = []
    for _ in range(1000):
        todo = [i for i in sched.node2pending[node] if i not in done]
        if not todo:
            return done
        sched.mark_test_complete(node, todo[0])
        done.append(todo[0])
    raise AssertionError("the scheduler kept sending items")


def test_whole_hosts_per_worker_balanced_by_items_and_workers_shut_down() -> None:
    hosts = {"web1": 6, "web2": 4, "db1": 3, "db2": 2}
    # added in reverse: the plan follows the gateway ids (gw0 first), not the add order
    sched, nodes, items, _log = started(hosts, ["gw1", "gw0"])
    gw1, gw0 = nodes
    # greedy by items: web1 (6) -> gw0; web2 (4) -> gw1; db1 (3) -> gw1 (4 < 6); db2 (2) -> gw0
    assert hosts_of(gw0, items) == {"web1", "db2"}
    assert hosts_of(gw1, items) == {"web2", "db1"}
    assert (len(gw0.sent), len(gw1.sent)) == (8, 7)
    # everything sent at once, each item exactly once; the scheduler holds nothing back
    assert sorted(gw0.sent + gw1.sent) == list(range(len(items)))
    assert sched.pending == []
    assert sched.node2pending == {gw1: gw1.sent, gw0: gw0.sent}
    # each worker has all it will get: told to exit when done
    assert gw0.shutting_down
    assert gw1.shutting_down
    # finishing items sends nothing new
    for node in nodes:
        assert run_all(sched, node) == node.sent
    assert sched.tests_finished
    assert not sched.has_pending


def test_items_without_a_host_fill_the_lightest_worker() -> None:
    _sched, (gw0, gw1, gw2), items, _log = started({"a": 5, "b": 3}, ["gw0", "gw1", "gw2"], loose=4)
    assert hosts_of(gw0, items) == {"a"}
    assert hosts_of(gw1, items) == {"b"}
    assert hosts_of(gw2, items) == set()
    assert [len(n.sent) for n in (gw0, gw1, gw2)] == [5, 4, 3]  # loose: gw2, gw2, gw2, gw1
    assert sorted(gw0.sent + gw1.sent + gw2.sent) == list(range(len(items)))


def test_crashed_workers_remaining_items_are_rescheduled_on_its_replacement() -> None:
    hosts = {"web1": 5, "db1": 4}
    sched, (gw0, gw1), items, _log = started(hosts, ["gw0", "gw1"])
    assert hosts_of(gw1, items) == {"db1"}
    db1_items = list(gw1.sent)
    # gw1 finishes its first item, then dies while running the second
    sched.mark_test_complete(gw1, db1_items[0])
    crashed = sched.remove_node(gw1)
    assert crashed == items[db1_items[1]]  # reported as the crashing item
    assert sched.pending == db1_items[2:]  # the rest goes back to the pending queue
    assert gw0.sent == [i for i, nodeid in enumerate(items) if "[web1]" in nodeid]  # unchanged
    # DSession starts a replacement worker: it collects, then schedule() runs again
    gw2 = MockNode("gw2")
    sched.add_node(gw2)
    sched.add_node_collection(gw2, items)
    sched.schedule()
    assert gw2.sent, "the replacement got nothing"
    run = run_all(sched, gw2)
    assert run == db1_items[2:]  # every remaining db1 item, once, on the one replacement
    assert gw0.sent == [i for i, nodeid in enumerate(items) if "[web1]" in nodeid]
    assert sched.pending == []
    assert gw2.shutting_down
    assert run_all(sched, gw0) == gw0.sent
    assert sched.tests_finished


def test_crash_on_the_last_item_leaves_nothing_to_reschedule() -> None:
    sched, (gw0, gw1), items, _log = started({"a": 2, "b": 2}, ["gw0", "gw1"])
    sched.mark_test_complete(gw1, gw1.sent[0])
    assert sched.remove_node(gw1) == items[gw1.sent[1]]
    assert sched.pending == []
    assert run_all(sched, gw0) == gw0.sent
    assert sched.tests_finished


def test_different_collections_abort_the_run() -> None:
    log = FakeLog()
    config = FakeConfig(2)
    sched = HostAffinityScheduling(config, log, ["a", "b"])  # type: ignore[arg-type]
    gw0, gw1 = MockNode("gw0"), MockNode("gw1")
    sched.add_node(gw0)
    sched.add_node(gw1)
    sched.add_node_collection(gw0, collection({"a": 2, "b": 2}))
    sched.add_node_collection(gw1, collection({"a": 2, "b": 3}))
    sched.schedule()
    assert "**Different tests collected, aborting run**" in log.lines
    assert gw0.sent == []
    assert gw1.sent == []
    assert sched.collection is None
    assert [(r.nodeid, r.outcome) for r in config.collect_reports] == [("gw1", "failed")]


def test_empty_collection_sends_nothing() -> None:
    sched, nodes, items, _log = started({}, ["gw0", "gw1"])
    assert items == []
    assert [n.sent for n in nodes] == [[], []]
    assert sched.collection == []
