"""``Hub``: bodies in greenlets of one thread, parked where they wait, resumed when woken."""

from __future__ import annotations

import io
import sys
import threading
import time
from typing import Any

import greenlet
import pytest

from pytest_fabricplus.fleet.capture import ThreadCapture
from pytest_fabricplus.ssh.cooperative import Hub, current_hub
from testing.hubs import run_hub


def test_bodies_park_and_resume_in_the_order_they_are_woken(hub_executor: Any) -> None:
    hub = Hub(lambda: hub_executor, ThreadCapture())
    events: list[str] = []
    flags = {name: threading.Event() for name in "abc"}
    threads: list[threading.Thread] = []

    def body(name: str, delay: float) -> None:
        events.append(f"start {name}")
        assert current_hub() is hub
        waker = hub.waker()  # set from another thread, as a channel's data would be
        threads.append(threading.Timer(delay, lambda: (flags[name].set(), waker.set())))
        threads[-1].start()
        hub.park(flags[name].is_set)
        events.append(f"end {name}")

    main = threading.get_ident()
    for name, delay in (("a", 0.3), ("b", 0.1), ("c", 0.2)):
        hub.spawn(lambda name=name, delay=delay: body(name, delay))
    # every body ran up to its park, in this thread, before any had ended
    assert events == ["start a", "start b", "start c"]
    assert hub.running == 3
    run_hub(hub, limit=5.0)
    assert events[3:] == ["end b", "end c", "end a"]
    assert threading.get_ident() == main
    assert current_hub() is None  # outside the bodies
    for thread in threads:
        thread.join()


def test_a_parked_body_goes_on_at_its_deadline(hub_executor: Any) -> None:
    hub = Hub(lambda: hub_executor, ThreadCapture())
    waited: list[float] = []

    def body() -> None:
        start = time.monotonic()
        hub.park(lambda: False, deadline=start + 0.3)  # nothing ever wakes it
        waited.append(time.monotonic() - start)

    hub.spawn(body)
    run_hub(hub, limit=5.0)
    assert 0.3 <= waited[0] < 2.0


def test_offload_runs_in_a_thread_while_the_others_go_on_and_keeps_the_body_output(
    hub_executor: Any,
) -> None:
    capture = ThreadCapture()
    hub = Hub(lambda: hub_executor, capture)
    release = threading.Event()
    seen: dict[str, Any] = {}

    def blocking() -> str:
        seen["thread"] = threading.get_ident()
        print("written by the offloaded call")
        assert release.wait(5)  # only the other body can set it
        return "done"

    def first() -> None:
        with capture.thread() as captured:
            seen["first"] = captured
            seen["result"] = hub.offload(blocking)

    def second() -> None:
        with capture.thread() as captured:
            seen["second"] = captured
            print("second body")
            release.set()

    out = io.StringIO()
    saved = sys.stdout
    sys.stdout = out
    try:
        with capture.active():
            hub.spawn(first)
            hub.spawn(second)  # runs while the first one's call blocks in its thread
            run_hub(hub, limit=5.0)
    finally:
        sys.stdout = saved
    assert seen["result"] == "done"
    assert seen["thread"] != threading.get_ident()
    assert seen["first"].stdout.getvalue() == "written by the offloaded call\n"
    assert seen["second"].stdout.getvalue() == "second body\n"
    assert out.getvalue() == ""  # nothing leaked to the real stream


def test_an_offloaded_error_is_raised_in_its_body(hub_executor: Any) -> None:
    hub = Hub(lambda: hub_executor, ThreadCapture())
    caught: list[BaseException] = []

    def body() -> None:
        try:
            hub.offload(lambda: 1 / 0)
        except ZeroDivisionError as exc:
            caught.append(exc)

    hub.spawn(body)
    run_hub(hub, limit=5.0)
    assert isinstance(caught[0], ZeroDivisionError)


def test_keyboard_interrupt_in_a_body_reaches_the_hub_and_abandon_ends_the_others(
    hub_executor: Any,
) -> None:
    hub = Hub(lambda: hub_executor, ThreadCapture())
    cleaned: list[str] = []
    go = threading.Event()

    def parked() -> None:
        try:
            hub.park(go.is_set)
        except greenlet.GreenletExit:
            cleaned.append("parked body ended")
            raise

    def interrupted() -> None:
        raise KeyboardInterrupt

    hub.spawn(parked)
    with pytest.raises(KeyboardInterrupt):
        hub.spawn(interrupted)
    hub.abandon()
    assert cleaned == ["parked body ended"]
    assert not hub.busy


def test_park_is_for_the_hubs_bodies_only(hub_executor: Any) -> None:
    hub = Hub(lambda: hub_executor, ThreadCapture())
    with pytest.raises(RuntimeError, match="bodies only"):
        hub.park(lambda: True)
    other = Hub(lambda: hub_executor, ThreadCapture())
    errors: list[BaseException] = []

    def body() -> None:
        try:
            other.waker()
        except RuntimeError as exc:
            errors.append(exc)

    hub.spawn(body)
    assert errors, "a body of one hub parked on another"
