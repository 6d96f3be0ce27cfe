"""``fleet/capture.py``: what each registered thread writes and logs is its own."""

from __future__ import annotations

import io
import logging
import sys
import threading

import pytest

from pytest_fabricplus.fleet.capture import Captured, ThreadCapture


def test_each_thread_keeps_its_output_and_records(monkeypatch: pytest.MonkeyPatch) -> None:
    outside_out, outside_err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", outside_out)
    monkeypatch.setattr(sys, "stderr", outside_err)
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    keep = Keep(logging.INFO)
    logging.root.addHandler(keep)
    capture = ThreadCapture()
    results: dict[str, Captured] = {}
    barrier = threading.Barrier(3)

    def body(name: str) -> None:
        with capture.thread() as captured:
            barrier.wait(10)  # all three write while the others are registered
            for i in range(50):
                print(f"{name} {i}")
                sys.stderr.write(f"{name} err\n")
                sys.stdout.buffer.write(f"{name} bytes\n".encode())
            logging.getLogger("fleet").warning("record of %s", name)
        results[name] = captured

    try:
        with capture.active():
            threads = [threading.Thread(target=body, args=(n,)) for n in ("a", "b", "c")]
            for t in threads:
                t.start()
            print("main thread")
            logging.getLogger("fleet").warning("record of main")
            for t in threads:
                t.join(30)
        assert sys.stdout is outside_out  # put back
        for name, captured in results.items():
            out = captured.stdout.getvalue().splitlines()
            assert out == [x for i in range(50) for x in (f"{name} {i}", f"{name} bytes")]
            assert captured.stderr.getvalue() == f"{name} err\n" * 50
            assert [r.getMessage() for r in captured.records] == [f"record of {name}"]
        assert outside_out.getvalue() == "main thread\n"
        assert [r.getMessage() for r in seen] == ["record of main"]
        # replayed in this thread: to the current streams and the root handlers, once
        results["b"].replay()
        assert outside_out.getvalue().count("b 49\n") == 1
        assert [r.getMessage() for r in seen] == ["record of main", "record of b"]
    finally:
        logging.root.removeHandler(keep)


def test_handlers_are_restored_after_an_error() -> None:
    before = list(logging.root.handlers)
    out = sys.stdout
    capture = ThreadCapture()
    with pytest.raises(RuntimeError), capture.active():
        raise RuntimeError("boom")
    assert logging.root.handlers == before
    assert sys.stdout is out


def test_a_router_collected_after_its_stream_closed_raises_nothing() -> None:
    """io.IOBase's finaliser closes (and so flushes) a collected router; by then pytest may
    have closed the stream it stood for: nothing may be raised (Python 3.13 reported it as
    an unraisable exception, an error under pytest)."""
    import gc
    import sys
    import tempfile

    from pytest_fabricplus.fleet.capture import ThreadCapture

    seen: list[object] = []
    hook, sys.unraisablehook = sys.unraisablehook, seen.append
    # a real file, as pytest's capture uses (a closed StringIO's flush raises nothing)
    stream = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed by hand below)
    saved = sys.stdout
    try:
        sys.stdout = stream
        with ThreadCapture().active():
            router = sys.stdout  # still referenced after the block (a thread, a traceback)
        stream.close()
        router.close()  # what the finaliser does: it must not flush the closed stream
        del router
        gc.collect()
    finally:
        sys.stdout = saved
        sys.unraisablehook = hook
    assert seen == []
