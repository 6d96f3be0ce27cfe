"""The ``testinfra_host`` fixture: testinfra's modules over the item's ``connection``.

Against the real local sshd targets (root conftest): parametrization, modules, one SSH
connection, su_user/run_as, host.sudo, shell quoting, and the missing-extra message.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.sshd import LOGIN_USER, OTHER_USER, User
from testing.targets import Target, installed_sudoers

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("testinfra") is None, reason="pytest-testinfra not installed"
)

#: the inner runs' environment variables holding the local users' passwords
LOGIN_PW_ENV = "FPTI_LOGIN_PASSWORD"
SU_PW_ENV = "FPTI_SU_PASSWORD"

#: Until plugin.py registers the fixture, the inner runs import it in their conftest (which
#: keeps working afterwards: the conftest's copy simply overrides the plugin's).
CONFTEST = "from pytest_fabricplus.plugin.testinfra import testinfra_host  # noqa: F401\n"

# TEST-ONLY sudo rights, in a drop-in of our own (another test module may manage another):
# fptest may run commands as fptest2 with fptest's password; nothing as root.
SUDOERS_PREFIX = "fabricplus-testinfra-"
SUDOERS_RULES = f"""# pytest-fabricplus testinfra tests (pid {os.getpid()}); removed at session end
Defaults:{LOGIN_USER} lecture=never
{LOGIN_USER} ALL=({OTHER_USER}) ALL
"""

#: shell syntax whose output must be what a local ``sh -c`` prints (no user-dependent parts)
SHELL_CASES = [
    "echo \"double 'single' inside\"",
    "echo 'single \"double\" inside'",
    "echo `echo back``echo ticks`",
    "echo $(echo dollar paren) $((6 * 7))",
    "x='a  b'; echo \"$x\" $x",
    "printf '%s|' 'it'\"'\"'s' \"\\$HOME\" '$HOME' '`id`'",
    "echo '{braces}' %s %d 100%",
    "set -- 'one arg' two; echo $# \"$1\"",
    "printf 'tab\\there\\nline2\\n'",
    "echo \\\\ backslash \\$ dollar",
]


def _local_sh(command: str) -> str:
    out = subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, check=True, env={"PATH": "/bin"}
    )
    return out.stdout


@pytest.fixture(scope="module")
def ti_sudoers(ssh_users: tuple[User, User]) -> Iterator[Path]:
    """Our sudoers drop-in, validated with ``visudo -cf``, removed afterwards."""
    yield from installed_sudoers(SUDOERS_PREFIX, SUDOERS_RULES, "sudo")


@pytest.fixture
def passwords(ssh_users: tuple[User, User], monkeypatch: pytest.MonkeyPatch) -> None:
    """The login (= sudo) password and fptest2's su password, for the inner runs."""
    monkeypatch.setenv(LOGIN_PW_ENV, ssh_users[0].password)
    monkeypatch.setenv(SU_PW_ENV, ssh_users[1].password)


