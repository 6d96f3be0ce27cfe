"""``@pytest.mark.su_user`` and the ``run_as`` fixture against real sshd servers.

Users (testing/sshd.py, conftest.py): ``fptest`` logs in; ``fptest2`` is the su target
(its password in ``$FPTEST_SU_PASSWORD``); the ``sudoers`` fixture lets fptest sudo to fptest2
with fptest's password (``$FPTEST_LOGIN_PASSWORD``, always asked, with sudo's lecture) and
fptest2 sudo to fptest without a password.
"""

from __future__ import annotations

import fnmatch
import os
import re
import secrets
import time
from pathlib import Path

import pytest

from testing.bounds import NOT_HANGING
from testing.targets import PASSWORD_ENV, SU_PASSWORD_ENV, Target

pytestmark = pytest.mark.usefixtures("sudoers")

SUDO_PW_ARGS = (f"--sudo-password-env={PASSWORD_ENV}",)


def host_id(target: Target) -> str:
    return f"{target.host}:{target.port}"


def leftovers(pattern: str, timeout: float = 5.0) -> list[str]:
    """Command lines of processes matching ``pattern``, once none are left (bounded wait)."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while True:
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if regex.search(cmdline):
                found.append(cmdline.strip())
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


# --------------------------------------------------------------------------------------
# where the marker applies
# --------------------------------------------------------------------------------------

SCOPES = f"""
import pytest

pytestmark = pytest.mark.su_user("fptest2", password_env="{SU_PASSWORD_ENV}")


def test_module_marker(connection):
    assert connection.run("id -un", hide=True).stdout == "fptest2\\n"
    assert connection.run_as.method == "auto"


class TestClassMarker:
    pytestmark = pytest.mark.su_user("fptest", method="su", password_env="{PASSWORD_ENV}")

    def test_class_marker_wins_over_module(self, connection):
        assert connection.run("id -un", hide=True).stdout == "fptest\\n"
        assert connection.run_as.method == "su"

    @pytest.mark.su_user("fptest2", method="sudo", login=False)
    def test_function_marker_wins_over_class(self, connection):
        # login=False: the login user's directory, the target's HOME (sudo -H)
        out = connection.run("id -un; pwd; echo $HOME", hide=True).stdout
        assert out == "fptest2\\n/home/fptest\\n/home/fptest2\\n"
        assert connection.run_as.method == "sudo"
"""

ONLY_THE_MARKED_TEST = f"""
import pytest


@pytest.mark.su_user("fptest2", password_env="{SU_PASSWORD_ENV}")
def test_1_marked(connection):
    assert connection.run("id -un", hide=True).stdout == "fptest2\\n"
    assert connection.run_plain("id -un", hide=True).stdout == "fptest\\n"


def test_2_unmarked_is_the_login_user(connection):
    assert connection.run_as is None
    assert connection.run("id -un; pwd", hide=True).stdout == "fptest\\n/home/fptest\\n"


def test_3_run_as_for_part_of_a_test(connection, run_as):
    assert connection.run("id -un", hide=True).stdout == "fptest\\n"
    with run_as("fptest2", password_env="{SU_PASSWORD_ENV}") as conn:
        assert conn is connection
        assert connection.run("id -un", hide=True).stdout == "fptest2\\n"
        with connection.cd("/tmp"), connection.prefix("export IN_PREFIX=yes"):
            out = connection.run("id -un; pwd; echo $IN_PREFIX $FROM_ENV", env={{"FROM_ENV": "e"}}, hide=True)
            assert out.stdout == "fptest2\\n/tmp\\nyes e\\n"
    assert connection.run("id -un", hide=True).stdout == "fptest\\n"


def test_4_still_the_login_user(connection):
    assert connection.run("id -un", hide=True).stdout == "fptest\\n"


def test_5_auto_probed_once_per_host(fabricplus_registry):
    runner = fabricplus_registry.connector.privilege
    assert {{user for _host, user in runner.choices}} == {{"fptest2"}}
    assert {{c.method for c in runner.choices.values()}} == {{"su"}}
    assert runner.probes == len(runner.choices) == len(fabricplus_registry.hosts)


def test_6_run_as_blocks_are_in_the_summary(connection, run_as):
    with run_as("fptest2", method="sudo"):
        assert connection.run("id -un", hide=True).stdout == "fptest2\\n"
    assert [u.method for u in connection.users_used] == ["sudo"]
