"""--ssh-password-env / password_env: passwords by reference, never shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import pytest_fabricplus.ssh.connector as connector_module
from pytest_fabricplus.ssh.connector import Connector
from testing.targets import PASSWORD_ENV, Target

FAILING = """
def test_login(connection):
    assert connection.run("id -un", hide=True).stdout.strip() == "fptest"

def test_fails_with_locals(connection):
    kwargs = connection.connect_kwargs
    assert kwargs == {}, "showing connect kwargs"
"""


def test_password_login_without_key_and_no_leak(
    pytester: pytest.Pytester, sshd: Target, login_password: str
) -> None:
    pytester.makepyfile(FAILING)
    result = pytester.runpytest(
        f"--hosts={sshd.address}",
        f"--known-hosts={sshd.known_hosts}",
        f"--ssh-password-env={PASSWORD_ENV}",
        "-vv",
        "--showlocals",
        "--log-level=DEBUG",
        f"--junitxml={pytester.path / 'junit.xml'}",
    )
    result.assert_outcomes(passed=1, failed=1)
    everything = result.stdout.str() + result.stderr.str()
    everything += (pytester.path / "junit.xml").read_text()
    assert "'********'" in everything  # the password is there, masked
    assert login_password not in everything


def test_inventory_names_the_variable_per_host(
    pytester: pytest.Pytester, sshd: Target, login_password: str
) -> None:
    pytester.makepyfile("def test_login(connection): connection.run('true')")
    Path(pytester.path / "inv.txt").write_text(
        f"{sshd.address} alias=pwhost password_env={PASSWORD_ENV}\n"
    )
    result = pytester.runpytest("--hosts=inv.txt", f"--known-hosts={sshd.known_hosts}")
    result.assert_outcomes(passed=1)


def test_missing_variable_is_a_usage_error_before_connecting(
    pytester: pytest.Pytester, sshd: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOT_SET_PW", raising=False)
    # the inner run is in-process: every connection attempt goes through Connector.open
    # (and its TCP connect), counted here
    attempts: list[str] = []
    real_open, real_tcp = Connector.open, connector_module.tcp_connect

    def counting_open(self: Connector, spec: Any, jump: Any = None) -> Any:
        attempts.append(f"open {spec}")
        return real_open(self, spec, jump)

    def counting_tcp(name: str, *args: Any) -> Any:
        attempts.append(f"tcp {name}")
        return real_tcp(name, *args)

    monkeypatch.setattr(Connector, "open", counting_open)
    monkeypatch.setattr(connector_module, "tcp_connect", counting_tcp)
    pytester.makepyfile("def test_login(connection): connection.run('true')")
    Path(pytester.path / "inv.txt").write_text(
        f"{sshd.address} alias=web1 password_env=NOT_SET_PW\n"
    )
    result = pytester.runpytest("--hosts=inv.txt", f"--known-hosts={sshd.known_hosts}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*environment variable NOT_SET_PW (named by inv.txt:1) holds the login password for "
            "web1 but is not set"
        ]
    )
    assert attempts == []  # failed before any connection was tried
    # the counters do see a connection when there is one: the same run with the variable set
    monkeypatch.setenv("NOT_SET_PW", sshd.user.password)
    result = pytester.runpytest("--hosts=inv.txt", f"--known-hosts={sshd.known_hosts}")
    result.assert_outcomes(passed=1)
    assert [a.split()[0] for a in attempts] == ["open", "tcp"]


def test_bad_variable_name_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--ssh-password-env=MY-PW")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--ssh-password-env: 'MY-PW' is not an environment variable name*"]
    )
