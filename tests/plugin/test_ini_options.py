"""Every option can be set in ini (fabricplus_*); the command line wins."""

from __future__ import annotations

import pytest

from testing.targets import Target

TEST = "def test_a(connection):\n    connection.run('true')\n"


def test_ini_configures_a_whole_run(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makeini(
        f"""
        [pytest]
        fabricplus_hosts = {sshd.address}
        fabricplus_known_hosts = {sshd.known_hosts}
        fabricplus_ssh_identity_file = {sshd.user.key_path}
        fabricplus_connect_timeout = 7
        fabricplus_command_timeout = 42
        """
    )
    pytester.makepyfile(TEST)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*host keys: reject; timeouts: connect 7s, command 42s"])


def test_command_line_wins_over_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfabricplus_connect_timeout = 7\n")
    result = pytester.runpytest("--connect-timeout=3", "--hosts=h1", "--collect-only")
    result.stdout.fnmatch_lines(["*timeouts: connect 3s, command 300s"])


def test_bad_ini_value_names_the_ini_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfabricplus_host_key_policy = yolo\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*ini option fabricplus_host_key_policy: 'yolo' is not one of reject, warn, accept"]
    )


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("--connect-timeout=soon", "argument --connect-timeout: 'soon' is not a number of seconds"),
        ("--command-timeout=-5", "argument --command-timeout: '-5' must be a number of seconds*"),
        ("--ssh-port=70000", "argument --ssh-port: port 70000 is out of range 1-65535"),
        ("--jump-host=a b", "argument --jump-host: invalid host name 'a b'"),
        ("--ssh-identity-file=/no/such/key", "argument --ssh-identity-file: file '/no/such/key'*"),
        ("--known-hosts=/no/such/file", "argument --known-hosts: file '/no/such/file' does not*"),
        ("--hosts=a,b c", "*--hosts: invalid host name 'b c'*"),
    ],
)
def test_bad_values_fail_at_start_up(pytester: pytest.Pytester, arg: str, message: str) -> None:
    pytester.makepyfile(TEST)
    result = pytester.runpytest(arg)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])
    result.stderr.no_fnmatch_line("*Traceback*")


def test_environment_variables_are_the_last_layer(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FABRICPLUS_HOSTS", "envhost")
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    pytester.makepyfile(TEST)
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_a?envhost?"])


def test_ini_paths_resolve_against_the_ini_file_from_a_subfolder(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(
        """
        [pytest]
        fabricplus_hosts = inv.ini
        fabricplus_known_hosts = known_hosts
        """
    )
    pytester.path.joinpath("inv.ini").write_text("h1\nh2\n")
    pytester.path.joinpath("known_hosts").write_text("")
    sub = pytester.mkpydir("sub")
    sub.joinpath("test_sub.py").write_text(TEST)
    monkeypatch.chdir(sub)
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["*test_a?h1?", "*test_a?h2?"])


def test_ini_keys_are_typed_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "  fabricplus_hosts (string):*",
            "  fabricplus_ssh_identity_file (paths):*",
            "  fabricplus_ssh_extra_args (args):*",
            "  fabricplus_known_hosts (paths):*",
            "  fabricplus_skip_unreachable (bool):*",
        ]
    )
    # Python 3.13's argparse names the metavar once, after the last spelling
    result.stdout.re_match_lines([r"  --fabricplus-ssh-user(=USER)?, --ssh-user=USER"])
    result.stdout.no_fnmatch_line("*=FABRICPLUS_*")


def test_a_bool_ini_key_pytest_cannot_read(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfabricplus_skip_unreachable = maybe\n")
    pytester.makepyfile(TEST)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini option fabricplus_skip_unreachable: *maybe*"])


def test_environment_wins_over_ini(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\nfabricplus_connect_timeout = 7\nfabricplus_command_timeout = 9\n")
    monkeypatch.setenv("FABRICPLUS_CONNECT_TIMEOUT", "4")
    result = pytester.runpytest("--hosts=h1", "--collect-only")
    result.stdout.fnmatch_lines(["*timeouts: connect 4s, command 9s"])
