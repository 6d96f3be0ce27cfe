"""--ssh-config: OpenSSH client config honoured through Fabric."""

from __future__ import annotations

import pytest

from conftest import Target
from testing.sshd import own_connections


def test_hostname_user_port_identityfile_from_ssh_config(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    config = pytester.path / "ssh_config"
    config.write_text(
        f"Host webalias\n  HostName 127.0.0.1\n  Port {sshd.port}\n  User fptest\n"
        f"  IdentityFile {sshd.user.key_path}\n"
    )
    pytester.makepyfile(
        f"""
        def test_who(connection):
            assert connection.run("id -un", hide=True).stdout.strip() == "fptest"
            assert connection.port == {sshd.port}
        """
    )
    result = pytester.runpytest(
        "--hosts=webalias", f"--ssh-config={config}", f"--known-hosts={sshd.known_hosts}", "-v"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_who?webalias? PASSED*"])


def test_proxyjump_from_ssh_config_verifies_both_host_keys(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target
) -> None:
    # Fabric treats a ProxyJump hop with the target's host name as "our own proxy" and drops
    # it (it ignores the port): name the jump host "localhost" so both stay on loopback
    known = pytester.path / "known_both"
    jump_line = sshd.server.known_hosts_line.replace("[127.0.0.1]", "[localhost]")
    known.write_text(jump_line + "\n" + sshd2.server.known_hosts_line + "\n")
    config = pytester.path / "ssh_config"
    config.write_text(
        f"Host target\n  HostName 127.0.0.1\n  Port {sshd2.port}\n"
        f"  ProxyJump fptest@localhost:{sshd.port}\n"
        f"Host *\n  User fptest\n  IdentityFile {sshd.user.key_path}\n"
    )
    pytester.makepyfile(
        """
        def test_through_gateway(connection):
            assert connection.gateway is not None
            assert connection.run("echo hi", hide=True).stdout == "hi\\n"
        """
    )
    before = own_connections(sshd.port)
    ok = pytester.runpytest("--hosts=target", f"--ssh-config={config}", f"--known-hosts={known}")
    ok.assert_outcomes(passed=1)
    assert own_connections(sshd.port) == before  # the gateway was closed too
    # only the target's key known: the gateway's unknown key must be rejected, not auto-added
    only_target = pytester.path / "kh"
    only_target.write_text(sshd2.server.known_hosts_line + "\n")
    bad = pytester.runpytest(
        "--hosts=target", f"--ssh-config={config}", f"--known-hosts={only_target}"
    )
    bad.assert_outcomes(errors=1)
    bad.stdout.fnmatch_lines([f"*unknown host key*[[]localhost]:{sshd.port}*"])


def test_missing_ssh_config_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--ssh-config=/nonexistent/ssh_config")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ssh-config: file '/nonexistent/ssh_config' does not exist*"])
