"""--ssh-config and --ssh-extra-args: the OpenSSH client config as ``ssh`` reads it (ssh -G).

Against real sshd processes; logins are counted in the sshd logs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.sshd import own_connections
from testing.targets import Target


def logins(target: Target) -> int:
    """Successful logins sshd logged so far (the marker connection flushes the log)."""
    target.server.connections_logged()
    return target.server.log_path.read_text().count("Accepted publickey for ")


WHO = """
def test_who(connection):
    assert connection.run("id -un", hide=True).stdout.strip() == "fptest"
    assert connection.host == "127.0.0.1"
"""


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


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["no-xdist", "n2"])
def test_include_and_match_exec_reach_the_hosts_they_name(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, xdist: tuple[str, ...]
) -> None:
    """paramiko's parser ignores Include; OpenSSH's Match exec runs a command per host."""
    included = pytester.path / "config.d" / "hosts.conf"
    included.parent.mkdir()
    included.write_text(
        "Host web1\n"
        "  HostName 127.0.0.1\n"
        f"  Port {sshd.port}\n"
        "Host web2\n"
        "  HostName 127.0.0.1\n"
        f"  Port {sshd2.port}\n"
    )
    config = pytester.path / "ssh_config"
    config.write_text(
        # the User comes from a Match that only a command can decide
        f'Match originalhost web* exec "test %n != nobody"\n'
        "  User fptest\n"
        "Host *\n"  # an Include applies inside the block it is in
        f"  Include {included}\n"
        # Match host sees the HostName the Include set, Match user the User set above
        "Match host 127.0.0.1 user fptest\n"
        f"  IdentityFile {sshd.user.key_path}\n"
        "Host *\n"
        "  User nobody\n"
    )
    known = pytester.path / "known"
    known.write_text(sshd.server.known_hosts_line + "\n" + sshd2.server.known_hosts_line + "\n")
    pytester.makepyfile(WHO + "\ndef test_again(connection):\n    connection.run('true')\n")
    before = (logins(sshd), logins(sshd2))
    args = ("--hosts=web1,web2", f"--ssh-config={config}", f"--known-hosts={known}", "-v")
    if xdist:
        result = pytester.runpytest_subprocess(*args, *xdist, timeout=180)
    else:
        result = pytester.runpytest(*args)
    result.assert_outcomes(passed=4)
    passed = [line for line in result.stdout.lines if "PASSED" in line]
    assert any("test_who[web1]" in line for line in passed)
    assert any("test_who[web2]" in line for line in passed)
    # one login per host for the whole run
    assert (logins(sshd), logins(sshd2)) == (before[0] + 1, before[1] + 1)


def test_proxyjump_from_ssh_config_verifies_both_host_keys(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    config = pytester.path / "ssh_config"
    config.write_text(
        f"Host target\n  HostName 127.0.0.1\n  Port {sshd2.port}\n"
        f"  ProxyJump fptest@127.0.0.1:{sshd.port}\n"
        f"Host *\n  User fptest\n  IdentityFile {sshd.user.key_path}\n"
    )
    pytester.makepyfile(
        """
        def test_through_gateway(connection):
            assert connection.jump_client is not None
            assert type(connection.transport.sock).__name__ == "Channel"  # tunnelled
            assert connection.run("echo hi", hide=True).stdout == "hi\\n"
        """
    )
    before = own_connections(sshd.port)
    ok = pytester.runpytest(
        "--hosts=target", f"--ssh-config={config}", f"--known-hosts={both_known_hosts}"
    )
    ok.assert_outcomes(passed=1)
    assert own_connections(sshd.port) == before  # the jump connection was closed too
    # only the target's key known: the jump host's unknown key is rejected, not auto-added
    only_target = pytester.path / "kh"
    only_target.write_text(sshd2.server.known_hosts_line + "\n")
    bad = pytester.runpytest(
        "--hosts=target", f"--ssh-config={config}", f"--known-hosts={only_target}"
    )
    bad.assert_outcomes(errors=1)
    bad.stdout.fnmatch_lines(
        [f"*jump host fptest@?127.0.0.1?:{sshd.port}: unknown host key*[[]127.0.0.1]:{sshd.port}*"]
    )


def test_proxyjump_chain_opens_each_hop_once(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    """``ProxyJump a,b``: a directly, b through a, the host through b; every key verified."""
    config = pytester.path / "ssh_config"
    config.write_text(
        "Host inner1 inner2\n  HostName 127.0.0.1\n"
        f"  ProxyJump fptest@127.0.0.1:{sshd.port},hop2\n"
        f"Host inner1\n  Port {sshd.port}\n"
        f"Host inner2\n  Port {sshd2.port}\n"
        f"Host hop2\n  HostName 127.0.0.1\n  Port {sshd2.port}\n"
        f"Host *\n  User fptest\n  IdentityFile {sshd.user.key_path}\n"
    )
    pytester.makepyfile(WHO)
    before = (logins(sshd), logins(sshd2))
    result = pytester.runpytest(
        "--hosts=inner1,inner2", f"--ssh-config={config}", f"--known-hosts={both_known_hosts}"
    )
    result.assert_outcomes(passed=2)
    # sshd: hop 1 (shared by both hosts) + inner1; sshd2: hop 2 (shared) + inner2
    assert (logins(sshd), logins(sshd2)) == (before[0] + 2, before[1] + 2)


def test_proxycommand_ssh_w_through_the_other_sshd(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target
) -> None:
    jump_known = pytester.path / "jump_known"
    jump_known.write_text(sshd.server.known_hosts_line + "\n")
    config = pytester.path / "ssh_config"
    config.write_text(
        f"Host behind\n  HostName 127.0.0.1\n  Port {sshd2.port}\n  User fptest\n"
        f"  IdentityFile {sshd.user.key_path}\n"
        # the tokens are expanded (ssh -G leaves them): %h:%p is sshd2, %r fptest
        f"  ProxyCommand ssh -F none -o BatchMode=yes -o UserKnownHostsFile={jump_known} "
        f"-i {sshd.user.key_path} -p {sshd.port} -W %h:%p %r@127.0.0.1\n"
    )
    pytester.makepyfile(
        """
        def test_behind(connection):
            import paramiko

            assert isinstance(connection.transport.sock, paramiko.ProxyCommand)
            assert connection.run("id -un", hide=True).stdout.strip() == "fptest"
        """
    )
    before = (logins(sshd), logins(sshd2))
    result = pytester.runpytest(
        "--hosts=behind", f"--ssh-config={config}", f"--known-hosts={sshd2.known_hosts}"
    )
    result.assert_outcomes(passed=1)
    assert (logins(sshd), logins(sshd2)) == (before[0] + 1, before[1] + 1)


def config_for(path: Path, target: Target, extra: str = "") -> Path:
    config = path / "ssh_config"
    config.write_text(
        f"Host box\n  HostName 127.0.0.1\n  Port {target.port}\n  User fptest\n"
        f"  IdentityFile {target.user.key_path}\n{extra}"
    )
    return config


def test_strict_host_key_checking_no_and_yes(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile(WHO)
    accept = config_for(pytester.path, sshd, "  StrictHostKeyChecking no\n")
    ok = pytester.runpytest("--hosts=box", f"--ssh-config={accept}")  # no known_hosts at all
    ok.assert_outcomes(passed=1)
    strict = config_for(pytester.path, sshd, "  StrictHostKeyChecking yes\n")
    bad = pytester.runpytest("--hosts=box", f"--ssh-config={strict}")
    bad.assert_outcomes(errors=1)
    bad.stdout.fnmatch_lines([f"*unknown host key*[[]127.0.0.1]:{sshd.port}*"])
    # --host-key-policy given explicitly wins over the ssh config
    explicit = pytester.runpytest(
        "--hosts=box", f"--ssh-config={accept}", "--host-key-policy=reject"
    )
    explicit.assert_outcomes(errors=1)
    # accept-new: accepted, and said so (we never write known_hosts)
    new = config_for(pytester.path, sshd, "  StrictHostKeyChecking accept-new\n")
    warned = pytester.runpytest("--hosts=box", f"--ssh-config={new}")
    warned.assert_outcomes(passed=1)
    warned.stdout.fnmatch_lines(["*host keys accepted without verification*"])


def test_user_known_hosts_file_from_the_config(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile(WHO)
    config = config_for(pytester.path, sshd, f"  UserKnownHostsFile {sshd.known_hosts}\n")
    ok = pytester.runpytest("--hosts=box", f"--ssh-config={config}")
    ok.assert_outcomes(passed=1)
    wrong = pytester.path / "other_known"
    wrong.write_text("")
    config = config_for(pytester.path, sshd, f"  UserKnownHostsFile {wrong}\n")
    bad = pytester.runpytest("--hosts=box", f"--ssh-config={config}")
    bad.assert_outcomes(errors=1)
    bad.stdout.fnmatch_lines([f"*unknown host key*not in {wrong}*"])


def test_connect_timeout_and_server_alive_interval(pytester: pytest.Pytester, sshd: Target) -> None:
    config = config_for(pytester.path, sshd, "  ConnectTimeout 7\n  ServerAliveInterval 5\n")
    pytester.makepyfile(
        """
        def test_settings(connection):
            assert connection.connect_timeout == 7
            # paramiko keeps the keepalive interval on the packetizer (name-mangled)
            packetizer = connection.transport.packetizer
            assert packetizer._Packetizer__keepalive_interval == 5
        """
    )
    result = pytester.runpytest(
        "--hosts=box", f"--ssh-config={config}", f"--known-hosts={sshd.known_hosts}"
    )
    result.assert_outcomes(passed=1)
    # --connect-timeout given: it wins
    pytester.makepyfile(
        "def test_settings(connection):\n    assert connection.connect_timeout == 3\n"
    )
    result = pytester.runpytest(
        "--hosts=box",
        f"--ssh-config={config}",
        f"--known-hosts={sshd.known_hosts}",
        "--connect-timeout=3",
    )
    result.assert_outcomes(passed=1)


def test_ssh_extra_args_proxyjump_and_a_warning(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    pytester.makepyfile(
        """
        def test_via(connection):
            assert connection.jump_client is not None
            connection.run("true")
        """
    )
    result = pytester.runpytest(
        *sshd2.args(
            f"--ssh-extra-args=-o ProxyJump=fptest@127.0.0.1:{sshd.port} -o ControlMaster=auto"
            " -o BatchMode=yes",
            known_hosts=both_known_hosts,
        )
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*fabricplus: ssh arguments and config not honoured*",
            f"WARNING 127.0.0.1 (fptest@127.0.0.1:{sshd2.port}): ssh argument "
            "'-o ControlMaster=auto' is not supported here and is ignored (control master*",
        ]
    )
    assert "BatchMode" not in result.stdout.str()  # harmless: accepted quietly


def test_ssh_extra_args_port_and_user_beat_the_config(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target
) -> None:
    config = config_for(pytester.path, sshd, "  User nobody\n")
    pytester.makepyfile(WHO)
    result = pytester.runpytest(
        "--hosts=box",
        f"--ssh-config={config}",
        f"--known-hosts={sshd2.known_hosts}",
        f"--ssh-extra-args=-p {sshd2.port} -o User=fptest",
    )
    result.assert_outcomes(passed=1)


def test_bad_ssh_extra_args_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--ssh-extra-args=-o 'unclosed")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ssh-extra-args: *cannot be split into arguments*"])


def test_bad_ssh_config_is_one_error_per_host(pytester: pytest.Pytester, sshd: Target) -> None:
    config = config_for(pytester.path, sshd, "  NoSuchKeyword yes\n")
    pytester.makepyfile(WHO)
    result = pytester.runpytest("--hosts=box", f"--ssh-config={config}")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["cannot connect to box: ssh refuses the client config: *line 6: Bad configuration option*"]
    )


def test_paramiko_fallback_without_ssh_says_so(
    pytester: pytest.Pytester, sshd: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = pytester.path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no ssh client
    config = config_for(pytester.path, sshd)
    pytester.makepyfile(WHO)
    result = pytester.runpytest(
        "--hosts=box", f"--ssh-config={config}", f"--known-hosts={sshd.known_hosts}"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "fabricplus: ssh client config: no `ssh` client on PATH, so * is read with "
            "paramiko's parser, which does not understand Include*"
        ]
    )


def test_missing_ssh_config_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--ssh-config=/nonexistent/ssh_config")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ssh-config: file '/nonexistent/ssh_config' does not exist*"])
