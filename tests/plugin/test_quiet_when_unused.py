"""A run that configures nothing of ours (no hosts by option, ini or environment, no Docker
targets, no report or compliance option) looks exactly as without the plugin; a test that
needs a host in such a run errors saying how to pass hosts, it does not pass or skip."""

from __future__ import annotations

import re

import pytest

#: the default mode: no testinfra drop-in (whose header line the user asked for)
pytestmark = pytest.mark.usefixtures("no_dropin")

PLAIN = """
import pytest

def test_passes():
    assert 1

def test_fails():
    assert 0

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
"""


def normalised(result: pytest.RunResult) -> list[str]:
    """Output lines without the plugins line and the timings."""
    lines = [line for line in result.stdout.lines if not line.startswith("plugins:")]
    return [re.sub(r" in [0-9.]+s( \(.*\))? ", " in Xs ", line) for line in lines]


@pytest.mark.parametrize("args", [(), ("-rA", "-v")], ids=["default", "verbose"])
def test_output_is_the_output_without_the_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    for name in ("FABRICPLUS_HOSTS", "FABRICPLUS_DOCKER_TARGETS"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(PLAIN)
    with_us = pytester.runpytest("-p", "no:cacheprovider", *args)
    without = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:fabricplus", *args)
    with_us.assert_outcomes(passed=1, failed=1, skipped=1)
    assert normalised(with_us) == normalised(without)
    assert not any("fabricplus" in line for line in normalised(with_us))


def test_no_compliance_plugin_or_header_in_an_unused_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PLAIN)
    result = pytester.runpytest("-p", "no:cacheprovider", "--trace-config")
    registered = [line for line in result.stdout.lines if "fabricplus-compliance" in line]
    assert registered == []
    assert not any(line.startswith("fabricplus:") for line in result.stdout.lines)


def test_a_compliance_option_alone_makes_the_plugin_speak(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PLAIN)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--trace-config", "--fabricplus-report=r.json"
    )
    assert any("fabricplus-compliance" in line for line in result.stdout.lines)
    result.stdout.fnmatch_lines(["fabricplus: no hosts (pass --hosts)"])


NEEDS_HOSTS = """
def test_conn(connection):
    pass

def test_spec(host_spec):
    pass

def test_pool(host_pool):
    pass

def test_plain():
    pass
"""


def test_a_test_needing_a_host_errors_in_a_run_without_hosts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(NEEDS_HOSTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    reason = "no hosts to test: pass --hosts=INVENTORY_FILE or --hosts=user@host:port*"
    for name in ("conn", "spec", "pool"):
        result.stdout.fnmatch_lines([f"*ERROR at setup of test_{name}*", reason])
    assert sum(1 for line in result.stdout.lines if line.startswith(reason.split("*")[0])) == 3
