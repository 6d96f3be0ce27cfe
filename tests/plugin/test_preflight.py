"""Pre-flight: hosts opened concurrently at session start; dead hosts cost one timeout."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from conftest import Target
from testing.sshd import free_port

TESTS = "\n".join(f"def test_{i}(connection): connection.run('true')" for i in range(5))


def inventory(path: Path, healthy: Target, dead_ports: list[int]) -> Path:
    lines = [f"ok ansible_host=127.0.0.1 ansible_port={healthy.port} ansible_user=fptest"]
    lines += [
        f"dead{i} ansible_host=127.0.0.1 ansible_port={p} ansible_user=fptest"
        for i, p in enumerate(dead_ports)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_dead_hosts_cost_one_timeout_together(pytester: pytest.Pytester, sshd: Target) -> None:
    holes = [socket.socket() for _ in range(3)]
    try:
        for hole in holes:  # accept TCP, never speak SSH
            hole.bind(("127.0.0.1", 0))
            hole.listen(8)
        ports = [h.getsockname()[1] for h in holes] + [free_port()]
        pytester.makepyfile(TESTS)
        inv = inventory(pytester.path / "inv.ini", sshd, ports)
        start = time.monotonic()
        result = pytester.runpytest(*sshd.args("--connect-timeout=2", hosts=inv))
        elapsed = time.monotonic() - start
    finally:
        for hole in holes:
            hole.close()
    result.assert_outcomes(passed=5, errors=20)
    # 3 blackholes opened concurrently: about one connect timeout, not 3 x 5 tests x 2 s
    assert elapsed < 2 * 3, elapsed
    result.stdout.fnmatch_lines(
        [
            "fabricplus: 1/5 hosts connected in *s; unreachable: dead0 (timeout), dead1 "
            "(timeout), dead2 (timeout), dead3 (refused)",
        ]
    )
    result.stdout.fnmatch_lines(
        ["host * unreachable", "dead0 * 0 * 0 * 5 * 0  timeout: no SSH answer within 2s*"]
    )


def test_skip_unreachable(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile(TESTS)
    inv = inventory(pytester.path / "inv.ini", sshd, [free_port()])
    result = pytester.runpytest(*sshd.args("--skip-unreachable", "-rs", hosts=inv))
    result.assert_outcomes(passed=5, skipped=5)
    result.stdout.fnmatch_lines(
        ["SKIPPED * cannot connect to dead0 (*): connection refused on * (--skip-unreachable)"]
    )


def test_host_pool_suites_get_the_preflight_too(pytester: pytest.Pytester, sshd: Target) -> None:
    # a suite of host_pool tests only: its hosts are opened (and a dead one named) before
    # the first test, not by the first host_pool call one handshake after another
    pytester.makepyfile(
        """
        import pytest

        def test_all(host_pool):
            assert set(host_pool.run("true").failed) == {"dead0"}

        @pytest.mark.hosts("ok")
        def test_ok_only(host_pool):
            host_pool.run("true").raise_on_failure()
        """
    )
    inv = inventory(pytester.path / "inv.ini", sshd, [free_port()])
    result = pytester.runpytest(*sshd.args("-p", "no:xdist", hosts=inv))
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["fabricplus: 1/2 hosts connected in *s; unreachable: dead0 (refused)", "*test_*"]
    )
