"""The open-files limit a process with many hosts raises for itself (fleet/limits.py)."""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Iterator

import pytest

from pytest_fabricplus.fleet import limits


@pytest.fixture
def nofile() -> Iterator[tuple[int, int]]:
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield before
    resource.setrlimit(resource.RLIMIT_NOFILE, before)


def test_enough_already_says_nothing_and_changes_nothing(nofile: tuple[int, int]) -> None:
    soft, _hard = nofile
    assert limits.ensure(min(64, soft), 10) is None
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == nofile


def test_a_low_soft_limit_is_raised_to_what_the_hosts_need(nofile: tuple[int, int]) -> None:
    _soft, hard = nofile
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip(f"hard limit {hard}: cannot show a raise to 1,378")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    need = limits.needed(1000)
    assert need == 1378
    line = limits.ensure(need, 1000)
    assert line == (
        "raised this process's open-files limit (RLIMIT_NOFILE) from 1024 to 1378 for 1000 hosts"
    )
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (1378, hard)


def test_a_hard_limit_too_low_is_named_with_the_remedy() -> None:
    # in a child process: lowering the hard limit cannot be undone without root
    code = (
        "import resource\n"
        "from pytest_fabricplus.fleet import limits\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 512))\n"
        "print(limits.ensure(limits.needed(1000), 1000))\n"
        "print(resource.getrlimit(resource.RLIMIT_NOFILE))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    line, raised = out
    assert raised == "(512, 512)"  # as far as it may go
    assert line.startswith("warning: 1000 hosts need about 1378 open files and this process ")
    assert "may open 512 (hard limit 512)" in line
    assert "ulimit -n" in line
    assert "-n N" in line
