"""The ``connection`` fixture: one reused connection per host, TCP_NODELAY, state reset."""

from __future__ import annotations

import subprocess

import pytest

from testing.sshd import own_connections
from testing.targets import Target


def test_one_connection_per_host_reused_and_closed_at_the_end(
    pytester: pytest.Pytester, sshd: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FPTEST_PORT", str(sshd.port))
    pytester.makepyfile(
        """
        import os, socket, subprocess
        import pytest

        def ours():
            port = os.environ["FPTEST_PORT"]
            out = subprocess.run(
                ["ss", "-Htnp", "state", "established", f"( dport = :{port} )"],
                capture_output=True, text=True, check=True).stdout
            return [l for l in out.splitlines() if f"pid={os.getpid()}," in l]

        @pytest.mark.parametrize("n", range(3))
        def test_reused(connection, n):
            connection.run("true")
            assert len(ours()) == 1

        def test_nodelay(connection):
            sock = connection.transport.sock
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)

        def test_host_spec(connection, host_spec):
            assert connection.spec is host_spec
            assert host_spec.user == "fptest"
            assert type(connection).__mro__[1].__name__ == "ConnectionPlus"
        """
    )
    before = own_connections(sshd.port)  # other tests of this session may hold some
    result = pytester.runpytest(*sshd.args())
    result.assert_outcomes(passed=5)
    assert own_connections(sshd.port) == before  # closed at session end


def test_per_test_state_does_not_leak(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile(
        """
        def test_1_changes_state(connection):
            connection.config.run.env["LEAKY"] = "yes"
            connection.command_cwds.append("/tmp")
            connection.command_prefixes.append("export ALSO=leaky")
            out = connection.run("echo $LEAKY $ALSO; pwd", hide=True).stdout.split()
            assert out == ["yes", "leaky", "/tmp"]

        def test_2_sees_clean_state(connection):
            out = connection.run("echo [$LEAKY$ALSO]; pwd", hide=True).stdout.split()
            assert out == ["[]", "/home/fptest"]
        """
    )
    pytester.runpytest(*sshd.args("-p", "no:randomly")).assert_outcomes(passed=2)


def test_command_timeout_fails_the_test_and_connection_stays_usable(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    pytester.makepyfile(
        """
        def test_1_hangs(connection):
            connection.run("sleep 317")

        def test_2_next_test_passes(connection):
            assert connection.run("echo fine", hide=True).stdout == "fine\\n"
        """
    )
    result = pytester.runpytest(*sshd.args("--command-timeout=1"))
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "E *CommandTimeout: command 'sleep 317' on 127.0.0.1 (fptest@127.0.0.1:*) did not "
            "finish within 1s (--command-timeout); the command was interrupted"
        ]
    )
    # the remote command was killed, not left running
    stray = subprocess.run(["pgrep", "-u", "fptest", "-f", "sleep 317"], capture_output=True)
    assert stray.returncode == 1, stray.stdout


def test_fixture_is_a_fabric_connection_with_its_api(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    pytester.makepyfile(
        """
        import io
        def test_api(connection, tmp_path):
            r = connection.run("exit 3", warn=True, hide=True)
            assert r.exited == 3
            connection.put(io.BytesIO(b"payload"), "/tmp/fp-put-test")
            assert connection.run("cat /tmp/fp-put-test", hide=True).stdout == "payload"
            with connection.cd("/etc"):
                assert connection.run("pwd", hide=True).stdout.strip() == "/etc"
        """
    )
    pytester.runpytest(*sshd.args()).assert_outcomes(passed=1)
