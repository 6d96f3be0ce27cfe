"""``--remote-shell=persistent``: connection.run() over one shell per connection, with the
exec path's contract (Result, UnexpectedExit, CommandTimeout, streaming, cd/prefix)."""

from __future__ import annotations

import pytest

from testing.targets import Target

SUITE = r"""
import os

import pytest
from invoke.exceptions import UnexpectedExit
from pytest_fabricplus import CommandTimeout


def test_the_shell_is_started_by_preflight(connection):
    # before this test's first command: pre-flight opened the host and started its shell
    shell = connection._shell
    if os.environ["FP_MODE"] == "persistent":
        assert shell is not None and shell.alive and shell.starts == 1
    else:
        assert shell is None


def test_one_shell_serves_every_command(connection):
    for _ in range(3):
        connection.run("true", hide=True)
    shell = connection._shell
    if os.environ["FP_MODE"] == "persistent":
        assert shell is not None and shell.starts == 1 and shell.alive
    else:
        assert shell is None


def test_result_and_errors(connection):
    r = connection.run("printf out; printf err >&2; exit 3", warn=True, hide=True)
    assert (r.stdout, r.stderr, r.exited, r.ok) == ("out", "err", 3, False)
    assert r.command == "printf out; printf err >&2; exit 3"
    with pytest.raises(UnexpectedExit) as info:
        connection.run("echo why >&2; exit 4", hide=True)
    assert info.value.result.exited == 4 and info.value.result.stderr == "why\n"
    assert connection.run("printf '\\303\\251t\\303\\251'", hide=True).stdout == "\u00e9t\u00e9"


def test_state_does_not_leak_between_commands(connection):
    connection.run("cd /tmp; export FP_LEAK=1; umask 077", hide=True)
    assert connection.run("pwd; echo ${FP_LEAK:-none}; umask", hide=True).stdout.split() == [
        connection.run("cd ~ && pwd", hide=True).stdout.strip(), "none", "0022"
    ]
    with connection.cd("/etc"):
        assert connection.run("pwd", hide=True).stdout == "/etc\n"


def test_timeout_kills_only_that_command(connection):
    with pytest.raises(CommandTimeout, match="'sleep 37' on 127.0.0.1"):
        connection.run("sleep 37", timeout=0.5, hide=True)
    # a loaded machine may take a moment to end a SIGKILLed process: poll, bounded
    gone = "for i in $(seq 50); do pgrep -f 'slee[p] 37' >/dev/null || exit 0; sleep 0.1; done"
    assert connection.run(f"{gone}; echo left", hide=True, warn=True).stdout == ""
    assert connection.run("echo next", hide=True).stdout == "next\n"


def test_output_is_streamed_unless_hidden(connection):
    connection.run("echo shown-on-stdout; echo shown-on-stderr >&2")
"""


@pytest.mark.parametrize("mode", ["exec", "persistent"])
def test_the_run_contract_holds_for_both_remote_shells(
    pytester: pytest.Pytester, sshd: Target, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FP_MODE", mode)
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess(
        *sshd.args(f"--remote-shell={mode}", "-s", "-p", "no:xdist"), timeout=120
    )
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*shown-on-stdout*"])
    result.stderr.fnmatch_lines(["*shown-on-stderr*"])


def test_a_bad_remote_shell_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--hosts=127.0.0.1", "--remote-shell=mitogen")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*remote-shell*'mitogen' is not one of exec, persistent*"])
