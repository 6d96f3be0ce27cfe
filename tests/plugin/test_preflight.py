"""Pre-flight: hosts opened concurrently at session start; dead hosts cost one timeout."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.blackhole import Holes
from testing.sshd import free_port
from testing.targets import Target

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
    with Holes(3) as holes:  # accept TCP, never speak SSH
        ports = [*holes.ports, free_port()]
        pytester.makepyfile(TESTS)
        inv = inventory(pytester.path / "inv.ini", sshd, ports)
        result = pytester.runpytest(*sshd.args("--connect-timeout=2", hosts=inv))
    result.assert_outcomes(passed=5, errors=20)
    # one attempt per black hole (not one per test), the 3 waiting at once (concurrently)
    assert holes.accepted == [1, 1, 1]
    assert holes.peak == 3
    result.stdout.fnmatch_lines(
        [
            "fabricplus: 1/5 hosts connected in *s; unreachable: dead0 (timeout), dead1 "
            "(timeout), dead2 (timeout), dead3 (refused)",
        ]
    )
    result.stdout.fnmatch_lines(
        ["host * unreachable", "dead0 * 0 * 0 * 5 * 0  timeout: no SSH answer within 2s*"]
    )


@pytest.mark.parametrize(
    ("holes_n", "options", "at_once"),
    [
        # default: more handshakes at once than host_pool's 32 threads (they wait for
        # round trips, not for the CPU)
        (40, (), 40),
        # an explicit --max-connections still bounds pre-flight, as before the option
        (10, ("--max-connections=4",), 4),
        (10, ("--max-connections=4", "--preflight-connections=7"), 7),
    ],
    ids=["default", "max-connections", "preflight-connections"],
)
def test_preflight_opens_this_many_hosts_at_once(
    pytester: pytest.Pytester, sshd: Target, holes_n: int, options: tuple[str, ...], at_once: int
) -> None:
    with Holes(holes_n) as holes:
        pytester.makepyfile("def test_0(connection): connection.run('true')")
        inv = inventory(pytester.path / "inv.ini", sshd, holes.ports)
        result = pytester.runpytest(*sshd.args("--connect-timeout=2", *options, hosts=inv))
    result.assert_outcomes(passed=1, errors=holes_n)
    assert holes.accepted == [1] * holes_n
    # the hosts started before the first could time out (2 s) were opened at once
    assert holes.started_within(1.5) == at_once


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


FIRST_COMMAND = """
def test_first(connection):
    spare = connection._spare
    {check}
    assert connection.run("echo hi", hide=True).stdout == "hi\\n"
"""


@pytest.mark.parametrize(
    ("args", "env", "check"),
    [
        # exec channels: pre-flight asked for the first one, so the first command costs one
        # round trip (the exec request), not two (open, then exec)
        ((), "1", "assert spare is not None and spare.event.wait(10)"),
        # the public-API path and the persistent shell do not use spare channels
        ((), "0", "assert spare is None"),
        (("--remote-shell=persistent",), "1", "assert spare is None"),
    ],
    ids=["exec", "public-api", "persistent"],
)
def test_preflight_requests_each_hosts_first_channel(
    pytester: pytest.Pytester,
    sshd: Target,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    env: str,
    check: str,
) -> None:
    monkeypatch.setenv("FABRICPLUS_FAST_PATH", env)
    pytester.makepyfile(FIRST_COMMAND.format(check=check))
    result = pytester.runpytest_subprocess(*sshd.args("-p", "no:xdist", *args))
    result.assert_outcomes(passed=1)


def test_preflight_opens_hosts_in_the_order_of_the_tests(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    # an xdist worker opens its hosts a few at a time in the background while its tests
    # run: in the order the tests need them (not sorted by name), so the first test waits
    # for its own host only
    pytester.makeconftest(
        """
        from pytest_fabricplus.plugin.fixtures import STATE_KEY

        def pytest_collection_finish(session):
            plugin = session.config.pluginmanager.get_plugin("fabricplus-session")
            state = session.config.stash[STATE_KEY]
            order = [h.id for h in plugin.preflight_hosts(session, state)]
            print("PREFLIGHT ORDER", " ".join(order))
        """
    )
    pytester.makepyfile(
        "import pytest",
        *(
            f"@pytest.mark.hosts({name!r})\ndef test_{i}(connection): connection.run('true')"
            for i, name in enumerate(("zz", "zz", "aa", "mm", "aa"))
        ),
    )
    inv = pytester.path / "inv.ini"
    inv.write_text(
        "".join(
            f"{name} ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user=fptest\n"
            for name in ("zz", "aa", "mm")
        )
    )
    result = pytester.runpytest(*sshd.args("-p", "no:xdist", "-s", hosts=inv))
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["PREFLIGHT ORDER zz aa mm"])
