"""pytest-xdist: every worker collects the same items; each opens its own connections."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.targets import Target

TESTS = """
import pytest

@pytest.mark.parametrize("n", range(4))
def test_check(connection, n):
    assert connection.run("echo %d" % n, hide=True).stdout.strip() == str(n)
"""


def test_two_workers_two_hosts(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    pytester.makepyfile(TESTS)
    hosts = f"{sshd.address},{sshd2.address}"
    result = pytester.runpytest_subprocess(
        *sshd.args("-n", "2", hosts=hosts, known_hosts=both_known_hosts), timeout=120
    )
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["*fabricplus: results per host*"])


def test_n0_works(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest_subprocess(*sshd.args("-n", "0"), timeout=120)
    result.assert_outcomes(passed=4)