"""


def test_marker_scopes_and_only_the_marked_test_changes_user(
    pytester: pytest.Pytester,
    sshd: Target,
    sshd2: Target,
    both_known_hosts: Path,
    login_password: str,
    su_password: str,
) -> None:
    pytester.makepyfile(test_a_scopes=SCOPES, test_b_only_marked=ONLY_THE_MARKED_TEST)
    hosts = f"{sshd.address},{sshd2.address}"
    result = pytester.runpytest(
        *sshd.args(*SUDO_PW_ARGS, "-v", hosts=hosts, known_hosts=both_known_hosts)
    )
    result.assert_outcomes(passed=17)
    # -v: what each host ran su_user tests and run_as blocks as, auto's choice once per host
    lines = [
        f"{host_id(t)}: {what}"
        for t in (sshd, sshd2)
        for what in ("fptest*(method given)", "fptest2 via su", "fptest2 via sudo (method given)")
    ]
    result.stdout.fnmatch_lines(["*fabricplus: run as (su_user, run_as) per host*"])
    result.stdout.fnmatch_lines_random(lines)


def test_marker_under_xdist(
    pytester: pytest.Pytester, sshd: Target, login_password: str, su_password: str
) -> None:
    pytester.makepyfile(test_a_scopes=SCOPES)
    result = pytester.runpytest(*sshd.args(*SUDO_PW_ARGS, "-n", "2", "-v"))
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["127.0.0.1: fptest2 via su"])  # the id of a single host


# --------------------------------------------------------------------------------------
# validated at collection, before any connection
# --------------------------------------------------------------------------------------


def test_bad_markers_are_collection_errors_naming_the_test(
    pytester: pytest.Pytester, sshd: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FPTEST_NOT_SET", raising=False)
    pytester.makepyfile(
        test_kw="""
            import pytest
            @pytest.mark.su_user("fptest2", pasword_env="X")
            def test_typo(connection): pass
        """,
        test_empty="""
            import pytest
            @pytest.mark.su_user("")
            def test_empty_user(connection): pass
        """,
        test_method="""
            import pytest
            class TestIt:
                @pytest.mark.su_user("fptest2", method="doas")
                def test_bad_method(self, connection): pass
        """,
        test_env="""
            import pytest
            pytestmark = pytest.mark.su_user("fptest2", password_env="FPTEST_NOT_SET")
            def test_missing_variable(connection): pass
        """,
    )
    before = len(sshd.server.connections_logged())
    result = pytester.runpytest(*sshd.args())
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines_random(
        [
            "*test_kw.py::test_typo: @pytest.mark.su_user unknown keyword(s) pasword_env; "
            "allowed: method, password_env, login*",
            "*test_empty.py::test_empty_user: @pytest.mark.su_user takes one non-empty user "
            "name, got ('',)*",
            "*test_method.py::TestIt::test_bad_method: @pytest.mark.su_user method must be one "
            "of auto, su, sudo, got 'doas'*",
            "*test_env.py::test_missing_variable: @pytest.mark.su_user: environment variable "
            "FPTEST_NOT_SET (the su password for fptest2) is not set*",
        ]
    )
    # no connection between the two markers: only the second marker's line is new
    assert sshd.server.connections_logged()[before:-1] == []


def test_missing_password_variables_are_usage_errors(
    pytester: pytest.Pytester, sshd: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FPTEST_NOT_SET", raising=False)
    pytester.makepyfile("def test_x(connection): pass")
    result = pytester.runpytest(*sshd.args("--su-password-env=FPTEST_NOT_SET"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*environment variable FPTEST_NOT_SET holds the su password for * but is not set*"]
    )
    (pytester.path / "inv.txt").write_text(
        f"{sshd.address} alias=db1 sudo_password_env=FPTEST_NOT_SET\n"
    )
    result = pytester.runpytest(*sshd.args(hosts="inv.txt"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*environment variable FPTEST_NOT_SET (named by inv.txt:1) holds the sudo password "
            "for db1 but is not set*"
        ]
    )


# --------------------------------------------------------------------------------------
# failures: distinct, naming host and user, never a password; the host stays usable
# --------------------------------------------------------------------------------------

FAILURES = """
import pytest

def login_user_works(connection):
    assert connection.run("id -un", hide=True).stdout == "fptest\\n"

@pytest.mark.hosts("bad")
@pytest.mark.su_user("fptest2", method="su")
def test_01_wrong_su_password(connection):
    connection.run("id -un # TAG")

@pytest.mark.hosts("bad")
def test_02_next_test_passes(connection):
    login_user_works(connection)

@pytest.mark.hosts("bad")
@pytest.mark.su_user("fptest2", method="sudo")
def test_03_wrong_sudo_password(connection):
    connection.run("id -un # TAG")

@pytest.mark.hosts("bad")
def test_04_next_test_passes(connection):
    login_user_works(connection)

@pytest.mark.hosts("good")
@pytest.mark.su_user("nosuchuser", method="su")
def test_05_unknown_user_su(connection):
    connection.run("id -un # TAG")

