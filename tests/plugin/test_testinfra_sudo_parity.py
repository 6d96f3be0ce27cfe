"""Inside testinfra's ``host.sudo()``, a sudo that fails gives testinfra's verdicts.

One test file, run unchanged under testinfra 10.2.x itself (``-p no:fabricplus``, its own
``ssh://`` backend: ``ssh HOST "sudo -u USER /bin/sh -c CMD"``, no tty, no password) and under
this plugin against the same real sshd: every test must get the same outcome. The login
user ``fptest`` may sudo only to ``fptest2`` and ``fptestsvc`` (tests/conftest.py), so sudo
to root or to an unknown user fails -- in testinfra with the sudo process's exit status 1
and sudo's stderr. Ours is run three ways, one per refusal our ``Sudo`` strategy meets: no
sudo password (``sudo -n``), the right one (authenticated, then not allowed) and a wrong
one (three failed attempts).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from testing.targets import PASSWORD_ENV, Target

pytestmark = pytest.mark.usefixtures("sudoers")

WRONG_VAR = "FPTEST_WRONG_SUDO_PW"

VERIFIER = """
def test_sudo_to_root_is_refused(host):
    with host.sudo():
        result = host.run("id -un")
    assert result.rc == 1
    assert result.stdout == ""
    assert "sudo" in result.stderr


def test_sudo_to_unknown_user_is_refused(host):
    with host.sudo("fpnosuchuser"):
        assert host.run("true").rc != 0


def test_modules_read_the_refusal_as_a_failed_command(host):
    assert host.system_info.type == "linux"  # found as the login user (file() needs it)
    with host.sudo():
        assert host.run_test("true").rc == 1
        assert not host.file("/etc/passwd").exists


def test_check_output_under_refused_sudo_fails(host):
    with host.sudo():
        host.check_output("id -un")


def test_login_user_afterwards(host):
    assert host.check_output("id -un") == "fptest"
"""

_OUTCOME = re.compile(r"^tests/test_sudo\.py::(\w+)\[[^\]]*\] (PASSED|FAILED|SKIPPED|ERROR)")


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    seen = {}
    for line in result.outlines:
        match = _OUTCOME.match(line)
        if match:
            seen[match.group(1)] = match.group(2)
    return seen


@pytest.fixture
def suite(pytester: pytest.Pytester) -> Path:
    tests = pytester.mkdir("tests")
    (tests / "test_sudo.py").write_text(VERIFIER)
    return tests


def test_refused_sudo_gives_testinfras_outcomes(
    pytester: pytest.Pytester, sshd: Target, suite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ssh_config = pytester.path / "ssh_config"
    ssh_config.write_text(
        f"Host *\n  UserKnownHostsFile {sshd.known_hosts}\n  StrictHostKeyChecking yes\n"
        "  IdentitiesOnly yes\n  BatchMode yes\n"
    )
    theirs = pytester.runpytest_subprocess(
        "-p",
        "testinfra",
        "-p",
        "no:fabricplus",
        "-p",
        "no:cacheprovider",
        f"--hosts=ssh://{sshd.user.name}@{sshd.host}:{sshd.port}",
        f"--ssh-identity-file={sshd.user.key_path}",
        f"--ssh-config={ssh_config}",
        "-v",
        str(suite),
        timeout=120,
    )
    expected = _outcomes(theirs)
    assert expected == {
        "test_sudo_to_root_is_refused": "PASSED",
        "test_sudo_to_unknown_user_is_refused": "PASSED",
        "test_modules_read_the_refusal_as_a_failed_command": "PASSED",
        "test_check_output_under_refused_sudo_fails": "FAILED",
        "test_login_user_afterwards": "PASSED",
    }, theirs.stdout.str()

    monkeypatch.setenv(PASSWORD_ENV, sshd.user.password)
    monkeypatch.setenv(WRONG_VAR, "not-" + sshd.user.password)
    ways = {
        "no sudo password (sudo -n)": [],
        "the right sudo password": [f"--sudo-password-env={PASSWORD_ENV}"],
        "a wrong sudo password": [f"--sudo-password-env={WRONG_VAR}"],
    }
    for way, extra in ways.items():
        ours = pytester.runpytest_subprocess(*sshd.args("-v", *extra, str(suite)), timeout=120)
        out = ours.stdout.str()
        assert _outcomes(ours) == expected, f"{way}:\n{out}"
        assert ours.ret == theirs.ret == 1
        # check_output's failure shows the result: sudo's words, then ours naming the host
        assert "PrivilegeError" not in out, way
        assert "pytest-fabricplus: sudo" in out, f"{way}:\n{out}"
        assert sshd.user.password not in out