def test_parametrized_exactly_like_connection(
    pytester: pytest.Pytester,
    sshd: Target,
    sshd2: Target,
    both_known_hosts: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FPTI_PORT2", str(sshd2.port))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        import os
        import pytest

        def test_plain(connection):
            pass

        def test_host(testinfra_host, connection, host_spec):
            assert testinfra_host.backend.connection is connection
            assert testinfra_host.backend.get_pytest_id() == f"fabricplus://{host_spec.id}"
            assert testinfra_host.backend.get_hostname() == "127.0.0.1"

        @pytest.mark.hosts("*:" + os.environ["FPTI_PORT2"])
        def test_marked(testinfra_host):
            pass
        """
    )
    hosts = f"{sshd.address},{sshd2.address}"
    args = sshd.args(hosts=hosts, known_hosts=both_known_hosts)
    collected = pytester.runpytest(*args, "--collect-only", "-q")
    ran = pytester.runpytest(*args)
    ids = [line for line in collected.outlines if "::" in line]
    plain = sorted(i.split("[", 1)[1] for i in ids if "test_plain[" in i)
    host = sorted(i.split("[", 1)[1] for i in ids if "test_host[" in i)
    assert len(plain) == 2
    assert host == plain
    assert [i for i in ids if "test_marked[" in i] == [
        f"test_parametrized_exactly_like_connection.py::test_marked[127.0.0.1:{sshd2.port}]"
    ]
    ran.assert_outcomes(passed=5)


def test_modules_over_our_connection(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        def test_modules(testinfra_host):
            host = testinfra_host
            passwd = host.file("/etc/passwd")
            assert passwd.exists and passwd.is_file and not passwd.is_directory
            assert passwd.user == "root" and passwd.mode == 0o644
            assert b"fptest:" in passwd.content
            assert host.file("/etc").is_directory
            assert not host.file("/nonexistent/x").exists
            me = host.user()
            assert me.name == "fptest" and me.home == "/home/fptest"
            assert host.user("fptest2").exists and not host.user("nosuchuser").exists
            assert host.group("root").gid == 0
            assert host.check_output("echo hello") == "hello"
            assert host.exists("sh")
            assert host.system_info.type == "linux"

        def test_results(testinfra_host):
            result = testinfra_host.run("echo out; echo err >&2; exit 3")
            assert (result.rc, result.stdout, result.stderr) == (3, "out\\n", "err\\n")
            assert result.failed and not result.succeeded
            assert result.command == b"echo out; echo err >&2; exit 3"
            assert testinfra_host.run_expect([3], "exit 3").rc == 3
            # the exact bytes, also where they are not UTF-8
            raw = testinfra_host.run("printf '\\\\377\\\\376abc\\\\n'")
            assert raw.stdout_bytes == b"\\xff\\xfeabc\\n"
            # UTF-8 characters split across SSH reads come back whole
            text = testinfra_host.run("yes x\u00e9\u00e9 | head -n 20000").stdout
            assert text == "x\u00e9\u00e9\\n" * 20000
        """
    )
    pytester.runpytest(*sshd.args()).assert_outcomes(passed=2)


