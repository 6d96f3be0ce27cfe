"""``connection.sudo()`` answers sudo with the sudo password the run configured.

Users (testing/sshd.py, conftest.py): ``fptest`` logs in and may sudo to ``fptest2`` with its
own password, asked every time (``timestamp_timeout=0``, with sudo's lecture). Each source of
the sudo password is tried: ``--sudo-password-env``, the ini key, ``FABRICPLUS_*``, the
inventory's ``sudo_password_env``, the login password (the default); ``password=`` wins over
all of them. No run may show the password anywhere (terminal, JUnit XML, log file).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.targets import PASSWORD_ENV, Target

pytestmark = pytest.mark.usefixtures("sudoers")

SUDO_VAR = "FPTEST_SUDO_PW"
WRONG_VAR = "FPTEST_WRONG_SUDO_PW"
WRONG = "Wr0ng-sudo-Passw0rd-q7"

SUITE = """
import os


def test_sudo_as_other_user(connection):
    result = connection.sudo("id -un; pwd", user="fptest2", hide=True)
    assert result.stdout == "fptest2\\n/home/fptest\\n"
    assert result.stderr == ""


def test_sudo_keeps_cd_and_is_quoted(connection):
    with connection.cd("/tmp"):
        out = connection.sudo("echo \\"$(id -un) $PWD\\"", user="fptest2", hide=True).stdout
    assert out == "fptest2 /tmp\\n"


def test_sudo_user_from_config(connection):
    connection.config.sudo.user = "fptest2"
    assert connection.sudo("id -un", hide=True).stdout == "fptest2\\n"
"""


def scan(result: pytest.RunResult, files: list[Path], *secrets: str) -> None:
    texts = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    for path in files:
        texts[str(path)] = path.read_text(errors="replace")
    for secret in secrets:
        leaks = [where for where, text in texts.items() if secret in text]
        assert leaks == [], f"a password found in {leaks}"


def run_suite(
    pytester: pytest.Pytester, sshd: Target, *args: str, hosts: str | Path | None = None
) -> pytest.RunResult:
    junit = pytester.path / "junit.xml"
    return pytester.runpytest(
        *sshd.args("-vv", "--showlocals", f"--junitxml={junit}", *args, hosts=hosts)
    )


@pytest.fixture
def sudo_password(sshd: Target, monkeypatch: pytest.MonkeyPatch) -> str:
    """fptest's password (its sudo password) in ``$FPTEST_SUDO_PW``; login by key."""
    monkeypatch.setenv(SUDO_VAR, sshd.user.password)
    monkeypatch.setenv(WRONG_VAR, WRONG)
    monkeypatch.delenv("FABRICPLUS_SUDO_PASSWORD_ENV", raising=False)
    return sshd.user.password


@pytest.mark.parametrize("source", ["option", "ini", "env"])
def test_configured_sudo_password(
    pytester: pytest.Pytester,
    sshd: Target,
    sudo_password: str,
    monkeypatch: pytest.MonkeyPatch,
    source: str,
) -> None:
    pytester.makepyfile(SUITE)
    args: list[str] = []
    if source == "option":
        args.append(f"--sudo-password-env={SUDO_VAR}")
    elif source == "ini":
        pytester.makeini(f"[pytest]\nfabricplus_sudo_password_env = {SUDO_VAR}\n")
    else:
        monkeypatch.setenv("FABRICPLUS_SUDO_PASSWORD_ENV", SUDO_VAR)
    result = run_suite(pytester, sshd, *args)
    result.assert_outcomes(passed=3)
    scan(result, [pytester.path / "junit.xml"], sudo_password)


def test_inventory_sudo_password_env(
    pytester: pytest.Pytester, sshd: Target, sudo_password: str
) -> None:
    """The host's own ``sudo_password_env`` wins over ``--sudo-password-env``."""
    pytester.makepyfile(SUITE)
    inventory = pytester.path / "inv.ini"
    inventory.write_text(
        f"web1 ansible_host={sshd.host} ansible_port={sshd.port} ansible_user=fptest "
        f"sudo_password_env={SUDO_VAR}\n"
    )
    result = run_suite(pytester, sshd, f"--sudo-password-env={WRONG_VAR}", hosts=inventory)
    result.assert_outcomes(passed=3)
    scan(result, [pytester.path / "junit.xml"], sudo_password, WRONG)


def test_login_password_is_the_default(
    pytester: pytest.Pytester, sshd: Target, login_password: str, sudo_password: str
) -> None:
    pytester.makepyfile(SUITE)
    result = run_suite(pytester, sshd, f"--ssh-password-env={PASSWORD_ENV}")
    result.assert_outcomes(passed=3)
    scan(result, [pytester.path / "junit.xml"], login_password)


def test_explicit_password_wins(
    pytester: pytest.Pytester, sshd: Target, sudo_password: str
) -> None:
    """``password=`` over a wrong configured one; a wrong ``password=`` over a right one
    fails, naming host and users, and neither password is shown."""
    pytester.makepyfile(
        f"""
        import os
        import pytest
        from pytest_fabricplus import PrivilegeError


        def test_right_given(connection):
            out = connection.sudo("id -un", user="fptest2", password=os.environ["{SUDO_VAR}"],
                                  hide=True).stdout
            assert out == "fptest2\\n"


        def test_wrong_given(connection):
            connection.sudo("id -un", user="fptest2", password="{WRONG}")
        """
    )
    result = run_suite(pytester, sshd, f"--sudo-password-env={WRONG_VAR}")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*PrivilegeError: sudo authentication failed for fptest (to run as fptest2) on *"]
    )
    scan(result, [pytester.path / "junit.xml"], sudo_password, WRONG)


def test_no_password_configured_says_which_to_set(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile(
        """
        def test_sudo(connection):
            connection.sudo("id -un", user="fptest2")
        """
    )
    result = pytester.runpytest(*sshd.args())
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*sudo as fptest2 on * asks fptest for a password and none is set (--sudo-password-env*"]
    )
