"""Host affinity plans for xdist: whole hosts per worker, balanced by item count."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pytest_fabricplus.fleet.affinity import host_of_nodeid, plan, worker_ids

HOSTS = ["web", "web-1", "db1", "[::1]"]


def test_host_of_nodeid_prefers_the_longest_id() -> None:
    assert host_of_nodeid("t.py::test_a[web-1]", HOSTS) == "web-1"
    assert host_of_nodeid("t.py::test_a[web]", HOSTS) == "web"
    assert host_of_nodeid("t.py::test_a[db1-3]", HOSTS) == "db1"
    assert host_of_nodeid("t.py::test_a[3-db1]", HOSTS) == "db1"
    assert host_of_nodeid("t.py::test_a[x-db1-y]", HOSTS) == "db1"
    assert host_of_nodeid("t.py::test_a[[::1]]", HOSTS) == "[::1]"
    assert host_of_nodeid("t.py::test_a", HOSTS) is None
    assert host_of_nodeid("t.py::test_a[other]", HOSTS) is None


def test_every_host_on_exactly_one_worker_and_balanced() -> None:
    hosts = [f"h{i:02d}" for i in range(10)]
    nodeids = [f"t.py::test_{n}[{h}]" for h in hosts for n in range(5 + hosts.index(h) % 3)]
    nodeids += [f"t.py::test_plain_{n}" for n in range(7)]
    result = plan(nodeids, hosts, worker_ids(4))
    assert sorted(i for v in result.values() for i in v) == list(range(len(nodeids)))
    for host in hosts:
        owners = {w for w, idx in result.items() for i in idx if f"[{host}]" in nodeids[i]}
        assert len(owners) == 1, (host, owners)
    sizes = sorted(len(v) for v in result.values())
    assert sizes[-1] - sizes[0] <= 2


def test_same_input_same_plan_on_every_process() -> None:
    nodeids = [f"t.py::test[{h}]" for h in ("b", "a", "c")] * 3
    assert plan(nodeids, ["a", "b", "c"], worker_ids(2)) == plan(
        list(nodeids), ["c", "b", "a"], worker_ids(2)
    )


def _reference_host_of_nodeid(nodeid: str, host_ids: list[str]) -> str | None:
    """The first implementation (a scan over every id, longest first): the set-based one
    must answer the same for every id and test id."""
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


_FIELD = st.text(alphabet="abw-1.", min_size=1, max_size=4)


@given(
    ids=st.lists(_FIELD, min_size=1, max_size=8, unique=True),
    params=st.lists(_FIELD, min_size=1, max_size=4),
)
def test_host_of_nodeid_matches_the_reference_scan(ids: list[str], params: list[str]) -> None:
    nodeid = f"t.py::test_a[{'-'.join(params)}]"
    assert host_of_nodeid(nodeid, ids) == _reference_host_of_nodeid(nodeid, ids)
