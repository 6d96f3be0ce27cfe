"""Runs in a child process that a test interrupts: wait for its sign, never leave it behind."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def wait_for_file(
    path: Path,
    proc: subprocess.Popen[Any],
    output: Callable[[], str],
    what: str = "the slow test never started",
    timeout: float = 120.0,
    poll: float = 0.1,
) -> None:
    """Until ``path`` exists (``timeout`` s at most, a poll each ``poll`` s); fails saying
    ``what``, with the run's ``output``, when the process ended first or the time ran out."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None or time.monotonic() >= deadline:
            assert path.exists(), f"{what}\n{output()}"
        time.sleep(poll)


@contextlib.contextmanager
def reaped(proc: subprocess.Popen[Any]) -> Iterator[subprocess.Popen[Any]]:
    """The process, killed and waited for on the way out if it is still running."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
