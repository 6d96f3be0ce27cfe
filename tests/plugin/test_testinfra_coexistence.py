"""pytest-testinfra installed beside us: its plugin works as without us unless the testinfra
drop-in (``-p pytest_fabricplus.testinfra_dropin``) is asked for; then its plugin is blocked,
the header says so, and its spellings are ours."""

from __future__ import annotations

import re

import pytest

DROPIN = ("-p", "pytest_fabricplus.testinfra_dropin")
#: a testinfra test: its ``host`` fixture, the local machine
LOCAL_TEST = """
def test_local(host):
    assert host.run("true").rc == 0
    assert host.backend.NAME == "local"
"""


def _plugin_line(result: pytest.RunResult, name: str) -> str:
    """The ``--trace-config`` line of a plugin: where it was loaded from, or ``None``."""
    lines = {
        " ".join(line.split())
        for line in result.stdout.lines
        if line.strip().startswith(name + " ") and ":" in line
    }
    assert len(lines) == 1, lines
    return lines.pop()


@pytest.mark.usefixtures("no_dropin")
def test_default_testinfras_plugin_is_loaded_and_owns_its_flags(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LOCAL_TEST)
    result = pytester.runpytest("--trace-config", "--hosts=local://", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert _plugin_line(result, "pytest11.testinfra").endswith("testinfra/plugin.py")
    assert not any("drop-in" in line for line in result.stdout.lines)
    help_text = pytester.runpytest("--help").stdout.str()
    assert "  --hosts=HOSTS         Hosts list (comma separated)" in help_text
    assert "  --fabricplus-hosts=INVENTORY|HOSTS\n" in help_text  # no alias: --hosts is theirs


@pytest.mark.usefixtures("no_dropin")
def test_default_testinfras_outcome_is_the_same_without_us(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        LOCAL_TEST + "\ndef test_hosts(request):\n    print(request.config.option.hosts)\n"
    )
    args = ("--hosts=local://", "-p", "no:cacheprovider", "-q")
    ours = pytester.runpytest(*args)
    theirs = pytester.runpytest(*args, "-p", "no:fabricplus")
    ours.assert_outcomes(passed=2)
    theirs.assert_outcomes(passed=2)


@pytest.mark.usefixtures("no_dropin")
def test_default_our_canonical_spelling_still_works(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(connection): pass")
    result = pytester.runpytest("--fabricplus-hosts=h1", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_a?h1?"])


@pytest.mark.usefixtures("no_dropin")
def test_dropin_blocks_testinfra_says_so_and_takes_its_flags(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a(connection): pass")
    result = pytester.runpytest(*DROPIN, "--trace-config", "--hosts=h1", "--collect-only")
    result.stdout.fnmatch_lines(["*test_a?h1?*"])
    assert _plugin_line(result, "pytest11.testinfra").endswith(": None")
    result.stdout.fnmatch_lines(
        [
            "fabricplus: testinfra drop-in (-p pytest_fabricplus.testinfra_dropin): "
            "pytest-testinfra's plugin is blocked; host fixture and --hosts, --connection, *"
        ]
    )
    help_text = pytester.runpytest(*DROPIN, "--help").stdout.str()
    # Python 3.13's argparse names the metavar once, after the last spelling
    spellings = r"  --fabricplus-hosts(=INVENTORY\|HOSTS)?, --hosts=INVENTORY\|HOSTS"
    assert re.search(spellings, help_text), help_text
    assert "Hosts list (comma separated)" not in help_text


def test_dropin_host_fixture_is_ours(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LOCAL_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "--fixtures")
    result.stdout.fnmatch_lines(
        ["host [[]module scope[]] -- *pytest_fabricplus/plugin/testinfra.py*"]
    )


def test_dropin_off_with_no(pytester: pytest.Pytester) -> None:
    """The suite's runs load the drop-in through PYTEST_ADDOPTS; ``-p no:`` takes it away."""
    pytester.makepyfile(LOCAL_TEST)
    result = pytester.runpytest(
        "-p", "no:pytest_fabricplus.testinfra_dropin", "--trace-config", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1)
    assert _plugin_line(result, "pytest11.testinfra").endswith("testinfra/plugin.py")


def test_dropin_is_inert_when_we_are_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LOCAL_TEST)
    result = pytester.runpytest("-p", "no:fabricplus", "--trace-config", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert _plugin_line(result, "pytest11.testinfra").endswith("testinfra/plugin.py")


@pytest.mark.usefixtures("no_dropin")
def test_dropin_from_a_conftest_after_testinfra_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["pytest_fabricplus.testinfra_dropin"]')
    pytester.makepyfile(LOCAL_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*the testinfra drop-in was loaded after pytest-testinfra's plugin (pytest11.testinfra)*"]
    )


def test_testinfra_library_stays_importable(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import testinfra
        def test_local():
            assert testinfra.get_host("local://").run("true").rc == 0
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
