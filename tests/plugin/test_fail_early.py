"""User mistakes stop the run at its start with a usage error naming the culprit: report
paths that cannot be written, input files that are not UTF-8 (``FILE:line``), a byte-order
mark accepted; under ``--nagios`` every usage error gives ``TESTINFRA UNKNOWN - reason``."""

from __future__ import annotations

from fnmatch import fnmatch

import pytest

#: a test that would leave a trace if the run started
TEST = "def test_a():\n    open('ran', 'w').close()\n"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--fabricplus-report", "/proc/nope/x.json", "cannot create the directory /proc/nope"),
        ("--compliance-json", "/proc/nope/c.json", "cannot create the directory /proc/nope"),
        ("--compliance-report", "/proc/r.html", "cannot write a file in /proc"),
        ("--inspec-json", "afile/inspec", "afile is not a directory"),
        ("--compliance-json", "afile/c.json", "afile is not a directory"),
        ("--fabricplus-report", ".", "is a directory, not a file"),
    ],
)
def test_unwritable_report_path_is_a_usage_error_at_start(
    pytester: pytest.Pytester, option: str, value: str, message: str
) -> None:
    pytester.makepyfile(TEST)
    (pytester.path / "afile").write_text("a file\n")
    result = pytester.runpytest("--hosts=127.0.0.1", f"{option}={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    # the message names the canonical spelling: valid whichever way the path was given
    canonical = "--fabricplus-" + option.removeprefix("--").removeprefix("fabricplus-")
    result.stderr.fnmatch_lines([f"ERROR: {canonical} {value}: *{message}*"])
    result.stderr.no_fnmatch_line("*Traceback*")
    assert not (pytester.path / "ran").exists()


def test_missing_report_directories_are_created(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest("--hosts=127.0.0.1", "--fabricplus-report=new/dir/r.json")
    assert result.ret == 0
    assert (pytester.path / "new/dir/r.json").is_file()


def test_inventory_not_utf8_names_file_and_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TEST)
    (pytester.path / "inv.ini").write_bytes(b"[web]\nweb1 ansible_host=127.0.0.1 # caf\xe9\n")
    result = pytester.runpytest("--hosts=inv.ini")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: inv.ini:2: byte 0xe9 (column 34) is not UTF-8*"])


def test_waivers_not_utf8_names_file_and_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TEST)
    (pytester.path / "w.yml").write_bytes(
        b'- control: "CIS 1"\n  justification: "ok \xff"\n  expires: 2099-01-01\n'
    )
    result = pytester.runpytest("--hosts=127.0.0.1", "--waivers=w.yml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --waivers: w.yml:2: byte 0xff (column 22) is not UTF-8*"])
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_byte_order_mark_is_accepted(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.control("CIS 1")
        def test_a(host_spec):
            pass
        """
    )
    bom = b"\xef\xbb\xbf"
    (pytester.path / "inv.ini").write_bytes(bom + b"[web]\nweb1 ansible_host=127.0.0.1\n")
    (pytester.path / "w.yml").write_bytes(
        bom + b'- control: "CIS 1"\n  justification: "known"\n  expires: 2099-01-01\n'
    )
    result = pytester.runpytest("--hosts=inv.ini", "--waivers=w.yml", "--collect-only", "-q")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["*test_a?web1?"])


@pytest.mark.parametrize(
    ("args", "env", "reason"),
    [
        (["--connect-timeout=soon"], {}, "argument --connect-timeout: 'soon' is not a number*"),
        ([], {"FABRICPLUS_CONNECT_TIMEOUT": "soon"}, "environment variable FABRICPLUS_CONN*"),
        (["--fabricplus-report=/proc/nope/x.json"], {}, "--fabricplus-report /proc/nope/x.json*"),
        (["--hosts=inv.ini"], {}, "inv.ini:1: byte 0xff*"),
    ],
)
def test_nagios_unknown_line_names_every_usage_error(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    reason: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(TEST)
    (pytester.path / "inv.ini").write_bytes(b"web1\xff\n")
    result = pytester.runpytest_subprocess(
        "--nagios", "--hosts=127.0.0.1", *args, "-p", "no:cacheprovider", timeout=120
    )
    assert result.ret == 3
    assert result.outlines[0].startswith("TESTINFRA UNKNOWN - usage error: ")
    assert fnmatch(result.outlines[0], f"TESTINFRA UNKNOWN - usage error: {reason}"), (
        result.outlines[0]
    )
    assert not (pytester.path / "ran").exists()
