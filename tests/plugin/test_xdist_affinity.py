"""-n N: all items of a host run on one worker: one connection per host for the whole run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testing.targets import Target

INNER = """
import json, os
import pytest

@pytest.mark.parametrize("n", range(6))
def test_check(connection, host_spec, n):
    connection.run("true")
    with open(os.path.join(os.environ["FP_OUT"], f"{host_spec.id}-{n}"), "w") as f:
        json.dump(os.environ.get("PYTEST_XDIST_WORKER", "main"), f)

def test_plain():
    pass
"""


def connections_logged(target: Target) -> int:
    return target.server.log_path.read_text().count("Connection from")


@pytest.mark.parametrize("workers", ["2", "auto"])
def test_one_worker_and_one_connection_per_host(
    pytester: pytest.Pytester,
    sshd: Target,
    sshd2: Target,
    both_known_hosts: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    workers: str,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("FP_OUT", str(out))
    pytester.makepyfile(INNER)
    before = {t.port: connections_logged(t) for t in (sshd, sshd2)}
    hosts = f"{sshd.address},{sshd2.address}"
    result = pytester.runpytest_subprocess(
        *sshd.args("-n", workers, hosts=hosts, known_hosts=both_known_hosts), timeout=180
    )
    result.assert_outcomes(passed=13)
    owners: dict[str, set[str]] = {}
    for path in out.iterdir():
        host = path.name.rsplit("-", 1)[0]
        owners.setdefault(host, set()).add(json.loads(path.read_text()))
    assert len(owners) == 2
    assert all(len(w) == 1 for w in owners.values()), owners
    if workers == "2":
        assert len({w for ws in owners.values() for w in ws}) == 2  # balanced: one host each
    for target in (sshd, sshd2):
        assert connections_logged(target) - before[target.port] == 1


def _workers_started(result: pytest.RunResult) -> int:
    """How many workers xdist started: its "created: N/N workers" line (xdist >= 3.3) or
    the "gw0 [1] / gw1 [1] ..." line older versions print instead."""
    import re

    text = result.stdout.str()
    created = re.search(r"created: (\d+)/\d+ workers?", text)
    if created:
        return int(created.group(1))
    return len(set(re.findall(r"\b(gw\d+) \[", text)))


def test_n_auto_with_hosts_runs_several_workers_per_core_one_with_fleet(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from pytest_fabricplus.plugin.xdist import WORKERS_PER_CORE

    cores = len(os.sched_getaffinity(0))
    pytester.makepyfile("def test_x(): pass")
    inventory = pytester.path / "inv.ini"
    inventory.write_text("".join(f"h{i} ansible_host=127.0.0.1\n" for i in range(50)))
    result = pytester.runpytest_subprocess("-n", "auto", f"--hosts={inventory}")
    assert _workers_started(result) == WORKERS_PER_CORE * cores
    # fleet mode runs a worker's hosts at once already: one worker per core
    result = pytester.runpytest_subprocess("-n", "auto", "--fleet", f"--hosts={inventory}")
    assert _workers_started(result) == cores
    # never more workers than hosts named on the command line
    result = pytester.runpytest_subprocess("-n", "auto", "--hosts=127.0.0.1:1,127.0.0.1:2")
    assert _workers_started(result) == 2
    # nor more than the hosts of an inventory file (limit and shard applied)
    few = pytester.path / "few.ini"
    few.write_text("".join(f"f{i} ansible_host=127.0.0.1 ansible_port={i + 1}\n" for i in range(3)))
    result = pytester.runpytest_subprocess("-n", "auto", f"--hosts={few}")
    assert _workers_started(result) == min(3, WORKERS_PER_CORE * cores)
    result = pytester.runpytest_subprocess("-n", "auto", f"--hosts={few}", "--hosts-limit=f1")
    assert _workers_started(result) == 1
    # without hosts, and with xdist's own variable, xdist decides
    result = pytester.runpytest_subprocess("-n", "auto")
    assert _workers_started(result) == cores
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "3")
    result = pytester.runpytest_subprocess("-n", "auto", f"--hosts={inventory}")
    assert _workers_started(result) == 3
