"""Which errors while opening a connection mean "unreachable", and how they are filed.

Only network/system (``OSError``), SSH protocol and authentication (``paramiko.SSHException``),
a handshake cut short (``EOFError``) and our config checks are a host's fault; anything else
(a bug of ours or of a dependency) must propagate. Pure: no network.
"""

from __future__ import annotations

import socket

import paramiko
import pytest

from pytest_fabricplus import HostSpec, Settings
from pytest_fabricplus.errors import ConfigError
from pytest_fabricplus.ssh import connector as connector_module
from pytest_fabricplus.ssh.connector import CONNECT_ERRORS, Connector, classify, offered

NAME = "web1 (fptest@10.0.0.1:22)"


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError("timed out"),
        socket.gaierror(-2, "Name or service not known"),
        paramiko.ssh_exception.NoValidConnectionsError({("10.0.0.1", 22): OSError("x")}),
        EOFError(),
        paramiko.SSHException("Error reading SSH protocol banner"),
        paramiko.AuthenticationException("Authentication failed."),
        paramiko.PasswordRequiredException("Private key file is encrypted"),
        ConfigError("bad"),
    ],
    ids=type,
)
def test_host_errors_are_connect_errors(exc: Exception) -> None:
    assert isinstance(exc, CONNECT_ERRORS)


@pytest.mark.parametrize(
    "exc", [TypeError("x"), AttributeError("x"), KeyError("x"), ValueError("x")], ids=type
)
def test_bugs_are_not_connect_errors(exc: Exception) -> None:
    assert not isinstance(exc, CONNECT_ERRORS)


def test_no_authentication_methods_is_auth_with_the_fix() -> None:
    err = classify(
        NAME,
        "[10.0.0.1]:22",
        paramiko.SSHException("No authentication methods available"),
        Settings(),
        offered="no identity file, no ssh-agent (SSH_AUTH_SOCK is not set), no password",
    )
    assert err.cause == "auth"
    text = str(err)
    assert text.startswith(f"cannot connect to {NAME}: no key, ssh-agent key or password")
    for hint in ("no identity file", "--ssh-identity-file", "IdentityFile", "ssh-add"):
        assert hint in text
    assert "--ssh-password-env" in text


def test_unreadable_local_file_is_config_naming_it() -> None:
    exc = PermissionError(13, "Permission denied", "/home/me/.ssh/id_ed25519")
    err = classify(NAME, "[10.0.0.1]:22", exc, Settings())
    assert (err.cause, err.detail) == (
        "config",
        "cannot read /home/me/.ssh/id_ed25519: Permission denied",
    )


def test_network_oserror_stays_unreachable() -> None:
    err = classify(NAME, "[10.0.0.1]:22", OSError(113, "No route to host"), Settings())
    assert (err.cause, err.detail) == ("unreachable", "No route to host")


def test_offered_names_keys_agent_and_password_but_no_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = Connector(Settings(), env={"PW": "s3cret-value"}).build(
        HostSpec("10.0.0.1", 22, id="a", password_env="PW")
    )
    conn.connect_kwargs["key_filename"] = ["/keys/a", "/keys/b"]
    monkeypatch.setenv("SSH_AUTH_SOCK", "/tmp/agent.sock")
    text = offered(conn)
    assert text == (
        "identity files /keys/a, /keys/b, no usable ssh-agent key (SSH_AUTH_SOCK is set), "
        "a password"
    )
    assert "s3cret" not in text


def test_open_lets_a_bug_propagate_and_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A TypeError from our own code while opening is raised as it is (no HostUnreachable)."""

    def buggy(*args: object, **kwargs: object) -> None:
        raise TypeError("simulated bug")

    monkeypatch.setattr(connector_module, "tcp_connect", buggy)
    closed: list[object] = []
    monkeypatch.setattr(connector_module, "close_quietly", lambda c, s: closed.append(c))
    connector = Connector(Settings(), env={})
    with pytest.raises(TypeError, match="simulated bug"):
        connector.open(HostSpec("10.0.0.1", 22, id="a"))
    assert len(closed) == 1
