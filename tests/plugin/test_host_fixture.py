"""testinfra's pytest interface served by our connection: the ``host`` fixture,
``testinfra_hosts``, testinfra host specs in ``--hosts``, ``--sudo``, ``--nagios``, and
non-SSH specs through testinfra's own backends. Against the real sshd targets (root
conftest); the differential test runs the same suite under testinfra 10.2.2's own plugin.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import sys
from pathlib import Path

import pytest

from testing.sshd import LOGIN_USER, OTHER_USER, User
from testing.targets import Target

PW_ENV = "FPHOST_LOGIN_PASSWORD"

#: a plain testinfra suite, module-scoped fixtures using ``host`` included
SUITE_ONE = """
import pytest

SEEN = {}

@pytest.fixture(scope="module")
def passwd(host):
    return host.file("/etc/passwd")

def test_passwd(passwd):
    assert passwd.exists and passwd.user == "root" and passwd.mode == 0o644

def test_user(host):
    SEEN.setdefault(host.backend.get_pytest_id(), host)
    assert host.user().name == "fptest"

def test_same_host_object(host):
    assert SEEN[host.backend.get_pytest_id()] is host  # module scope

def test_fails(host):
    assert host.file("/nonexistent/file").exists

def test_command(host):
    assert host.run("echo out; exit 3").rc == 3
    assert host.check_output("echo hi") == "hi"
"""

SUITE_TWO = """
import pytest
import testinfra

def test_exists(host):
    assert host.exists("sh") and host.file("/etc").is_directory

@pytest.mark.skip(reason="skipped on purpose")
def test_skipped(host):
    pass

def test_library_still_works(host):
    local = testinfra.get_host("local://")
    assert local.check_output("echo local") == "local"

def test_error_in_setup(host, missing_fixture):
    pass
