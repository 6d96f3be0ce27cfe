"""SIGINT/SIGTERM handlers: installed only for a run that uses hosts, the previous ones back
at the end (the interruption itself: tests/integration/test_interrupt.py)."""

from __future__ import annotations

import signal

import pytest

from testing.targets import Target

NO_HOSTS = """
import signal

def test_untouched():
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
"""

WITH_HOSTS = """
import signal

def test_ours(connection):
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        assert type(getattr(handler, "__self__", None)).__name__ == "InterruptGuard", handler
"""


def test_a_run_without_hosts_keeps_the_handlers(pytester: pytest.Pytester) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    pytester.makepyfile(NO_HOSTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_a_run_with_hosts_restores_the_previous_handlers(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    pytester.makepyfile(WITH_HOSTS)
    result = pytester.runpytest(*sshd.args())
    result.assert_outcomes(passed=1)
    assert {s: signal.getsignal(s) for s in before} == before
