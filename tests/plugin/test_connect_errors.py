"""Hosts that cannot be reached: one clear error per test naming host and cause, fast."""

from __future__ import annotations

import time

import pytest

from conftest import Target
from testing.sshd import free_port

TESTS = """
def test_one(connection): pass
def test_two(connection): pass
def test_three(connection): pass
"""


def test_wrong_port_is_refused_naming_the_host(pytester: pytest.Pytester, sshd: Target) -> None:
    port = free_port()
    pytester.makepyfile(TESTS)
    result = pytester.runpytest(*sshd.args(hosts=f"fptest@127.0.0.1:{port}"))
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        [f"*cannot connect to 127.0.0.1 (fptest@127.0.0.1:{port}): connection refused*"]
    )


def test_blackhole_costs_one_connect_timeout_for_all_its_tests(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    import socket

    # a listener that accepts TCP but never speaks SSH
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        port = hole.getsockname()[1]
        pytester.makepyfile(TESTS)
        start = time.monotonic()
        result = pytester.runpytest(
            *sshd.args("--connect-timeout=1", hosts=f"fptest@127.0.0.1:{port}")
        )
        elapsed = time.monotonic() - start
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines([f"*127.0.0.1:{port}*no SSH answer within 1s*"])
    assert elapsed < 3 * 1 + 3  # one timeout, not one per test (loose bound, plus start-up)


def test_wrong_password_is_an_auth_error(
    pytester: pytest.Pytester, sshd: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WRONG_PW", "not-the-password")
    pytester.makepyfile(TESTS)
    result = pytester.runpytest(
        f"--hosts={sshd.address}",
        f"--known-hosts={sshd.known_hosts}",
        "--ssh-password-env=WRONG_PW",
    )
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*cannot connect to *: authentication failed*"])
    assert "not-the-password" not in result.stdout.str() + result.stderr.str()


def test_unresolvable_name(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest(*sshd.args(hosts="fptest@no-such-host.invalid"))
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*cannot connect to no-such-host.invalid*does not resolve*"])


def test_dead_host_does_not_affect_healthy_one(pytester: pytest.Pytester, sshd: Target) -> None:
    port = free_port()
    pytester.makepyfile(TESTS)
    result = pytester.runpytest(*sshd.args(hosts=f"{sshd.address},fptest@127.0.0.1:{port}"))
    result.assert_outcomes(passed=3, errors=3)
