"""Hosts that cannot be reached: one clear error per test naming host and cause, fast."""

from __future__ import annotations

import pytest

from testing.blackhole import Holes
from testing.sshd import free_port
from testing.targets import Target

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
    with Holes(1) as hole:  # a listener that accepts TCP but never speaks SSH
        (port,) = hole.ports
        pytester.makepyfile(TESTS)
        result = pytester.runpytest(
            *sshd.args("--connect-timeout=1", hosts=f"fptest@127.0.0.1:{port}")
        )
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines([f"*127.0.0.1:{port}*no SSH answer within 1s*"])
    assert hole.accepted == [1]  # one connect timeout for the host, not one per test


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


# a bug of ours while opening (here: tcp_connect raising TypeError, as a changed signature
# after an upgrade would) is not a dead host: each test shows the traceback, --skip-unreachable
# does not turn it into skips, and pre-flight names it as an internal error
BUGGY_CONFTEST = """
import pytest_fabricplus.ssh.connector as connector

def buggy_tcp_connect(*args, **kwargs):
    raise TypeError("simulated bug in our own code")

connector.tcp_connect = buggy_tcp_connect
"""


@pytest.mark.parametrize("skip", [False, True], ids=["plain", "skip-unreachable"])
def test_our_own_bug_is_not_unreachable(
    pytester: pytest.Pytester, sshd: Target, skip: bool
) -> None:
    pytester.makeconftest(BUGGY_CONFTEST)
    pytester.makepyfile(TESTS)
    extra = ["--skip-unreachable"] if skip else []
    # a subprocess: the conftest patches a module of the outer process otherwise
    result = pytester.runpytest_subprocess(*sshd.args(*extra))
    result.assert_outcomes(errors=3)
    out = result.stdout.str()
    assert out.count("TypeError: simulated bug in our own code") >= 3, out  # each test's
    assert "def buggy_tcp_connect" in out  # the traceback, down to the raising function
    assert "cannot connect to" not in out
    assert "HostUnreachable" not in out
    assert "unreachable:" not in out  # neither in pre-flight's line nor the per-host table
    assert "SKIPPED" not in out
    result.stdout.fnmatch_lines(
        [
            "fabricplus: 0/1 hosts connected in *; INTERNAL ERROR (a bug, not the host; its "
            "tests show the traceback) opening 127.0.0.1 (TypeError: simulated bug in our "
            "own code)"
        ]
    )


def test_nothing_to_authenticate_with_is_auth_and_says_what_to_give(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    """No key, no agent (the harness unsets SSH_AUTH_SOCK), no password: paramiko's "No
    authentication methods available" is cause "auth", with what was tried and the fix."""
    pytester.makepyfile(TESTS)
    result = pytester.runpytest(f"--hosts={sshd.address}", f"--known-hosts={sshd.known_hosts}")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        [
            "*cannot connect to *: no key, ssh-agent key or password to authenticate with "
            "(this run had no identity file, no ssh-agent (SSH_AUTH_SOCK is not set), no "
            "password): give a key (--ssh-identity-file, identity_file= in the inventory, "
            "IdentityFile in the ssh config), load one into ssh-agent (ssh-add*"
        ]
    )
    # pre-flight and the per-host table file it under "auth"
    result.stdout.fnmatch_lines(
        ["fabricplus: 0/1 hosts connected in *; unreachable: 127.0.0.1 (auth)"]
    )
    result.stdout.fnmatch_lines(["127.0.0.1 * auth: no key, ssh-agent key*"])