@pytest.mark.hosts("good")
@pytest.mark.su_user("nosuchuser", method="sudo")
def test_06_unknown_user_sudo(connection):
    connection.run("id -un # TAG")

@pytest.mark.hosts("good")
@pytest.mark.su_user("nosuchuser")
def test_07_unknown_user_auto(connection):
    connection.run("id -un # TAG")

@pytest.mark.hosts("good")
@pytest.mark.su_user("root", method="sudo")
def test_08_sudoers_do_not_allow(connection):
    connection.run("id -un # TAG")

@pytest.mark.hosts("good")
def test_09_next_test_passes(connection):
    login_user_works(connection)

@pytest.mark.hosts("good")
@pytest.mark.su_user("fptest2", method="su")
def test_10_right_su_password(connection):
    result = connection.run("echo out; echo err >&2; exit 3", warn=True, hide=True)
    # su needs a pty: stderr arrives merged into stdout, in order
    assert (result.stdout, result.stderr, result.exited) == ("out\\nerr\\n", "", 3)

@pytest.mark.hosts("good")
@pytest.mark.su_user("fptest2", method="sudo")
def test_11_right_sudo_password(connection):
    result = connection.run("echo out; echo err >&2; exit 3", warn=True, hide=True)
    # no lecture, no prompt: stderr is the command's own
    assert (result.stdout, result.stderr, result.exited) == ("out\\n", "err\\n", 3)

@pytest.mark.hosts("nopass")
@pytest.mark.su_user("fptest", method="sudo")
def test_12_nopasswd_sudo(connection):
    assert connection.run("id -un; pwd", hide=True).stdout == "fptest\\n/home/fptest\\n"
