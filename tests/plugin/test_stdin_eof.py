"""Commands get stdin at end-of-file (as ``ssh -n``) on every run path, unless the caller
passes ``in_stream``: ``cat`` and ``read x`` return at once instead of waiting for the
command timeout. Real sshd, real su and sudo (users and sudoers: conftest.py)."""

from __future__ import annotations

import pytest

from testing.targets import PASSWORD_ENV, SU_PASSWORD_ENV, Target

pytestmark = pytest.mark.usefixtures("sudoers")

TESTS = f"""
import io
import pytest

READ = "read x; echo got:$x; echo status:$?"


def check(connection, **kwargs):
    assert connection.run("cat", hide=True, **kwargs).stdout == ""
    out = connection.run(READ, hide=True, warn=True, **kwargs).stdout
    assert out == "got:\\nstatus:0\\n"


def test_exec_path(connection):
    check(connection)


def test_invoke_runner_path(connection):
    # env= is not served by the direct channel path: invoke's runner (FastRemote) runs it
    check(connection, env={{"FPTEST_STDIN": "1"}})
    assert connection.run("echo $FPTEST_STDIN", env={{"FPTEST_STDIN": "1"}}, hide=True).stdout == "1\\n"


def test_given_in_stream_is_still_forwarded(connection):
    out = connection.run("cat", in_stream=io.StringIO("given\\n"), hide=True).stdout
    assert out == "given\\n"


@pytest.mark.su_user("fptest2", method="su", password_env="{SU_PASSWORD_ENV}")
def test_as_another_user_with_su(connection):
    assert connection.run("id -un", hide=True).stdout == "fptest2\\n"
    check(connection)


@pytest.mark.su_user("fptest2", method="sudo")
def test_as_another_user_with_sudo(connection):
    assert connection.run("id -un", hide=True).stdout == "fptest2\\n"
    check(connection)
"""


@pytest.mark.parametrize("shell", ["exec", "persistent"])
def test_commands_reading_stdin_get_end_of_file(
    pytester: pytest.Pytester, sshd: Target, login_password: str, su_password: str, shell: str
) -> None:
    pytester.makepyfile(TESTS)
    # a command waiting for stdin would run into this timeout: each test then fails with
    # CommandTimeout, so passing means every read saw end-of-file
    result = pytester.runpytest(
        *sshd.args(
            f"--sudo-password-env={PASSWORD_ENV}",
            f"--remote-shell={shell}",
            "--command-timeout=20",
            "-v",
        ),
    )
    result.assert_outcomes(passed=5)