def test_no_second_ssh_connection(
    pytester: pytest.Pytester, sshd: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FPTI_PORT", str(sshd.port))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        import os, subprocess
        import pytest

        def ours():
            port = os.environ["FPTI_PORT"]
            out = subprocess.run(
                ["ss", "-Htnp", "state", "established", f"( dport = :{port} )"],
                capture_output=True, text=True, check=True).stdout
            return [l for l in out.splitlines() if f"pid={os.getpid()}," in l]

        @pytest.mark.parametrize("n", range(3))
        def test_same_transport(connection, testinfra_host, n):
            assert testinfra_host.file("/etc/hostname").exists
            assert testinfra_host.package("openssh-server").is_installed
            connection.run("true")
            assert testinfra_host.backend.connection.transport is connection.transport
            assert len(ours()) == 1
        """
    )
    pytester.runpytest(*sshd.args()).assert_outcomes(passed=3)


@pytest.mark.usefixtures("ti_sudoers", "passwords")
def test_su_user_and_run_as_switch_the_user(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        f"""
        import pytest
        SEEN = {{}}

        def test_1_login_user(testinfra_host):
            SEEN["login"] = testinfra_host
            assert testinfra_host.check_output("id -un") == "fptest"
            assert testinfra_host.user().name == "fptest"

        @pytest.mark.su_user("fptest2", method="su", password_env="{SU_PW_ENV}")
        def test_2_su(testinfra_host):
            SEEN["su"] = testinfra_host
            assert testinfra_host.check_output("id -un") == "fptest2"
            assert testinfra_host.user().name == "fptest2"
            assert testinfra_host.check_output('echo "$HOME"') == "/home/fptest2"
            assert testinfra_host is not SEEN["login"]  # its own module caches

        @pytest.mark.su_user("fptest2", method="sudo")
        def test_3_sudo(testinfra_host):
            assert testinfra_host.check_output("id -un") == "fptest2"
            assert testinfra_host.user().name == "fptest2"

        @pytest.mark.su_user("fptest2", password_env="{SU_PW_ENV}")
        def test_4_auto(testinfra_host):
            assert testinfra_host.check_output("id -un") == "fptest2"

        def test_5_login_user_again(testinfra_host, run_as, connection):
            assert testinfra_host is SEEN["login"]  # same connection, same user: same Host
            assert testinfra_host.check_output("id -un") == "fptest"
            with run_as("fptest2", method="su", password_env="{SU_PW_ENV}"):
                # commands follow the active user ...
                assert testinfra_host.check_output("id -un") == "fptest2"
            assert testinfra_host.check_output("id -un") == "fptest"

        @pytest.mark.su_user("fptest2", method="su", password_env="{SU_PW_ENV}")
        def test_6_su_host_reused(testinfra_host):
            assert testinfra_host is SEEN["su"]
        """
    )
    result = pytester.runpytest(*sshd.args(f"--ssh-password-env={LOGIN_PW_ENV}", "-v"))
    result.assert_outcomes(passed=6)


@pytest.mark.usefixtures("ti_sudoers", "passwords")
@pytest.mark.parametrize(
    "marker",
    [
        "",
        f'@pytest.mark.su_user("fptest2", method="su", password_env="{SU_PW_ENV}")',
        '@pytest.mark.su_user("fptest2", method="sudo")',
    ],
    ids=["login", "su", "sudo"],
)
def test_commands_behave_as_on_a_local_shell(
    pytester: pytest.Pytester, sshd: Target, marker: str
) -> None:
    user = "fptest2" if marker else "fptest"
    cases = [(command, _local_sh(command)) for command in SHELL_CASES]
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        f"""
        import pytest
        CASES = {cases!r}

        {marker}
        @pytest.mark.parametrize("command,expected", CASES)
        def test_shell(testinfra_host, command, expected):
            result = testinfra_host.run(command)
            assert (result.rc, result.stdout, result.stderr) == (0, expected, "")

        {marker}
        def test_user_parts(testinfra_host):
            h = testinfra_host
            assert h.check_output('echo "$HOME" $(id -un) `id -un`') == (
                "/home/{user} {user} {user}")
            # testinfra's own quoting of arguments: nothing in them is expanded
            weird = "a b $HOME `id` $(id) 'single' \\"double\\" ; | & * \\\\ 100%"
            assert h.check_output("printf '%%s' %s", weird) == weird
            assert h.check_output("echo %s %s", "$HOME", "two  spaces") == (
                "$HOME two  spaces")
            assert h.file("/tmp/it's a $file").exists is False
        """
    )
    result = pytester.runpytest(*sshd.args(f"--ssh-password-env={LOGIN_PW_ENV}"))
    result.assert_outcomes(passed=len(SHELL_CASES) + 1)


@pytest.mark.usefixtures("ti_sudoers", "passwords")
def test_host_sudo_runs_through_our_sudo(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        f"""
        import pytest

        def test_sudo_with_the_login_password(testinfra_host):
            h = testinfra_host
            with h.sudo("fptest2"):
                assert h.check_output("id -un") == "fptest2"
                assert h.user().name == "fptest2"
                assert h.check_output("echo %s", "$HOME `id -un`") == "$HOME `id -un`"
                # not a login shell: the login user's working directory, as testinfra does
                assert h.check_output("pwd") == "/home/fptest"
            assert h.check_output("id -un") == "fptest"
            # and outside run() the backend still shows testinfra's own sudo line
            assert h.backend.get_sudo_command("id", "x") == "sudo -u x /bin/sh -c id"

        def test_nested_sudo_innermost_user_wins(testinfra_host):
            h = testinfra_host
            with h.sudo("root"):
                with h.sudo("fptest2"):
                    assert h.check_output("id -un") == "fptest2"

        def test_sudo_not_allowed_is_testinfras_result_naming_the_cause(testinfra_host):
            # as testinfra: the sudo process's exit status and stderr, not an exception
            with testinfra_host.sudo():
                result = testinfra_host.run("id -un")
            assert (result.rc, result.stdout) == (1, "")
            # sudo's own words, quoting the command as it was asked (not our wrapper)
            assert "is not allowed to execute '" in result.stderr
            assert "sh -c id -un' as root on " in result.stderr
            assert "__fabricplus_" not in result.stderr
            assert result.stderr.endswith(
                "pytest-fabricplus: sudo: sudoers on 127.0.0.1 (fptest@127.0.0.1:{sshd.port}) "
                "do not allow fptest to run commands as root\\n"
            )

        @pytest.mark.su_user("fptest2", method="su", password_env="{SU_PW_ENV}")
        def test_sudo_under_su_user_is_asked_by_the_login_user(testinfra_host):
            h = testinfra_host
            assert h.check_output("id -un") == "fptest2"
            with h.sudo("fptest2"):  # fptest2 has no sudo rights: the login user asks
                assert h.check_output("id -un") == "fptest2"
            assert h.check_output("id -un") == "fptest2"
        """
    )
    result = pytester.runpytest(*sshd.args(f"--ssh-password-env={LOGIN_PW_ENV}"))
    result.assert_outcomes(passed=4)


@pytest.mark.usefixtures("ti_sudoers")
def test_host_sudo_without_a_sudo_password_says_so(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        def test_sudo(testinfra_host):
            with testinfra_host.sudo("fptest2"):
                assert testinfra_host.run("id -un").rc == 1
                testinfra_host.check_output("id -un")
        """
    )
    result = pytester.runpytest(*sshd.args())
    result.assert_outcomes(failed=1)
    # testinfra's failure (the result), with sudo's words and then our cause in its stderr
    result.stdout.fnmatch_lines(
        [
            "E *AssertionError: Unexpected exit code 1 for CommandResult(*"
            "sudo: a password is required*pytest-fabricplus: sudo as fptest2 on * asks "
            "fptest for a password and none is set*"
        ]
    )
    result.stdout.no_fnmatch_line("*PrivilegeError*")