"""


def test_failures_are_distinct_clear_and_never_show_a_password(
    pytester: pytest.Pytester,
    sshd: Target,
    login_password: str,
    su_password: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong_su = "wrong-su-" + secrets.token_hex(6)
    wrong_sudo = "wrong-sudo-" + secrets.token_hex(6)
    monkeypatch.setenv("FPTEST_WRONG_SU", wrong_su)
    monkeypatch.setenv("FPTEST_WRONG_SUDO", wrong_sudo)
    addr = f"127.0.0.1:{sshd.port}"
    (pytester.path / "inv.txt").write_text(
        f"fptest@{addr} alias=good su_password_env={SU_PASSWORD_ENV} "
        f"sudo_password_env={PASSWORD_ENV}\n"
        f"fptest@{addr} alias=bad su_password_env=FPTEST_WRONG_SU "
        "sudo_password_env=FPTEST_WRONG_SUDO\n"
        f"fptest2@{addr} alias=nopass identity_file={sshd.other.key_path}\n"
    )
    tag = "tag" + secrets.token_hex(4)  # in every su/sudo command line of this run
    pytester.makepyfile(test_failures=FAILURES.replace("TAG", tag))
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest(
        *sshd.args(
            "-vv",
            "--showlocals",
            "--log-level=DEBUG",
            f"--junitxml={junit}",
            "-p",
            "no:randomly",
            hosts="inv.txt",
        )
    )
    result.assert_outcomes(passed=6, failed=6)
    bad, good = f"bad (fptest@{addr})", f"good (fptest@{addr})"
    expected = {
        "test_01": f"PrivilegeError: su authentication failed for fptest2 on {bad} "
        "(su: Authentication failure)",
        "test_03": f"PrivilegeError: sudo authentication failed for fptest (to run as fptest2) "
        f"on {bad}: wrong sudo password",
        "test_05": f"PrivilegeError: su: user nosuchuser does not exist on {good}",
        "test_06": f"PrivilegeError: sudo: user nosuchuser does not exist on {good}",
        "test_07": f"PrivilegeError: cannot run commands as nosuchuser on {good}: "
        f"su: su: user nosuchuser does not exist on {good}; "
        f"sudo: sudo: user nosuchuser does not exist on {good}",
        "test_08": f"PrivilegeError: sudo: sudoers on {good} do not allow fptest to run "
        "commands as root",
    }
    summary = {
        line.split("::")[1].split("[")[0][:7]: line
        for line in result.stdout.lines
        if line.startswith("FAILED ")
    }
    assert sorted(summary) == sorted(expected)
    shown = result.stdout.str()  # pytest < 8 truncates the summary lines: read the failures
    for message in expected.values():
        assert f"pytest_fabricplus.errors.{message}\n" in shown, message
    assert len(set(expected.values())) == len(expected)
    everything = result.stdout.str() + result.stderr.str() + junit.read_text()
    for secret in (wrong_su, wrong_sudo, login_password, su_password):
        assert secret not in everything
    # nothing of the failed attempts is left waiting on the host
    assert leftovers(tag) == []


# --------------------------------------------------------------------------------------
# a su that waits for input is cut off by --command-timeout
# --------------------------------------------------------------------------------------


def test_service_account_with_nologin_shell(
    pytester: pytest.Pytester, sshd: Target, login_password: str
) -> None:
    """A package's system user (nologin, no password): sudo runs its commands with /bin/sh;
    su says why it cannot; auto picks sudo."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.su_user("fptestsvc", method="sudo")
        def test_sudo(connection):
            out = connection.run("id -un; echo $SHELL; pwd", hide=True).stdout.split()
            assert out[:2] == ["fptestsvc", "/bin/sh"]
            assert out[2] == connection.run("echo ~fptestsvc", hide=True).stdout.strip()

        @pytest.mark.su_user("fptestsvc")
        def test_auto(connection):
            assert connection.run("id -un", hide=True).stdout == "fptestsvc\\n"

        @pytest.mark.su_user("fptestsvc", method="su", password_env="FPTEST_LOGIN_PASSWORD")
        def test_su(connection):
            connection.run("id -un", hide=True)

        @pytest.mark.su_user("fptestsvc", method="su")
        def test_su_without_password(connection):
            connection.run("id -un", hide=True)
        """
    )
    result = pytester.runpytest(*sshd.args(*SUDO_PW_ARGS, "-v"))
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*fptestsvc via sudo*"])
    # su to a locked nologin account: with a password or without, the message names the
    # account's shell and the fix (not "authentication failed", not "needs the password")
    # (the "E" lines of the two failures; the short summary repeats them, whole under CI=true)
    nologin = (
        "E *PrivilegeError: su as fptestsvc on *: fptestsvc's login shell is /usr/sbin/nologin, "
        'so su cannot run commands as it (a service account); use method="sudo" (or "auto")*'
    )
    assert len(fnmatch.filter(result.stdout.lines, nologin)) == 2
    out = result.stdout.str()
    assert "needs the user's password" not in out
    assert "su authentication failed" not in out
    assert login_password not in out


def test_su_waiting_for_input_is_cut_by_the_command_timeout(
    pytester: pytest.Pytester, sshd: Target, login_password: str, su_password: str
) -> None:
    tag = str(40000 + secrets.randbelow(9999))
    pytester.makepyfile(
        f"""
        import io
        import pytest
        from invoke.exceptions import UnexpectedExit

        @pytest.mark.su_user("fptest2", method="su", password_env="{SU_PASSWORD_ENV}")
        def test_1_nested_su_waits_for_a_password(connection):
            # an in_stream keeps stdin open (the pty): the nested su waits for a password
            connection.run("su fptest -c 'sleep {tag}1'", in_stream=io.StringIO(""))

        @pytest.mark.su_user("fptest2", method="su", password_env="{SU_PASSWORD_ENV}")
        def test_1b_without_in_stream_the_nested_su_reads_end_of_file(connection):
            with pytest.raises(UnexpectedExit) as failed:
                connection.run("su fptest -c 'sleep {tag}3'", hide=True)
            assert "Authentication failure" in failed.value.result.stdout

        def test_2_next_test_passes(connection):
            assert connection.run("id -un", hide=True).stdout == "fptest\\n"

        @pytest.mark.su_user("fptest2", method="sudo")
        def test_3_command_reads_stdin(connection):
            connection.run("read answer; sleep {tag}2")

        @pytest.mark.su_user("fptest2", method="su", password_env="{SU_PASSWORD_ENV}")
        def test_4_next_test_passes(connection):
            assert connection.run("id -un", hide=True).stdout == "fptest2\\n"
        """
    )
    started = time.monotonic()
    result = pytester.runpytest(*sshd.args("--command-timeout=1.5", *SUDO_PW_ARGS))
    elapsed = time.monotonic() - started
    result.assert_outcomes(passed=3, failed=2)
    host = f"127.0.0.1 ({sshd.address})"  # the id of a single host, and its address
    result.stdout.fnmatch_lines_random(
        [
            f"*CommandTimeout: command \"su fptest -c 'sleep {tag}1'\" on {host} did not "
            "finish within 1.5s (--command-timeout); the command was interrupted",
            f"*CommandTimeout: command 'read answer; sleep {tag}2' on {host} did not finish "
            "within 1.5s (--command-timeout); the command was interrupted",
        ]
    )
    # about not hanging: a nested su or a read left waiting on stdin would never end
    assert elapsed < NOT_HANGING, f"took {elapsed:.1f}s"
    # "interrupted" is true: nothing keeps running as fptest2 (or as root, for the nested su)
    assert leftovers(rf"sleep {tag}[123]") == []
