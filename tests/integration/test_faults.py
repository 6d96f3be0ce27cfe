"""Fault scenarios against real targets: the outcome, the message, and bounded time.

(Port refused, blackhole, DNS, wrong password and changed host key live in
tests/plugin/test_connect_errors.py, test_preflight.py and test_host_key_policy.py; command
timeouts in test_connection_fixture.py; the inventory fuzzer in tests/unit.)
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from testing.bounds import NOT_HANGING
from testing.sshd import sudoers_dropin
from testing.targets import Target


def test_wrong_key_is_an_auth_error_naming_the_host(
    pytester: pytest.Pytester, sshd: Target, tmp_path: Path
) -> None:
    other_key = tmp_path / "not_authorized"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other_key)], check=True
    )
    pytester.makepyfile("def test_a(connection): pass\ndef test_b(connection): pass")
    before = sshd.server.connections_logged()
    result = pytester.runpytest(
        f"--hosts={sshd.address}",
        f"--known-hosts={sshd.known_hosts}",
        f"--ssh-identity-file={other_key}",
    )
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [f"cannot connect to 127.0.0.1 (fptest@127.0.0.1:{sshd.port}): authentication failed*"]
    )
    # one attempt for the host, its error reused by the second test (not one per test)
    attempts = sshd.server.connections_logged()[len(before) : -1]
    assert len(attempts) == 1, attempts


def test_worker_that_dies_does_not_lose_other_hosts(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    pytester.makepyfile(
        f"""
        import os
        import pytest

        @pytest.mark.parametrize("n", range(3))
        def test_check(connection, host_spec, n):
            if host_spec.port == {sshd2.port} and n == 1:
                os._exit(1)   # the worker process dies in the middle of this host's tests
            connection.run("true")
        """
    )
    result = pytester.runpytest_subprocess(
        *sshd.args(
            "-n",
            "2",
            hosts=f"{sshd.address},{sshd2.address}",
            known_hosts=both_known_hosts,
        ),
        timeout=180,
    )
    # sshd's 3, sshd2's first and (on the replacement worker) its last; the crashed item fails
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["*worker * crashed while running*", "*results per host*"])
    result.stdout.fnmatch_lines([f"127.0.0.1:{sshd.port} * 3 * 0 * 0 * 0"], consecutive=False)


@pytest.mark.docker
def test_sshd_killed_mid_test(pytester: pytest.Pytester, require_docker: None) -> None:
    pytester.makepyfile(
        """
        import threading, time
        import docker

        def test_1_container_dies(connection, host_spec, docker_targets):
            if host_spec.alias == "ubuntu":
                cid = docker_targets["ubuntu"].container_id
                kill = lambda: docker.from_env().containers.get(cid).kill()
                threading.Timer(1.0, kill).start()
                connection.run("sleep 30")
            connection.run("true")

        def test_2_after(connection):
            connection.run("true")

        def test_3_after(connection):
            connection.run("true")
        """
    )
    # counts the connection attempts per host (the inner run is a process of its own)
    pytester.makeconftest(
        """
        import collections, json
        from pytest_fabricplus.ssh.connector import Connector

        OPENS = collections.Counter()
        _open = Connector.open

        def counting_open(self, spec, *args, **kwargs):
            OPENS[spec.alias] += 1
            return _open(self, spec, *args, **kwargs)

        Connector.open = counting_open

        def pytest_sessionfinish(session):
            with open("opens.json", "w") as out:
                json.dump(OPENS, out)
        """
    )
    result = pytester.runpytest_subprocess(
        "--docker-targets=ubuntu,centos7",
        "--connect-timeout=5",
        "-p",
        "no:cacheprovider",
        timeout=300,
    )
    result.assert_outcomes(passed=3, failed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ConnectionLost: connection to ubuntu (fpuser@127.0.0.1:*) was lost while running "
            "'sleep 30'*",
        ]
    )
    # The reconnect finds no sshd: usually "connection refused"; but docker-proxy may still
    # accept the TCP connection on the published port and then say nothing, which is "no
    # SSH answer" within the connect timeout. Either way one error naming the host, reused
    # for the next test on it (no second attempt, no timeout per test).
    result.stdout.fnmatch_lines(["*ERROR at setup of test_2_after[[]ubuntu]*"])
    causes = re.findall(
        r"^cannot connect to ubuntu \(fpuser@127\.0\.0\.1:\d+\): (.*)$",
        result.stdout.str(),
        re.MULTILINE,
    )
    assert len(causes) == 2, causes  # test_2_after and test_3_after on ubuntu
    assert causes[0] == causes[1], causes
    assert re.fullmatch(
        r"connection refused on 127\.0\.0\.1:\d+|no SSH answer within 5s", causes[0]
    ), causes
    result.stdout.fnmatch_lines(["centos7 * 3 * 0 * 0 * 0*"])
    # ubuntu: the first connection and one reconnect after the loss, whose error the next
    # tests reuse (no attempt, so no timeout, per test); centos7: one connection
    opens = json.loads((pytester.path / "opens.json").read_text())
    assert opens == {"ubuntu": 2, "centos7": 1}, opens


def test_sudo_with_requiretty_is_retried_with_a_pty(sshd: Target, sudoers: Path) -> None:
    """sudoers' ``Defaults requiretty`` (RHEL's old default): sudo without a pty is refused."""
    from pytest_fabricplus import Connector, HostSpec, Settings

    settings = Settings(
        known_hosts=str(sshd.known_hosts), ssh_identity_file=str(sshd.other.key_path)
    )
    # fptest2 may sudo to fptest without a password (the session's sudoers); demand a tty
    with sudoers_dropin("fabricplus-requiretty-", "Defaults:fptest2 requiretty\n"):
        conn = Connector(settings, env={}).open(
            HostSpec("127.0.0.1", sshd.port, "fptest2", id="tty-host")
        )
        try:
            plain = conn.run("sudo -n -u fptest true", warn=True, hide=True)
            assert "must have a tty" in plain.stderr  # the fault is real
            start = time.monotonic()
            with conn.as_user("fptest", method="sudo"):
                # stdin is at end-of-file (/dev/null, as ssh -n); stdout is sudo's pty
                result = conn.run("id -un; tty 0<&1", hide=True)
            assert result.stdout.splitlines()[0] == "fptest"
            assert result.stdout.splitlines()[1].startswith("/dev/pts/")  # ran on a pty
            # about not hanging: retried at once, not after a command timeout (300 s)
            assert time.monotonic() - start < NOT_HANGING
        finally:
            conn.close()