def test_xdist_two_workers(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_host(testinfra_host, n):
            assert testinfra_host.user().name == "fptest"
        """
    )
    hosts = f"{sshd.address},{sshd2.address}"
    args = sshd.args("-n", "2", hosts=hosts, known_hosts=both_known_hosts)
    pytester.runpytest(*args).assert_outcomes(passed=8)


BLOCK_TESTINFRA = """
import importlib.abc, sys

class _NotInstalled(importlib.abc.MetaPathFinder):
    # testinfra as if it were not installed (its entry point plugin may have loaded it)
    def find_spec(self, name, path=None, target=None):
        if name == "testinfra" or name.startswith("testinfra."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

for name in list(sys.modules):
    if name.split(".")[0] == "testinfra" or name == "pytest_fabricplus.integrations.testinfra":
        del sys.modules[name]
sys.meta_path.insert(0, _NotInstalled())
"""


def test_without_testinfra_the_fixture_says_which_extra(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    pytester.makeconftest(BLOCK_TESTINFRA + CONFTEST)
    pytester.makepyfile(
        """
        def test_uses_it(testinfra_host):
            pass

        def test_connection_still_works(connection):
            assert connection.run("echo ok", hide=True).stdout == "ok\\n"
        """
    )
    result = pytester.runpytest_subprocess(*sshd.args())
    result.assert_outcomes(passed=1, errors=1)
    # the whole error report is the message, one line; no traceback, no chained ImportError
    lines = result.stdout.lines
    start = lines.index(next(line for line in lines if "ERROR at setup of test_uses_it" in line))
    assert lines[start + 1] == (
        "the testinfra_host fixture needs pytest-testinfra, which is not installed: "
        "pip install pytest-fabricplus[testinfra] (No module named 'testinfra')"
    )
    assert lines[start + 2].startswith("=====")


@pytest.mark.usefixtures("ti_sudoers", "passwords")
@pytest.mark.parametrize("fleet", [[], ["--fleet"]], ids=["items", "fleet"])
def test_su_user_switches_the_module_scoped_host_for_its_test(
    pytester: pytest.Pytester, sshd: Target, fleet: list[str]
) -> None:
    # testinfra's own `host` fixture (module scope) follows the su_user marker for the test
    # it marks, then is the login user's again; module-scoped fixtures using it were made as
    # the login user
    pytester.makepyfile(
        f"""
        import pytest
        SEEN = {{}}

        @pytest.fixture(scope="module")
        def made_with(host):
            return host.check_output("id -un")

        def test_1_login_user(host, made_with):
            SEEN["host"] = host
            assert host.check_output("id -un") == "fptest"
            assert made_with == "fptest"

        @pytest.mark.su_user("fptest2", method="su", password_env="{SU_PW_ENV}")
        def test_2_su(host, made_with):
            assert host is SEEN["host"]  # still the module's object
            assert host.check_output("id -un") == "fptest2"
            assert host.check_output('echo "$HOME"') == "/home/fptest2"
            assert made_with == "fptest"

        @pytest.mark.su_user("fptest2", method="sudo")
        def test_3_sudo_with_connection_too(host, connection):
            assert host.check_output("id -un") == "fptest2"
            assert connection.run("id -un", hide=True).stdout.strip() == "fptest2"

        def test_4_login_user_again(host):
            assert host.check_output("id -un") == "fptest"
        """
    )
    result = pytester.runpytest(*sshd.args(f"--ssh-password-env={LOGIN_PW_ENV}", "-v", *fleet))
    result.assert_outcomes(passed=4)