"""


def logins(target: Target) -> int:
    return len(target.server.connections_logged())


def made_logins(target: Target, before: int) -> int:
    # each call adds its own marker connection
    return logins(target) - before - 1


def test_plain_suite_over_our_connection_one_login_per_host(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    pytester.makepyfile(test_one=SUITE_ONE, test_two=SUITE_TWO)
    hosts = f"{sshd.address},{sshd2.address}"
    before = {t.port: logins(t) for t in (sshd, sshd2)}
    result = pytester.runpytest(*sshd.args("-v", hosts=hosts, known_hosts=both_known_hosts))
    result.assert_outcomes(passed=2 * 6, failed=2, skipped=2, errors=2)
    for target in (sshd, sshd2):
        assert made_logins(target, before[target.port]) == 1
    # ids as for connection; the items of one host run together (module scope)
    ids = re.findall(r"^test_one\.py::(\w+)\[([^\]]+)\] ", result.stdout.str(), re.M)
    hosts_in_order = [h for _, h in ids]
    first = hosts_in_order[0]
    assert hosts_in_order == [first] * 5 + [h for h in hosts_in_order if h != first][:5]
    assert len(ids) == 10
    assert set(hosts_in_order) == {f"127.0.0.1:{sshd.port}", f"127.0.0.1:{sshd2.port}"}


def test_one_login_per_host_with_two_workers(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    pytester.makepyfile(test_one=SUITE_ONE, test_two=SUITE_TWO)
    hosts = f"{sshd.address},{sshd2.address}"
    before = {t.port: logins(t) for t in (sshd, sshd2)}
    result = pytester.runpytest_subprocess(
        *sshd.args("-n", "2", hosts=hosts, known_hosts=both_known_hosts), timeout=180
    )
    result.assert_outcomes(passed=2 * 6, failed=2, skipped=2, errors=2)
    for target in (sshd, sshd2):
        assert made_logins(target, before[target.port]) == 1


def test_host_and_connection_share_the_connection_and_ids(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    pytester.makepyfile(
        """
        def test_plain(connection):
            connection.run("cd /tmp")  # per-test state: undone after the test
            with connection.cd("/tmp"):
                assert connection.run("pwd", hide=True).stdout.strip() == "/tmp"

        def test_both(host, connection, host_spec):
            assert host.backend.connection is connection
            assert host.check_output("pwd") == "/home/fptest"

        def test_after(connection):
            assert connection.run("pwd", hide=True).stdout.strip() == "/home/fptest"
        """
    )
    collected = pytester.runpytest(*sshd.args("--collect-only", "-q"))
    assert [line for line in collected.outlines if "::" in line] == [
        "test_host_and_connection_share_the_connection_and_ids.py::test_plain[127.0.0.1]",
        "test_host_and_connection_share_the_connection_and_ids.py::test_both[127.0.0.1]",
        "test_host_and_connection_share_the_connection_and_ids.py::test_after[127.0.0.1]",
    ]
    pytester.runpytest(*sshd.args()).assert_outcomes(passed=3)


def _inventory(path: Path, sshd: Target, sshd2: Target) -> Path:
    path.write_text(
        "[web]\n"
        f"web1 ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user={LOGIN_USER}\n"
        "[db]\n"
        f"db1 ansible_host=127.0.0.1 ansible_port={sshd2.port} ansible_user={LOGIN_USER}\n"
    )
    return path


def test_testinfra_hosts_select_by_name_group_spec_and_ansible_runner(
    pytester: pytest.Pytester,
    sshd: Target,
    sshd2: Target,
    both_known_hosts: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    importlib.import_module("ansible")  # ansible-core is in the dev extra: missing fails here
    inventory = _inventory(pytester.path / "hosts.ini", sshd, sshd2)
    monkeypatch.setenv("FPHOST_INV", str(inventory))
    monkeypatch.setenv("FPHOST_PORT2", str(sshd2.port))
    # AnsibleRunner runs ansible-inventory, installed next to this interpreter
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    pytester.makepyfile(
        test_name="""
        testinfra_hosts = ["web1"]
        def test_it(host, host_spec):
            assert host_spec.id == "web1"
        def test_conn_too(connection):
            pass
        """,
        test_group="""
        testinfra_hosts = ["db"]
        def test_it(host, host_spec):
            assert host_spec.id == "db1"
        """,
        test_spec="""
        import os
        testinfra_hosts = ["ssh://fptest@127.0.0.1:" + os.environ["FPHOST_PORT2"]]
        def test_it(host, host_spec):
            assert host_spec.id == "db1"  # the inventory's host: same connection
        """,
        test_runner="""
        import os
        import testinfra.utils.ansible_runner
        testinfra_hosts = testinfra.utils.ansible_runner.AnsibleRunner(
            os.environ["FPHOST_INV"]
        ).get_hosts("all")
        def test_it(host):
            assert host.user().name == "fptest"
        """,
        test_unlisted="""
        def test_it(host):
            pass
        """,
    )
    before = {t.port: logins(t) for t in (sshd, sshd2)}
    result = pytester.runpytest(*sshd.args("-v", hosts=inventory, known_hosts=both_known_hosts))
    out = result.stdout.str()
    assert re.findall(r"^test_name\.py::test_it\[(\w+)\] ", out, re.M) == ["web1"]
    assert re.findall(r"^test_name\.py::test_conn_too\[(\w+)\] ", out, re.M) == ["web1"]
    assert re.findall(r"^test_group\.py::test_it\[(\w+)\] ", out, re.M) == ["db1"]
    assert sorted(re.findall(r"^test_runner\.py::test_it\[(\w+)\] ", out, re.M)) == ["db1", "web1"]
    assert sorted(re.findall(r"^test_unlisted\.py::test_it\[(\w+)\] ", out, re.M)) == [
        "db1",
        "web1",
    ]
    result.assert_outcomes(passed=8)
    for target in (sshd, sshd2):
        assert made_logins(target, before[target.port]) == 1


def test_testinfra_hosts_error_names_the_module(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile(test_bad='testinfra_hosts = "web1"\ndef test_it(host):\n    pass\n')
    (pytester.path / "inv.txt").write_text(f"{sshd.address}\n")
    result = pytester.runpytest(*sshd.args(hosts=pytester.path / "inv.txt"))
    result.stdout.fnmatch_lines(["*test_bad.py: testinfra_hosts must be a list*'web1'*"])
    result.assert_outcomes(errors=1)


def test_hosts_option_takes_testinfra_specs(
    pytester: pytest.Pytester, sshd: Target, tmp_path: Path
) -> None:
    pytester.makepyfile(
        """
        def test_it(host, connection):
            assert host.user().name == "fptest"
            assert host.backend.connection is connection
        """
    )
    spec = (
        f"ssh://{sshd.user.name}@127.0.0.1:{sshd.port}?ssh_identity_file={sshd.user.key_path}"
        "&controlpersist=60"
    )
    result = pytester.runpytest(
        f"--hosts={spec}", f"--known-hosts={sshd.known_hosts}", "-p", "no:cacheprovider", "-v"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*fabricplus: warning: 127.0.0.1: testinfra spec option(s) controlpersist not "
            "honoured here (controlpersist: one connection per host is kept anyway)",
            "*::test_it?127.0.0.1? PASSED*",
        ]
    )


@pytest.fixture
def login_pw(ssh_users: tuple[User, User], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PW_ENV, ssh_users[0].password)


def test_sudo_runs_every_host_command_through_sudo(
    pytester: pytest.Pytester, sshd: Target, sudoers: Path, login_pw: None
) -> None:
    pytester.makepyfile(
        f"""
        def test_it(host, connection):
            assert host.user().name == "{OTHER_USER}"
            assert host.check_output("id -un") == "{OTHER_USER}"
            # connection stays the login user
            assert connection.run("id -un", hide=True).stdout.strip() == "{LOGIN_USER}"
        """
    )
    result = pytester.runpytest(
        *sshd.args("--sudo", f"--sudo-user={OTHER_USER}", f"--sudo-password-env={PW_ENV}")
    )
    result.assert_outcomes(passed=1)


def test_sudo_from_the_spec(
    pytester: pytest.Pytester, sshd: Target, sudoers: Path, login_pw: None
) -> None:
    pytester.makepyfile(
        f"""
        def test_it(host):
            assert host.check_output("id -un") == "{OTHER_USER}"
        """
    )
    spec = f"ssh://{sshd.address}?sudo=true&sudo_user={OTHER_USER}"
    result = pytester.runpytest(*sshd.args(f"--sudo-password-env={PW_ENV}", hosts=spec))
    result.assert_outcomes(passed=1)


NAGIOS_LINE = re.compile(
    r"^TESTINFRA (OK|CRITICAL) - (\d+) passed, (\d+) failed, (\d+) skipped in \d+\.\d\d seconds$"
)


@pytest.mark.parametrize(
    ("suite", "status", "code", "counts"),
    [
        ("def test_ok(host):\n    assert host.file('/etc/passwd').exists\n", "OK", 0, (1, 0, 0)),
        (
            "import pytest\n"
            "def test_ok(host):\n    pass\n"
            "def test_bad(host):\n    assert host.file('/nonexistent').exists\n"
            "@pytest.mark.skip\ndef test_skip(host):\n    pass\n",
            "CRITICAL",
            2,
            (1, 1, 1),
        ),
    ],
)
def test_nagios_status_first_and_exit_code(
    pytester: pytest.Pytester,
    sshd: Target,
    suite: str,
    status: str,
    code: int,
    counts: tuple[int, int, int],
) -> None:
    pytester.makepyfile(suite)
    result = pytester.runpytest_subprocess(*sshd.args("--nagios"), timeout=120)
    assert result.ret == code
    match = NAGIOS_LINE.match(result.outlines[0])  # testinfra's format exactly
    assert match, result.outlines[:3]
    assert match.group(1) == status
    assert tuple(int(g) for g in match.groups()[1:]) == counts
    # pytest's own report follows the status line
    assert any("test session starts" in line for line in result.outlines[1:])


def test_nagios_unknown_when_the_run_cannot_start(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(host):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--nagios", "--hosts=ssh://u@h?timeout=soon", "-p", "no:cacheprovider", timeout=120
    )
    assert result.ret == 3
    assert result.outlines[0] == (
        "TESTINFRA UNKNOWN - usage error: --hosts: timeout='soon' is not a whole number of "
        "seconds in 'ssh://u@h?timeout=soon'"
    )
    result.stderr.fnmatch_lines(["*usage error: --hosts: timeout='soon' is not a whole number*"])


def test_local_spec_runs_through_testinfras_local_backend(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    pytester.makepyfile(
        """
        def test_host(host, host_spec):
            backend = "LocalBackend" if host_spec.id == "local" else "FabricPlusBackend"
            assert type(host.backend).__name__ == backend
            assert host.check_output("echo local") == "local"

        def test_connection(connection):
            pass
        """
    )
    result = pytester.runpytest(*sshd.args("-v", hosts=f"local://,{sshd.address}"))
    result.stdout.fnmatch_lines(
        [
            "fabricplus: 1 host runs through testinfra's local backend: local",
            "*::test_host?local? PASSED*",
            "*::test_connection?local? ERROR*",
            "*local runs through testinfra's local backend, not SSH: the connection fixture*",
        ]
    )
    result.assert_outcomes(passed=3, errors=1)


def test_no_hosts_is_the_local_machine_as_in_testinfra(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_host(host):
            assert host.backend.get_pytest_id() == "local"

        def test_connection(connection):
            pass
        """
    )
    result = pytester.runpytest("-v", "-p", "no:cacheprovider")
    # connection has no local backend: an error saying how to pass hosts, not a skip
    result.stdout.fnmatch_lines(["*::test_host?local? PASSED*", "*::test_connection ERROR*"])
    result.stdout.fnmatch_lines(["no hosts to test: pass --hosts=INVENTORY_FILE*"])


