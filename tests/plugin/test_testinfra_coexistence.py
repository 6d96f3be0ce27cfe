"""pytest-testinfra also registers --hosts: with both installed, pytest-fabricplus takes over."""

from __future__ import annotations

import importlib.util

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("testinfra") is None, reason="pytest-testinfra not installed"
)


def test_both_installed_our_options_win_without_conflict(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["  --hosts=INVENTORY|HOSTS", "*inventory file, or comma list*"])
    result.stderr.no_fnmatch_line("*conflicting option*")


def test_testinfra_plugin_is_blocked_even_when_requested(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(connection): pass")
    result = pytester.runpytest("-p", "testinfra", "--hosts=h1", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_a?h1?"])


def test_testinfra_library_stays_importable(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import testinfra
        def test_local():
            assert testinfra.get_host("local://").run("true").rc == 0
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
