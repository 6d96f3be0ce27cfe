"""The core without pytest's plugin: Connector and ConnectionRegistry against a real sshd."""

from __future__ import annotations

import time

import pytest
from invoke.exceptions import UnexpectedExit

from conftest import Target
from pytest_fabricplus import (
    CommandTimeout,
    ConnectionRegistry,
    Connector,
    HostSpec,
    HostUnreachable,
    PrivilegeError,
    Settings,
    resolve_hosts,
)
from tests.support.sshd import free_port


def settings_for(target: Target, **kw: object) -> Settings:
    return Settings(
        known_hosts=str(target.known_hosts),
        ssh_identity_file=str(target.user.key_path),
        **kw,  # type: ignore[arg-type]
    )


def test_script_usage_without_pytest(sshd: Target) -> None:
    (spec,) = resolve_hosts(sshd.address)
    registry = ConnectionRegistry(Connector(settings_for(sshd)))
    try:
        conn = registry.get(spec)
        assert conn.run("id -un", hide=True).stdout == "fptest\n"
        assert registry.get(spec) is conn
        assert registry.opened_count == 1
    finally:
        registry.close_all()
    assert not conn.is_connected


def test_failed_host_is_not_retried(sshd: Target) -> None:
    spec = HostSpec("127.0.0.1", free_port(), "fptest", id="dead")
    registry = ConnectionRegistry(Connector(settings_for(sshd)))
    with pytest.raises(HostUnreachable) as first:
        registry.get(spec)
    assert first.value.cause == "refused"
    start = time.monotonic()
    with pytest.raises(HostUnreachable) as second:
        registry.get(spec)
    assert time.monotonic() - start < 0.05
    assert str(second.value) == str(first.value)


def test_dropped_connection_is_reopened_once(sshd: Target) -> None:
    (spec,) = resolve_hosts(sshd.address)
    registry = ConnectionRegistry(Connector(settings_for(sshd)))
    try:
        conn = registry.get(spec)
        conn.client.get_transport().close()  # the connection drops under us
        again = registry.get(spec)
        assert again is not conn
        assert again.run("true", hide=True).ok
        assert registry.opened_count == 2
    finally:
        registry.close_all()


def test_command_timeout_kills_the_remote_command(sshd: Target) -> None:
    (spec,) = resolve_hosts(sshd.address)
    conn = Connector(settings_for(sshd, command_timeout=0.5)).open(spec)
    try:
        start = time.monotonic()
        with pytest.raises(CommandTimeout, match=r"'sleep 411' on 127.0.0.1 .* within 0.5s"):
            conn.run("sleep 411")
        assert time.monotonic() - start < 1.5
        ps = conn.run("pgrep -f 'slee[p] 411' || true", hide=True).stdout
        assert ps.strip() == ""
        assert conn.run("echo still usable", hide=True).stdout == "still usable\n"
    finally:
        conn.close()


def test_connect_timeout_accepts_fractions(sshd: Target) -> None:
    import socket

    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(1)
        spec = HostSpec("127.0.0.1", hole.getsockname()[1], "fptest", id="hole")
        start = time.monotonic()
        with pytest.raises(HostUnreachable) as info:
            Connector(settings_for(sshd, connect_timeout=0.5)).open(spec)
        elapsed = time.monotonic() - start
    assert info.value.cause == "timeout"
    assert elapsed < 1.5  # Fabric alone would have turned 0.5 into int 0 = wait forever


def test_connection_su_is_the_corrected_one(sshd: Target) -> None:
    """``connection.su()`` keeps fabricplus' signature but quotes, cleans and classifies."""
    (spec,) = resolve_hosts(sshd.address)
    conn = Connector(settings_for(sshd)).open(spec)
    try:
        result = conn.su("echo $HOME `id -un`", "fptest2", password=sshd.other.password)
        assert result.stdout == "/home/fptest2 fptest2\n"  # target's shell, no prompt, no CRLF
        assert conn.su("exit 7", "fptest2", password=sshd.other.password, warn=True).exited == 7
        with pytest.raises(PrivilegeError, match="su authentication failed for fptest2 on"):
            conn.su("true", "fptest2", password="not-the-password")
        assert conn.run("id -un", hide=True).stdout == "fptest\n"  # login user again
    finally:
        conn.close()


def test_run_lean_matches_run(sshd: Target) -> None:
    """host_pool's lean path gives what ``run(hide=True)`` gives, also for large output."""
    (spec,) = resolve_hosts(sshd.address)
    conn = Connector(settings_for(sshd)).open(spec)
    try:
        for command in (
            "printf 'a\\nb\\n'; echo err >&2; exit 3",
            "head -c 3000000 /dev/zero | tr '\\0' x; head -c 2500000 /dev/zero | tr '\\0' y >&2",
            "echo $HOME; pwd",
        ):
            lean = conn.run_lean(command)
            full = conn.run(command, hide=True, warn=True)
            assert (lean.stdout, lean.stderr, lean.exited) == (
                full.stdout,
                full.stderr,
                full.exited,
            )
        with conn.cd("/tmp"):
            assert conn.run_lean("pwd").stdout == "/tmp\n"
        with pytest.raises(UnexpectedExit):
            conn.run_lean("exit 4", warn=False)
        start = time.monotonic()
        with pytest.raises(CommandTimeout, match="'sleep 412'"):
            conn.run_lean("sleep 412", timeout=0.5)
        assert time.monotonic() - start < 1.5
        assert conn.run_lean("pgrep -f 'slee[p] 412' || true").stdout == ""
    finally:
        conn.close()
