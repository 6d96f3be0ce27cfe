"""The core without pytest's plugin: Connector and ConnectionRegistry against a real sshd."""

from __future__ import annotations

import time

import pytest
from invoke.exceptions import UnexpectedExit

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
from pytest_fabricplus.ssh.channel import FastRemote
from testing.sshd import free_port
from testing.targets import Target


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
    connector = Connector(settings_for(sshd))
    opened: list[HostSpec] = []
    real_open = connector.open

    def counting_open(spec: HostSpec, jump: object = None) -> object:
        opened.append(spec)
        return real_open(spec, jump)  # type: ignore[arg-type]

    connector.open = counting_open  # type: ignore[method-assign,assignment]
    registry = ConnectionRegistry(connector)
    with pytest.raises(HostUnreachable) as first:
        registry.get(spec)
    assert first.value.cause == "refused"
    assert opened == [spec]
    with pytest.raises(HostUnreachable) as second:
        registry.get(spec)
    assert opened == [spec]  # the second request re-raised the cause without connecting
    assert str(second.value) == str(first.value)
    assert second.value.cause == first.value.cause


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
        # killed, not waited out: waited out, the run would return after 411 s, no error
        with pytest.raises(CommandTimeout, match=r"'sleep 411' on 127.0.0.1 .* within 0.5s"):
            conn.run("sleep 411")
        ps = conn.run("pgrep -f 'slee[p] 411' || true", hide=True).stdout
        assert ps.strip() == ""
        assert conn.run("echo still usable", hide=True).stdout == "still usable\n"
    finally:
        conn.close()


def test_an_idle_connection_polls_once_a_second_reads_in_gulps_and_still_closes_at_once(
    sshd: Target,
) -> None:
    from pytest_fabricplus.ssh.channel import IDLE_POLL, GulpReads

    (spec,) = resolve_hosts(sshd.address)
    conn = Connector(settings_for(sshd)).open(spec)
    transport = conn.transport
    assert transport is not None
    # paramiko's 0.1 s poll woke every idle transport thread ten times a second
    assert transport.sock.gettimeout() == IDLE_POLL
    assert conn.run("echo busy", hide=True).stdout == "busy\n"
    # its reads go through GulpReads: a key re-exchange and 3 MB of output still arrive whole
    assert isinstance(transport.packetizer._Packetizer__socket, GulpReads)
    transport.renegotiate_keys()
    big = conn.run("head -c 3000000 /dev/zero | tr '\\0' x; echo; echo end >&2", hide=True)
    assert (len(big.stdout), big.stderr) == (3000001, "end\n")
    conn.close()
    # (how quickly close() returns is bench/'s business: tests hold no clock)
    transport.join(IDLE_POLL + 2)
    assert not transport.is_alive()


def test_timeouts_on_the_public_api_path_are_timeouts_every_time(
    sshd: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    # invoke decides "timed out" by its timer thread having finished; the kill that thread
    # runs ends the command first, so without our own flag a timeout could come out as an
    # UnexpectedExit with exit -1 (seen in CI, about one run in a few dozen).
    monkeypatch.setenv("FABRICPLUS_FAST_PATH", "0")
    (spec,) = resolve_hosts(sshd.address)
    conn = Connector(settings_for(sshd)).open(spec)
    try:
        for n in range(12):
            with pytest.raises(CommandTimeout, match=rf"'sleep 41{n}'"):
                conn.run(f"sleep 41{n}", timeout=0.2)
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
    assert "within 0.5s" in str(info.value)
    # about not hanging: Fabric alone would have turned 0.5 into int 0 = no timeout, ended
    # only by paramiko's 15 s banner timeout (so this bound is below NOT_HANGING)
    assert elapsed < 10, elapsed


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


def test_direct_run_matches_invokes_runner(
    sshd: Target, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """``run()``'s direct channel path gives what invoke's runner gives: output, exit code,
    streamed (unhidden) output, errors, ``cd``, timeouts. ``pty=False`` forces the runner."""
    (spec,) = resolve_hosts(sshd.address)
    conn = Connector(settings_for(sshd)).open(spec)
    runner_starts: list[str] = []
    original = FastRemote.start

    def counting_start(self: FastRemote, command: str, shell: str, env: object) -> None:
        runner_starts.append(command)
        original(self, command, shell, env)

    monkeypatch.setattr(FastRemote, "start", counting_start)
    try:
        for command in (
            "printf 'a\\nb\\n'; echo err >&2; exit 3",
            "head -c 3000000 /dev/zero | tr '\\0' x; head -c 2500000 /dev/zero | tr '\\0' y >&2",
            "echo $HOME; pwd",
        ):
            direct = conn.run(command, hide=True, warn=True)
            assert runner_starts == []
            full = conn.run(command, hide=True, warn=True, pty=False)
            assert len(runner_starts) == 1
            runner_starts.clear()
            assert (direct.stdout, direct.stderr, direct.exited, direct.hide) == (
                full.stdout,
                full.stderr,
                full.exited,
                full.hide,
            )
        # a 2-byte character split over two writes (two SSH packets) stays one character
        split = "printf '\\303'; sleep 0.2; printf '\\251\\n'"
        assert conn.run(split, hide=True).stdout == "\u00e9\n"
        capfd.readouterr()
        conn.run("echo shown-out; echo shown-err >&2")  # not hidden: streamed as invoke does
        conn.run("echo only-err >&2; echo no-out", hide="out")
        conn.run(split, hide="err")
        shown = capfd.readouterr()
        assert shown.out == "shown-out\n\u00e9\n"
        assert shown.err == "shown-err\nonly-err\n"
        with conn.cd("/tmp"):
            assert conn.run("pwd", hide=True).stdout == "/tmp\n"
        with pytest.raises(UnexpectedExit) as failed:
            conn.run("echo why >&2; exit 4", hide=True)
        assert failed.value.result.exited == 4
        assert "Exit code: 4" in str(failed.value)
        assert "why" in str(failed.value)
        with pytest.raises(ValueError, match="'hide' got"):
            conn.run("true", hide="sideways")
        with pytest.raises(CommandTimeout, match="'sleep 412'"):  # not 412 s waited out
            conn.run("sleep 412", timeout=0.5)
        assert conn.run("pgrep -f 'slee[p] 412' || true", hide=True).stdout == ""
        assert runner_starts == []
    finally:
        conn.close()
