"""--hosts-limit narrows a run; selecting nothing is a clear usage error."""

from __future__ import annotations

import pytest

INVENTORY = """
[web]
web1 ansible_host=127.0.0.1 ansible_port=2201
web2 ansible_host=127.0.0.1 ansible_port=2202
[db]
db1 ansible_host=127.0.0.1 ansible_port=2203 tags=pg
"""


@pytest.fixture(autouse=True)
def _files(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("inventory.ini").write_text(INVENTORY)
    pytester.makepyfile("def test_a(connection): pass")


def test_limit_by_group_and_exclusion(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(
        "--collect-only", "-q", "--hosts=inventory.ini", "--hosts-limit=web,!web2"
    )
    result.stdout.fnmatch_lines(["*::test_a?web1?", "1 test collected*"])


def test_header_counts_selected_hosts(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--collect-only", "--hosts=inventory.ini", "--hosts-limit=tag:pg")
    result.stdout.fnmatch_lines(
        ["fabricplus: 1 of 3 hosts from inventory.ini (--hosts-limit tag:pg); host keys: reject*"]
    )


def test_empty_selection_is_a_usage_error_not_exit_5(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--hosts=inventory.ini", "--hosts-limit=mail*")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--hosts-limit 'mail*' selects none of the 3 hosts in inventory.ini "
            "('mail*' match nothing); hosts: db1, web1, web2; groups: db, web; tags: tag:pg"
        ]
    )
