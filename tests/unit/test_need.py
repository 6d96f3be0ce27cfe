"""The must-run switches (testing/need.py): a skip that names the fix, or a failure under
``FABRICPLUS_NEED_*=1``; and the reason given to a contributor who is not root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from testing.need import NEED_SSHD
from testing.sshd import missing_for_targets

ROOT = Path(__file__).resolve().parents[2]
TEST = """
from testing.need import NEED_SSHD, need

def test_needs_sshd():
    need(NEED_SSHD, "no sshd here (apt-get install openssh-server)")
"""


def test_without_the_switch_a_skip_names_the_fix(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(NEED_SSHD, raising=False)
    pytester.makepyfile(TEST)
    result = pytester.runpytest("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED*no sshd here (apt-get install openssh-server) "
            "(FABRICPLUS_NEED_SSHD=1 makes this a failure)"
        ]
    )


def test_under_the_switch_it_is_a_failure(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(NEED_SSHD, "1")
    pytester.makepyfile(TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no sshd here (apt-get install openssh-server); FABRICPLUS_NEED_SSHD=1 says "
            "these tests must run*"
        ]
    )


def test_a_contributor_without_root_is_told_what_to_do() -> None:
    code = "from testing.sshd import missing_for_targets; print(missing_for_targets())"
    if os.geteuid() == 0:  # ask as nobody what a non-root contributor is told
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        script = f"import sys; sys.path.insert(0, '.'); {code}"
        # Debian's python3 (scripts/setup.sh installs it): an interpreter under /root (pyenv,
        # and the venvs made from it) may not load its libpython as nobody
        python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        out = subprocess.run(
            [*nobody, python, "-I", "-c", script],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    else:
        out = str(missing_for_targets())
    assert out.startswith("real sshd targets need root: they create the system users fptest,")
    assert "sudo ./scripts/run-tests.sh" in out
