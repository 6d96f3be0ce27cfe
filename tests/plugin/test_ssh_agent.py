"""A passphrase-protected key through ssh-agent: a real ``ssh-agent`` and ``ssh-add``.

The run reads no key passphrase; it uses the agent as ``ssh`` does (paramiko's
``allow_agent``, on by default and never turned off by us). A dedicated sshd knows only the
passphrase-protected key of the login user.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.sshd import SshdServer, User

TESTS = """
def test_login(connection):
    assert connection.run("id -un", hide=True).stdout == "fptest\\n"
"""
PASSPHRASE = "agent-only-Passphrase-93"


@pytest.fixture
def protected(tmp_path: Path, ssh_users: tuple[User, User]) -> Iterator[tuple[SshdServer, Path]]:
    """An sshd whose only key for fptest is passphrase-protected, and that key."""
    key = tmp_path / "keys" / "id_protected"
    key.parent.mkdir()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", PASSPHRASE, "-f", str(key)], check=True
    )
    login = ssh_users[0]
    user = User(name=login.name, password=login.password, key_path=key, home=login.home)
    server = SshdServer(tmp_path / "sshd", [user]).start()
    (tmp_path / "known_hosts").write_text(server.known_hosts_line + "\n")
    try:
        yield server, key
    finally:
        server.cleanup()


@pytest.fixture
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real ssh-agent for this test; ``SSH_AUTH_SOCK`` points at it."""
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)  # the agent creates its socket at start-up
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        yield sock
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def ssh_add(key: Path, tmp_path: Path) -> None:
    """``ssh-add KEY``, its passphrase given through SSH_ASKPASS (no terminal here)."""
    askpass = tmp_path / "askpass.sh"
    askpass.write_text(f"#!/bin/sh\necho '{PASSPHRASE}'\n")
    askpass.chmod(0o700)
    env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
    env.setdefault("DISPLAY", ":0")
    subprocess.run(
        ["ssh-add", str(key)], env=env, stdin=subprocess.DEVNULL, check=True, capture_output=True
    )


def args(server: SshdServer, tmp_path: Path, *extra: str) -> list[str]:
    return [
        f"--hosts=fptest@{server.host}:{server.port}",
        f"--known-hosts={tmp_path / 'known_hosts'}",
        "-p",
        "no:cacheprovider",
        *extra,
    ]


@pytest.mark.parametrize("with_identity_file", [False, True], ids=["agent-only", "identity-file"])
def test_passphrase_key_through_ssh_agent(
    pytester: pytest.Pytester,
    protected: tuple[SshdServer, Path],
    agent: Path,
    tmp_path: Path,
    with_identity_file: bool,
) -> None:
    server, key = protected
    ssh_add(key, tmp_path)
    pytester.makepyfile(TESTS)
    extra = [f"--ssh-identity-file={key}"] if with_identity_file else []
    result = pytester.runpytest(*args(server, tmp_path, *extra))
    result.assert_outcomes(passed=1)


def test_passphrase_key_without_agent_says_to_use_one(
    pytester: pytest.Pytester,
    protected: tuple[SshdServer, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, key = protected
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    pytester.makepyfile(TESTS)
    result = pytester.runpytest(*args(server, tmp_path, f"--ssh-identity-file={key}"))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*cannot connect to *: authentication failed: an identity file is "
            f"passphrase-protected (this run had identity files {key}, no ssh-agent "
            "(SSH_AUTH_SOCK is not set), no password); we read no key passphrase: load the "
            "key into ssh-agent (ssh-add KEY) and run with SSH_AUTH_SOCK set"
        ]
    )
    assert PASSPHRASE not in result.stdout.str()
