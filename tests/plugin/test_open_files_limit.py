"""A run whose hosts need more open files than its soft limit raises the limit itself, and
says so in one line before its pre-flight (fleet/limits.py)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest

from pytest_fabricplus.fleet import limits
from testing.targets import DROPIN_ADDOPTS, Target


def test_a_low_soft_limit_is_raised_and_said(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile(
        """
        import resource

        def test_limit(connection):
            assert connection.run("true").ok
            print("limit", resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        """
    )
    low = limits.needed(1) - 1  # one host: 129 open files; start one below

    def lower() -> None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))

    env = {**os.environ, "PYTEST_ADDOPTS": DROPIN_ADDOPTS}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-s", *sshd.args()],
        cwd=pytester.path, env=env, preexec_fn=lower, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        f"fabricplus: raised this process's open-files limit (RLIMIT_NOFILE) from {low} to "
        f"{low + 1} for 1 host"
    ) in proc.stdout
    assert f"limit {low + 1}" in proc.stdout
