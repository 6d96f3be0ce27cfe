"""A channel message sent after paramiko answered the peer's CLOSE ends the whole connection:
OpenSSH disconnects on a message for a channel it has freed ("ieof packet referred to
nonexistent channel", a CI failure). Many commands that end at once, run from several threads
on one connection while busy processes take the CPUs, make that window wide (without the fix,
this failed 3 runs out of 3 here); the connection must survive them all."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from pytest_fabricplus import ConnectionRegistry, Connector, Settings, resolve_hosts
from pytest_fabricplus.ssh.channel import send_eof, send_signal
from testing.targets import Target

THREADS = 8
COMMANDS = 100  # per thread


#: each busy process ends by itself after this long, should the fixture's kill be missed
BUSY_SECONDS = 60


@pytest.fixture
def busy_cpus() -> Iterator[None]:
    """More busy processes than CPUs, and a tiny thread switch interval: our threads get
    descheduled between any two steps, as on a loaded CI machine."""
    spin = (
        f"import time\nend = time.monotonic() + {BUSY_SECONDS}\nwhile time.monotonic() < end: pass"
    )
    busy = [
        subprocess.Popen([sys.executable, "-c", spin]) for _ in range((os.cpu_count() or 1) * 2)
    ]
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)
        for proc in busy:
            proc.kill()
        for proc in busy:
            proc.wait(timeout=10)


def _registry(target: Target) -> ConnectionRegistry:
    settings = Settings(
        known_hosts=str(target.known_hosts), ssh_identity_file=str(target.user.key_path)
    )
    return ConnectionRegistry(Connector(settings))


def test_quick_commands_from_many_threads_keep_the_connection(
    sshd: Target, busy_cpus: None
) -> None:
    (spec,) = resolve_hosts(sshd.address)
    registry = _registry(sshd)
    try:
        conn = registry.get(spec)
        transport = conn.client.get_transport()

        def burst(_: int) -> int:
            return sum(conn.run("true", hide=True, warn=True).ok for _ in range(COMMANDS))

        with ThreadPoolExecutor(THREADS) as pool:
            done = sum(pool.map(burst, range(THREADS)))
        assert done == THREADS * COMMANDS
        assert transport is conn.client.get_transport()
        assert transport.is_active()
        assert registry.opened_count == 1  # never reopened after a lost connection
    finally:
        registry.close_all()


def test_nothing_is_sent_on_a_closed_channel(sshd: Target) -> None:
    (spec,) = resolve_hosts(sshd.address)
    registry = _registry(sshd)
    try:
        conn = registry.get(spec)
        transport = conn.client.get_transport()
        channel = transport.open_session()
        channel.exec_command("true")
        assert channel.recv_exit_status() == 0
        closed = threading.Event()
        for _ in range(100):  # bounded: the CLOSE exchange follows the exit status at once
            if channel.closed:
                closed.set()
                break
            closed.wait(0.05)
        assert channel.closed
        assert send_eof(channel) is False
        send_signal(channel, "KILL")  # ignored, not sent
        assert conn.run("echo still", hide=True).stdout == "still\n"
        assert transport.is_active()
    finally:
        registry.close_all()
