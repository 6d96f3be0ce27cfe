"""The wait for an exec request's reply (``ssh/channel.py``): bounded, and over at once for
a channel that closed before the request went out (pure logic, stand-in objects)."""

from __future__ import annotations

import threading
import time

import paramiko
import pytest

from pytest_fabricplus.ssh.channel import Unanswered, exec_reply


class _Transport:
    def __init__(self, active: bool = True) -> None:
        self.active = active

    def is_active(self) -> bool:
        return self.active

    def get_exception(self) -> Exception | None:
        return None


class _Channel:
    """What ``_wait_reply`` reads of a paramiko ``Channel``."""

    def __init__(self, transport: _Transport, closed: bool = False) -> None:
        self.event = threading.Event()
        self.event_ready = False
        self.closed = closed
        self.transport = transport

    def get_transport(self) -> _Transport:
        return self.transport


def test_a_channel_closed_before_the_request_fails_not_at_the_deadline() -> None:
    # the close set the event, the request cleared it (paramiko's _event_pending), and a
    # dead transport drops the request silently: no reply will ever come (without a
    # deadline the wait would never end; with one it would say "unanswered")
    channel = _Channel(_Transport(), closed=True)
    with pytest.raises(paramiko.SSHException, match="Channel closed"):
        exec_reply(channel, time.monotonic() + 3)


def test_a_dead_transport_fails_not_at_the_deadline() -> None:
    with pytest.raises(paramiko.SSHException, match="Channel closed"):
        exec_reply(_Channel(_Transport(active=False)), time.monotonic() + 3)


def test_no_reply_until_the_deadline_is_unanswered() -> None:
    channel = _Channel(_Transport())
    with pytest.raises(Unanswered, match="the exec request"):
        exec_reply(channel, time.monotonic() + 0.1)


def test_a_reply_returns() -> None:
    channel = _Channel(_Transport())
    channel.event_ready = True
    threading.Timer(0.05, channel.event.set).start()
    exec_reply(channel, time.monotonic() + 5)
