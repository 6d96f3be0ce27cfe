"""Another plugin registers one of our short flags (``--connect-timeout``), before us (``-p``)
or after us (an initial conftest): theirs wins, ours stays reachable as
``--fabricplus-connect-timeout``, one warning names the flag and the plugin, no argparse
conflict."""

from __future__ import annotations

import pytest

FAKE = """
def pytest_addoption(parser):
    parser.getgroup("fake", "a fake plugin").addoption(
        "--connect-timeout", dest="fake_connect_timeout", default="their-default"
    )
"""
#: prints what each owner got, from the inner run's configure
REPORT = """
def pytest_configure(config):
    print("FAKE=%s" % config.getoption("fake_connect_timeout", "no-option"))
    print("OURS=%s" % config.getoption("fabricplus_connect_timeout"))
"""
TEST = "def test_a(connection):\n    pass\n"
WARNING = (
    "*pytest-fabricplus: --connect-timeout is {owner}'s option here: "
    "ours is --fabricplus-connect-timeout*"
)


def _values(result: pytest.RunResult) -> tuple[str, str]:
    words = result.stdout.str().split()
    fake = [w.partition("=")[2] for w in words if w.startswith("FAKE=")]
    ours = [w.partition("=")[2] for w in words if w.startswith("OURS=")]
    assert len(fake) == 1, result.stdout.str()
    assert len(ours) == 1, result.stdout.str()
    return fake[0], ours[0]


def _run(pytester: pytest.Pytester, where: str, *args: str) -> pytest.RunResult:
    if where == "before":  # a -p plugin loads before every entry-point plugin (us)
        pytester.makepyfile(fakeplugin=FAKE)
        pytester.syspathinsert()
        pytester.makeconftest(REPORT)
        args = ("-p", "fakeplugin", *args)
    else:  # an initial conftest registers its options after the entry-point plugins
        pytester.makeconftest(FAKE + REPORT)
    pytester.makepyfile(TEST)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", *args)


@pytest.mark.parametrize("where", ["before", "after"])
def test_their_flag_wins_ours_stays_reachable(pytester: pytest.Pytester, where: str) -> None:
    result = _run(
        pytester,
        where,
        "--connect-timeout=7",
        "--fabricplus-connect-timeout=3",
        "--hosts=h1",
        "--collect-only",
    )
    assert result.ret == 0, result.stderr.str()
    assert _values(result) == ("7", "3.0")
    result.stdout.fnmatch_lines(["*timeouts: connect 3s, command 300s"])
    owner = "plugin fakeplugin" if where == "before" else "plugin conftest"
    result.stdout.fnmatch_lines([WARNING.format(owner=owner)])
    warnings = [line for line in result.stdout.lines if "--connect-timeout is" in line]
    assert len(warnings) == 1  # once, not per test or per flag spelling
    result.stderr.no_fnmatch_line("*conflicting option*")


@pytest.mark.parametrize("where", ["before", "after"])
def test_help_shows_theirs_and_our_canonical_flag(pytester: pytest.Pytester, where: str) -> None:
    result = _run(pytester, where, "--help")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["a fake plugin:", "  --connect-timeout=FAKE_CONNECT_TIMEOUT"])
    result.stdout.fnmatch_lines(["  --fabricplus-connect-timeout=SECONDS"])
    result.stdout.no_fnmatch_line("*--fabricplus-connect-timeout=SECONDS, --connect-timeout*")


@pytest.mark.usefixtures("no_dropin")
def test_no_warning_in_a_run_that_does_not_use_us(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "after", "--connect-timeout=7", "-k", "nothing")
    assert _values(result) == ("7", "None")
    result.stdout.no_fnmatch_line("*--connect-timeout is*")
    result.stdout.no_fnmatch_line("fabricplus:*")


def test_without_a_collision_the_short_flag_is_ours(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(REPORT)
    pytester.makepyfile(TEST)
    result = pytester.runpytest("-s", "--connect-timeout=7", "--hosts=h1", "--collect-only")
    assert _values(result) == ("no-option", "7.0")
    result.stdout.no_fnmatch_line("*is *'s option here*")


def test_a_bad_value_names_the_spelling_used(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TEST)
    for flag in ("--connect-timeout", "--fabricplus-connect-timeout"):
        result = pytester.runpytest(f"{flag}=soon")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*argument {flag}: 'soon' is not a number of seconds"])


@pytest.mark.usefixtures("no_dropin")
def test_loaded_from_a_conftest_our_flags_still_register(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without autoloading, a conftest's ``pytest_plugins`` loads us after the point where
    the flags usually go in: they go in at once, aliases where free."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeconftest('pytest_plugins = ["pytest_fabricplus.plugin"]\n' + FAKE)
    pytester.makepyfile(TEST)
    pytester.path.joinpath("known").write_text("")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--fabricplus-hosts=h1", "--known-hosts=known",
        "--connect-timeout=7", "--collect-only",
    )  # fmt: skip
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["*timeouts: connect 10s, command 300s", "*test_a?h1?*"])


#: a plugin or conftest that registers its flag without a group (``parser.addoption``):
#: pytest before 9 keeps such options out of ``parser._groups``
ANONYMOUS = """
def pytest_addoption(parser):
    parser.addoption("--connect-timeout", dest="fake_connect_timeout", default="their-default")
"""


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_flag_registered_without_a_group_wins_too(pytester: pytest.Pytester, where: str) -> None:
    if where == "before":
        pytester.makepyfile(fakeplugin=ANONYMOUS)
        pytester.syspathinsert()
        pytester.makeconftest(REPORT)
        args: tuple[str, ...] = ("-p", "fakeplugin")
    else:
        pytester.makeconftest(ANONYMOUS + REPORT)
        args = ()
    pytester.makepyfile(TEST)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-s", *args,
        "--connect-timeout=7", "--fabricplus-connect-timeout=3", "--hosts=h1", "--collect-only",
    )  # fmt: skip
    assert result.ret == 0, result.stderr.str()
    assert _values(result) == ("7", "3.0")
    result.stderr.no_fnmatch_line("*conflicting option*")