# -- the differential test: testinfra 10.2.2's own plugin vs ours, same sshd, same suite ---

DIFF_SUITE = {
    "test_diff_a": SUITE_ONE,
    "test_diff_b": SUITE_TWO,
    "test_diff_c": """
import pytest

@pytest.fixture(scope="module")
def who(host):
    return host.check_output("id -un")

def test_who(who):
    assert who == "fptest"

def test_wrong_user(host):
    assert host.user().name == "root"

def test_service_file(host):
    assert host.file("/etc/hostname").is_file

def test_rc(host):
    assert host.run_expect([0, 1], "false").rc == 1

def test_run_test(host):
    assert host.run_test("exit 2").rc == 0
""",
}

_OUTCOME = re.compile(r"^(test_diff_\w+\.py::\w+)\[[^\]]*\] (PASSED|FAILED|SKIPPED|ERROR)")


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    seen: dict[str, str] = {}
    for line in result.outlines:
        match = _OUTCOME.match(line)
        if match:
            seen[match.group(1)] = seen.get(match.group(1), "") + match.group(2) + " "
    return seen


@pytest.mark.parametrize("fleet", [[], ["--fleet"]], ids=["items", "fleet"])
def test_same_outcomes_as_testinfra(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path,
    fleet: list[str],
) -> None:  # fmt: skip
    """Two hosts, testinfra's own plugin against ours, on the item path and in fleet mode
    (each test's hosts at once, each host's module fixtures its own)."""
    installed = importlib.metadata.version("pytest-testinfra")
    if installed != "10.2.2":  # the minimum-versions run has 9.0, whose modules answer otherwise
        pytest.skip(f"the reference for this comparison is testinfra 10.2.2, not {installed}")
    pytester.makepyfile(**DIFF_SUITE)
    # two host names: testinfra's pytest id is the name without the port, and SUITE_ONE keys
    # its module-scope check by it
    spec = ",".join(
        f"paramiko://{t.user.name}@{name}:{t.port}?ssh_identity_file={t.user.key_path}"
        for name, t in (("127.0.0.1", sshd), ("localhost", sshd2))
    )
    known = pytester.path / "known_hosts"
    lines = both_known_hosts.read_text().splitlines()
    known.write_text(
        "".join(
            f"{line}\n{line.replace(f'[127.0.0.1]:{sshd2.port}', f'[localhost]:{sshd2.port}')}\n"
            for line in lines
        )
    )
    theirs = pytester.runpytest_subprocess(
        "-p", "testinfra", "-p", "no:fabricplus", "-p", "no:cacheprovider", "-v",
        f"--hosts={spec}", timeout=180,
    )  # fmt: skip
    before = {t.port: logins(t) for t in (sshd, sshd2)}
    ours = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-v", f"--hosts={spec}", f"--known-hosts={known}",
        *fleet, timeout=180,
    )  # fmt: skip
    for target in (sshd, sshd2):
        assert made_logins(target, before[target.port]) == 1
    assert "testinfra-10.2.2" in theirs.stdout.str()
    expected = _outcomes(theirs)
    assert len(expected) == 14, theirs.stdout.str()
    assert all(len(v.split()) == 2 for v in expected.values()), expected  # both hosts
    assert _outcomes(ours) == expected
    assert ours.ret == theirs.ret == 1
    if fleet:
        ours.stdout.fnmatch_lines(["fabricplus: fleet mode: 14 tests on 28 host items run *"])
        assert "runs host by host" not in ours.stdout.str()


