"""A host that goes silent (powered off, a cut link: no RST) ends its command within a bound.

A TCP relay the test controls sits between us and a real sshd; after the first command it
is frozen: it stops forwarding both ways and keeps both sockets open, as a dead host behind
a live network path looks. The next command must end with ``ConnectionLost`` naming the
host -- through keepalives (ServerAliveInterval/ServerAliveCountMax from ``--ssh-config``),
or by default through the command timeout -- on every path a command takes.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_fabricplus import Connector, HostSpec, Settings
from pytest_fabricplus.errors import CommandTimeout, ConnectionLost
from pytest_fabricplus.ssh import channel
from pytest_fabricplus.ssh.connection import FabricPlusConnection
from testing.sshd import OTHER_USER
from testing.targets import PASSWORD_ENV, Target


class Relay:
    """127.0.0.1:port -> target, in threads; :meth:`freeze` stops all forwarding."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.frozen = threading.Event()
        self.stopped = threading.Event()
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            ready, _, _ = select.select([self.listener], [], [], 0.1)
            if not ready:
                continue
            client, _ = self.listener.accept()
            server = socket.create_connection(self.target, timeout=5)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                thread = threading.Thread(target=self._pump, args=(a, b), daemon=True)
                self.threads.append(thread)
                thread.start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        while not self.stopped.is_set():
            if self.frozen.is_set():
                time.sleep(0.05)  # read nothing, write nothing, close nothing
                continue
            ready, _, _ = select.select([source], [], [], 0.05)
            if not ready or self.frozen.is_set():
                continue
            try:
                data = source.recv(65536)
                if not data:
                    return
                sink.sendall(data)
            except OSError:
                return

    def freeze(self) -> None:
        self.frozen.set()

    def close(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(timeout=5)
        for sock in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                sock.close()


@pytest.fixture
def relay(sshd: Target) -> Iterator[Relay]:
    relay = Relay(sshd.port)
    try:
        yield relay
    finally:
        relay.close()


def relay_known_hosts(sshd: Target, relay: Relay, tmp_path: Path) -> Path:
    _, kind, key = sshd.server.known_hosts_line.split()
    path = tmp_path / "known_hosts"
    path.write_text(f"[127.0.0.1]:{relay.port} {kind} {key}\n")
    return path


def open_through(
    relay: Relay, sshd: Target, tmp_path: Path, config: str | None = None, **settings: Any
) -> FabricPlusConnection:
    ssh_config = None
    if config is not None:
        ssh_config = tmp_path / "ssh_config"
        ssh_config.write_text(f"Host *\n{config}")
    connector = Connector(
        Settings(
            known_hosts=str(relay_known_hosts(sshd, relay, tmp_path)),
            ssh_identity_file=str(sshd.user.key_path),
            ssh_config=str(ssh_config) if ssh_config else None,
            **settings,
        )
    )
    spec = HostSpec("127.0.0.1", relay.port, sshd.user.name, id="frozen")
    return connector.open(spec)


def next_command(conn: FabricPlusConnection, path: str) -> Any:
    if path == "sudo":  # su/sudo's exchange: invoke's runner with a watcher, a pty or not
        with conn.as_user(OTHER_USER, method="sudo"):
            return conn.run("sleep 30", hide=True)
    if path == "put":
        return conn.put(__file__, f"/tmp/fptest-silent-{os.getpid()}.py")
    if path == "invoke":  # env=: invoke's runner (FastRemote / KillingRemote)
        return conn.run("sleep 30", env={"FPTEST": "1"}, hide=True)
    return conn.run("sleep 30", hide=True)


PATHS = [
    ("exec", "1", "exec"),
    ("exec", "1", "invoke"),
    ("exec", "1", "put"),
    ("exec", "1", "sudo"),
    ("persistent", "1", "exec"),
    # the switch off: no spare channel, so the freeze comes before the channel open
    ("exec", "0", "exec"),
    ("exec", "0", "invoke"),
]
IDS = [f"{shell}-fast{fast}-{path}" for shell, fast, path in PATHS]


@pytest.mark.parametrize(("shell", "fast", "path"), PATHS, ids=IDS)
def test_keepalives_declare_a_frozen_link_lost(
    relay: Relay,
    sshd: Target,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shell: str,
    fast: str,
    path: str,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.setenv(channel.FAST_PATH_ENV, fast)
    if path == "sudo":
        request.getfixturevalue("sudoers")
        request.getfixturevalue("login_password")
    conn = open_through(
        relay,
        sshd,
        tmp_path,
        "  ServerAliveInterval 1\n  ServerAliveCountMax 2\n",
        command_timeout=120.0,  # far away: only the keepalives can end it in time
        remote_shell=shell,
        sudo_password_env=PASSWORD_ENV,
    )
    try:
        assert conn.run("echo up", hide=True).stdout == "up\n"
        relay.freeze()
        start = time.monotonic()
        with pytest.raises(ConnectionLost) as lost:
            next_command(conn, path)
        elapsed = time.monotonic() - start
    finally:
        conn.close()
    message = str(lost.value)
    assert f"connection to frozen (fptest@127.0.0.1:{relay.port}) was lost" in message
    assert "no answer to 2 keepalives" in message
    assert "ServerAliveInterval 1, ServerAliveCountMax 2" in message
    assert elapsed < 30, elapsed  # (2 + 1) x 1 s, plus paramiko's idle poll; not 120 s


@pytest.mark.parametrize(("shell", "fast", "path"), PATHS, ids=IDS)
def test_without_config_the_command_timeout_bounds_a_frozen_link(
    relay: Relay,
    sshd: Target,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shell: str,
    fast: str,
    path: str,
    request: pytest.FixtureRequest,
) -> None:
    monkeypatch.setenv(channel.FAST_PATH_ENV, fast)
    if path == "sudo":
        request.getfixturevalue("sudoers")
        request.getfixturevalue("login_password")
    conn = open_through(
        relay,
        sshd,
        tmp_path,
        command_timeout=3.0,
        remote_shell=shell,
        sudo_password_env=PASSWORD_ENV,
    )
    try:
        assert conn.run("echo up", hide=True).stdout == "up\n"
        relay.freeze()
        start = time.monotonic()
        with pytest.raises(ConnectionLost) as lost:
            next_command(conn, path)
        elapsed = time.monotonic() - start
        assert not conn.is_connected  # closed: the next command reconnects, not waits again
    finally:
        conn.close()
    message = str(lost.value)
    assert f"connection to frozen (fptest@127.0.0.1:{relay.port}) was lost" in message
    assert "within 3s (--command-timeout), nor to a keepalive within 3s" in message
    # 3 s command timeout + 3 s keepalive probe (+ the shell's start/checks); not 60 s of
    # default keepalives, not paramiko's hour
    assert elapsed < 25, elapsed


def test_a_live_host_past_the_deadline_is_still_a_command_timeout(
    relay: Relay, sshd: Target, tmp_path: Path
) -> None:
    conn = open_through(relay, sshd, tmp_path, command_timeout=1.0)
    try:
        with pytest.raises(CommandTimeout):
            conn.run("sleep 30", hide=True)
        # the deadline asked the host once (a keepalive, answered): alive, so not lost
        live = channel.liveness(conn.transport)
        assert live is not None
        assert (live.replies, live.outstanding) == (1, 0)
        assert conn.run("echo still", hide=True).stdout == "still\n"  # not closed
    finally:
        conn.close()


def test_keepalive_is_on_by_default_and_the_ssh_config_wins(
    relay: Relay, sshd: Target, tmp_path: Path
) -> None:
    for config, expected in (
        ("  ServerAliveInterval 0\n", (0, 3)),  # off, as in ssh
        ("  ServerAliveCountMax 5\n", (15, 5)),
        ("  ServerAliveInterval 7\n", (7, 3)),
    ):
        conn = open_through(relay, sshd, tmp_path, config)
        try:
            live = channel.liveness(conn.transport)
            assert live is not None
            assert (live.interval, live.count_max) == expected, config
        finally:
            conn.close()
    conn = open_through(relay, sshd, tmp_path)  # no ssh config: ours
    try:
        live = channel.liveness(conn.transport)
        assert live is not None
        assert (live.interval, live.count_max) == (15, 3)
        packetizer: Any = conn.transport.packetizer  # type: ignore[union-attr]
        assert packetizer._Packetizer__keepalive_interval == 15
        # a keepalive is answered, and the answer is ours: not handed to paramiko
        assert live.probe(5.0)
        assert live.outstanding == 0
        relay.freeze()
        assert not live.probe(1.0)
    finally:
        conn.close()
