"""xdist workers that do not share the controller's environment or directory (as a remote
``--tx ssh=...`` worker): passwords reach them through ``workerinput``; a worker that cannot
start stops the run once, with its reason, instead of being replaced forever.

The workers are real processes started through ``--tx popen//python=WRAPPER``, where the
wrapper removes the password variable from the worker's environment before it starts Python.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from testing.targets import PASSWORD_ENV, SU_PASSWORD_ENV, Target

LOGIN_AND_SU = f"""
import os
import pytest

def test_login_without_the_variable(connection):
    # this worker's environment lacks both variables: the controller sent their values
    assert "{PASSWORD_ENV}" not in os.environ and "{SU_PASSWORD_ENV}" not in os.environ
    assert connection.run("id -un", hide=True).stdout.strip() == "fptest"

# named only here: the controller (which collects nothing) finds it in this file
@pytest.mark.su_user("fptest2", password_env="{SU_PASSWORD_ENV}")
def test_su_without_the_variable(connection):
    assert connection.run("id -un", hide=True).stdout.strip() == "fptest2"

def test_password_is_masked(connection):
    assert os.environ.get("{PASSWORD_ENV}") == connection.connect_kwargs.get("password")
"""


def wrapper(path: Path, *unset: str, setup: str = "") -> Path:
    """A ``python`` for execnet's popen gateway that starts without the ``unset`` variables
    (as a worker on another machine would), after the shell lines ``setup``."""
    script = path / "python-without-secrets"
    script.write_text(
        f'#!/bin/sh\nunset {" ".join(unset)}\n{setup}\nexec {sys.executable} "$@"\n',
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_passwords_reach_workers_without_their_environment(
    pytester: pytest.Pytester, sshd: Target, login_password: str, su_password: str
) -> None:
    pytester.makepyfile(LOGIN_AND_SU)
    python = wrapper(pytester.path, PASSWORD_ENV, SU_PASSWORD_ENV)
    result = pytester.runpytest_subprocess(
        f"--hosts={sshd.address}",
        f"--known-hosts={sshd.known_hosts}",
        f"--ssh-password-env={PASSWORD_ENV}",  # password login only: no key is offered
        "-p",
        "no:cacheprovider",
        "--tx",
        f"2*popen//python={python}",
        "--dist=load",
        "--max-worker-restart=1",  # bounded when the passwords do not arrive
        "-rA",
        timeout=120,
    )
    # the masked password differs from the worker's (absent) variable: one failure, masked
    result.assert_outcomes(passed=2, failed=1)
    everything = result.stdout.str() + result.stderr.str()
    assert "********" in everything
    assert login_password not in everything
    assert su_password not in everything


def test_worker_that_cannot_start_stops_the_run_once(
    pytester: pytest.Pytester, sshd: Target, tmp_path: Path
) -> None:
    """A worker started elsewhere (``//chdir=``) does not see the relative inventory: the run
    ends at once with a usage error naming the worker and the reason; xdist (no ``-n``: no
    restart limit) would otherwise replace it forever."""
    pytester.makepyfile("def test_one(connection): connection.run('true')")
    (pytester.path / "inv.txt").write_text(f"{sshd.address}\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = pytester.runpytest_subprocess(
        *sshd.args("--tx", f"2*popen//chdir={elsewhere}", "--dist=load", hosts="inv.txt"),
        timeout=90,
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert output.count("could not start") == 1, output
    assert "replacing crashed worker" not in output
    result.stderr.fnmatch_lines(["ERROR: xdist worker gw? could not start: *inv.txt*"])


def test_worker_without_the_plugin_stops_the_run_once(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    """As a remote machine where the plugin is not installed: the worker's pytest does not
    know ``--hosts``; one usage error says so, no worker is replaced."""
    pytester.makepyfile("def test_one(connection): connection.run('true')")
    python = wrapper(
        pytester.path,
        "NOTHING",
        setup="export PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 PYTEST_PLUGINS=xdist",
    )
    result = pytester.runpytest_subprocess(
        *sshd.args("--tx", f"2*popen//python={python}", "--dist=load"), timeout=90
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert output.count("could not start") == 1, output
    assert "replacing crashed worker" not in output
    result.stderr.fnmatch_lines(["ERROR: xdist worker gw? could not start: *--hosts*"])