def test_connection_option_picks_testinfras_backend(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_host(host):
            assert type(host.backend).__name__ == "LocalBackend"
        """
    )
    result = pytester.runpytest(
        "-v", "-p", "no:cacheprovider", "--hosts=box1", "--connection=local"
    )
    result.stdout.fnmatch_lines(
        [
            "fabricplus: 1 host runs through testinfra's local backend: local",
            "*::test_host?local? PASSED*",
        ]
    )
    bad = pytester.runpytest("--connection=telnet")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--connection: 'telnet' is not one of ssh, paramiko, safe-ssh*"])


SUDO_SUITE = {
    "test_diff_sudo": f"""
import pytest

@pytest.fixture(scope="module")
def me(host):
    return host.check_output("id -un")

def test_me(me):
    assert me == "{LOGIN_USER}"

def test_user(host):
    assert host.user().name == "{LOGIN_USER}"

def test_home(host):
    assert host.check_output("echo $HOME") != ""

def test_wrong_on_purpose(host):
    assert host.user().name == "{OTHER_USER}"

def test_writes_as_sudo_user(host):
    path = host.check_output("mktemp")
    try:
        assert host.file(path).user == "{LOGIN_USER}"
    finally:
        host.run("rm -f %s", path)
"""
}


def test_same_outcomes_as_testinfra_with_sudo(
    pytester: pytest.Pytester, sshd: Target, sudoers: Path
) -> None:
    # conftest's sudoers: fptest2 may run anything as fptest without a password, the case
    # testinfra's plain `sudo -u USER /bin/sh -c CMD` can handle
    pytester.makepyfile(**SUDO_SUITE)
    spec = f"paramiko://{OTHER_USER}@127.0.0.1:{sshd.port}?ssh_identity_file={sshd.other.key_path}"
    sudo = ["--sudo", f"--sudo-user={LOGIN_USER}"]
    theirs = pytester.runpytest_subprocess(
        "-p", "testinfra", "-p", "no:fabricplus", "-p", "no:cacheprovider", "-v",
        f"--hosts={spec}", *sudo, timeout=180,
    )  # fmt: skip
    ours = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-v", f"--hosts={spec}", f"--known-hosts={sshd.known_hosts}",
        *sudo, timeout=180,
    )  # fmt: skip
    expected = _outcomes(theirs)
    assert len(expected) == 5, theirs.stdout.str()
    assert list(expected.values()).count("FAILED ") == 1, expected
    assert _outcomes(ours) == expected, ours.stdout.str()


def test_testinfra_hosts_without_inventory_and_hosts_list_wins(
    pytester: pytest.Pytester,
    sshd: Target,
    sshd2: Target,
    both_known_hosts: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FPHOST_SPEC", f"ssh://{sshd.address}")
    module = """
        import os
        testinfra_hosts = [os.environ["FPHOST_SPEC"]]
        def test_it(host, host_spec):
            assert host.user().name == "fptest"
            assert host_spec.port == int(os.environ["FPHOST_EXPECT"])
        """
    pytester.makepyfile(test_a=module, test_b=module)
    common = [
        f"--known-hosts={both_known_hosts}",
        f"--ssh-identity-file={sshd.user.key_path}",
        "-p",
        "no:cacheprovider",
        "-v",
    ]
    monkeypatch.setenv("FPHOST_EXPECT", str(sshd.port))
    before = logins(sshd)
    result = pytester.runpytest(*common)
    result.assert_outcomes(passed=2)
    assert re.findall(r"^test_\w\.py::test_it\[([^\]]+)\] ", result.stdout.str(), re.M) == [
        "127.0.0.1",
        "127.0.0.1",
    ]
    assert made_logins(sshd, before) == 1  # one host, one id, one connection for both modules
    # as in testinfra: --hosts=LIST wins over testinfra_hosts
    monkeypatch.setenv("FPHOST_EXPECT", str(sshd2.port))
    result = pytester.runpytest(*common, f"--hosts={sshd2.address}")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("remote_shell", ["exec", "persistent"])
def test_module_host_survives_a_lost_connection(
    pytester: pytest.Pytester, sshd: Target, remote_shell: str
) -> None:
    pytester.makepyfile(
        """
        def test_1_session_dies(host):
            host.run("kill -9 $PPID")  # the sshd process of this very connection

        def test_2_after(host):
            assert host.check_output("echo back") == "back"

        def test_3_connection_too(connection):
            assert connection.run("echo ok", hide=True).stdout.strip() == "ok"
        """
    )
    before = logins(sshd)
    result = pytester.runpytest(*sshd.args("-v", f"--remote-shell={remote_shell}"))
    result.stdout.fnmatch_lines(["*::test_2_after?127.0.0.1? PASSED*"])
    result.stdout.fnmatch_lines(["*::test_3_connection_too?127.0.0.1? PASSED*"])
    assert made_logins(sshd, before) == 2  # the first login and one reconnect
