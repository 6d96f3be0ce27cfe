"""--hosts: inventory file or comma list; one item per host for tests that need a host."""

from __future__ import annotations

import pytest

from testing.targets import Target

TESTS = """
import pytest

def test_needs_host(connection):
    assert connection.run("true", hide=True).ok

@pytest.fixture
def hostname(connection):
    return connection.run("hostname", hide=True).stdout.strip()

def test_indirect(hostname):
    assert hostname

def test_no_host():
    pass
"""


def collected(result: pytest.RunResult) -> list[str]:
    """Test names (without the file) from ``--collect-only -q`` output."""
    return [line.split("::", 1)[1] for line in result.stdout.lines if "::" in line]


def test_without_hosts_host_tests_error_saying_how_to_pass_hosts(pytester: pytest.Pytester) -> None:
    # an error, not a skip: a run without hosts must not pass (exit 0) tests that need them
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*no hosts to test: pass --hosts=INVENTORY_FILE*"])


def test_comma_list_gives_one_item_per_host_with_readable_ids(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest(
        "--collect-only", "-q", "--hosts=b@h2:2222,a@h1,h2:22", "-p", "no:cacheprovider"
    )
    assert collected(result) == [
        "test_needs_host[h1]",
        "test_needs_host[h2:22]",
        "test_needs_host[h2:2222]",
        "test_indirect[h1]",
        "test_indirect[h2:22]",
        "test_indirect[h2:2222]",
        "test_no_host",
    ]


def test_inventory_file_with_groups_and_ansible_keys(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    pytester.path.joinpath("inventory.ini").write_text(
        "[web]\nweb1 ansible_host=127.0.0.1 ansible_port=2201\n"
        "[db]\ndb1 ansible_host=127.0.0.1 ansible_port=2202 ansible_user=pg\n"
    )
    result = pytester.runpytest("--collect-only", "-q", "--hosts=inventory.ini")
    assert collected(result)[:2] == ["test_needs_host[db1]", "test_needs_host[web1]"]


def test_missing_inventory_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("--hosts=inventroy.ini")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*inventroy.ini: inventory file not found*"])


def test_bad_inventory_line_names_file_and_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TESTS)
    pytester.path.joinpath("inv.txt").write_text("good\nbad port=http\n")
    result = pytester.runpytest("--hosts=inv.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*inv.txt:2: bad port: port 'http' is not a number in 'bad port=http'"]
    )
    result.stdout.no_fnmatch_line("*Traceback*")


def test_runs_against_a_real_host(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile(TESTS)
    result = pytester.runpytest(*sshd.args("-v"))
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*fabricplus: 1 of 1 hosts from --hosts list*"])


def test_two_real_hosts_report_per_host(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: object
) -> None:
    pytester.makepyfile(TESTS)
    hosts = f"{sshd.address},{sshd2.address}"
    result = pytester.runpytest(*sshd.args(hosts=hosts, known_hosts=both_known_hosts))
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        [
            "*fabricplus: results per host*",
            "host * passed * failed * error * skipped",
            *sorted(f"127.0.0.1:{t.port} * 2 * 0 * 0 * 0" for t in (sshd, sshd2)),
        ],
    )
