"""InterruptGuard: SIGINT/SIGTERM start the stop in a thread, then KeyboardInterrupt; the
previous handlers come back; an ignored signal stays ignored. Real signals to this process."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from pytest_fabricplus.errors import RunInterrupted
from pytest_fabricplus.fleet.interrupt import STOP_BOUND, InterruptGuard
from pytest_fabricplus.fleet.pool import map_in_steps
from pytest_fabricplus.ssh.connector import InFlight

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers are set from the main thread only",
)


@pytest.fixture
def handlers() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def deliver(signum: int) -> None:
    """Send ``signum`` to this process and give the main thread a bytecode boundary."""
    os.kill(os.getpid(), signum)
    for _ in range(100):
        time.sleep(0.01)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_starts_the_stop_then_raises_keyboard_interrupt(handlers: None, signum: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    stopped: list[tuple[int, str]] = []
    guard = InterruptGuard(lambda s: stopped.append((s, threading.current_thread().name)))
    guard.install()
    with pytest.raises(KeyboardInterrupt):
        deliver(signum)
    guard.wait()
    assert stopped == [(signum, "fabricplus-interrupt")]
    guard.uninstall()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) == signal.default_int_handler


def test_a_second_signal_during_the_stop_is_ignored(handlers: None) -> None:
    calls: list[int] = []
    guard = InterruptGuard(calls.append)
    guard.install()
    with pytest.raises(KeyboardInterrupt):
        deliver(signal.SIGINT)
    deliver(signal.SIGTERM)  # within STOP_BOUND: no second KeyboardInterrupt
    guard.uninstall()
    assert calls == [signal.SIGINT]
    assert STOP_BOUND <= 10


def test_an_ignored_signal_stays_ignored_and_others_handlers_are_kept(handlers: None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    guard = InterruptGuard(lambda s: None)
    guard.install()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) != signal.default_int_handler  # ours

    def later(signum: int, frame: object) -> None:
        pass

    signal.signal(signal.SIGINT, later)  # set by someone else after us: theirs stays
    guard.uninstall()
    assert signal.getsignal(signal.SIGINT) is later
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN


def test_the_previous_sigint_handler_is_called(handlers: None) -> None:
    seen: list[int] = []

    def previous(signum: int, frame: object) -> None:
        seen.append(signum)

    signal.signal(signal.SIGINT, previous)
    guard = InterruptGuard(lambda s: None)
    guard.install()
    with pytest.raises(KeyboardInterrupt):  # raised even though the previous one returned
        deliver(signal.SIGINT)
    guard.uninstall()
    assert seen == [signal.SIGINT]
    assert signal.getsignal(signal.SIGINT) is previous


def test_install_outside_the_main_thread_does_nothing(handlers: None) -> None:
    guard = InterruptGuard(lambda s: None)
    thread = threading.Thread(target=guard.install)
    thread.start()
    thread.join()
    assert not guard.installed
    assert signal.getsignal(signal.SIGINT) == signal.default_int_handler


def test_in_flight_abort_wakes_a_blocked_reader_and_refuses_new_sockets() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        client = socket.create_connection(server.getsockname())
        in_flight = InFlight()
        in_flight.add("h", client)
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(client.recv(10)))
        reader.start()
        in_flight.abort()
        reader.join(5)
        assert not reader.is_alive()
        assert got == [b""]
        client.close()
        with socket.socket() as late, pytest.raises(RunInterrupted, match="connecting on h"):
            in_flight.add("h", late)


def test_map_in_steps_keeps_order_and_wakes_for_signals(handlers: None) -> None:
    from concurrent.futures import ThreadPoolExecutor

    release = threading.Event()
    guard = InterruptGuard(lambda s: release.set())
    guard.install()
    with ThreadPoolExecutor(2) as ex:
        assert map_in_steps(ex, lambda x: x * 2, [3, 1, 2]) == [6, 2, 4]
        # a worker blocked until the stop: the signal (to any thread) still interrupts
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
        with pytest.raises(KeyboardInterrupt):
            map_in_steps(ex, lambda x: release.wait(30), [1])
    guard.uninstall()
