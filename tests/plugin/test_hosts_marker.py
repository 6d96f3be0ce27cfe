"""@pytest.mark.hosts limits a test to inventory groups, tags or hosts."""

from __future__ import annotations

import pytest

INVENTORY = """
[web]
web1 ansible_host=127.0.0.1 ansible_port=2201 tags=nginx
web2 ansible_host=127.0.0.1 ansible_port=2202
[db]
db1 ansible_host=127.0.0.1 ansible_port=2203 tags=pg
"""


def collected(result: pytest.RunResult) -> list[str]:
    return [line.split("::", 1)[1] for line in result.stdout.lines if "::" in line]


@pytest.fixture
def inventory(pytester: pytest.Pytester) -> str:
    pytester.path.joinpath("inventory.ini").write_text(INVENTORY)
    return "--hosts=inventory.ini"


def test_group_tag_and_host_patterns(pytester: pytest.Pytester, inventory: str) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hosts("db")
        def test_group(connection): pass

        @pytest.mark.hosts("tag:nginx", "db1")
        def test_tag_or_host(connection): pass

        @pytest.mark.hosts("web*")
        class TestWeb:
            def test_in_class(self, connection): pass

            @pytest.mark.hosts("web2")
            def test_closest_wins(self, connection): pass
        """
    )
    result = pytester.runpytest("--collect-only", "-q", inventory)
    assert collected(result) == [
        "test_group[db1]",
        "test_tag_or_host[db1]",
        "test_tag_or_host[web1]",
        "TestWeb::test_in_class[web1]",
        "TestWeb::test_in_class[web2]",
        "TestWeb::test_closest_wins[web2]",
    ]


def test_module_level_pytestmark(pytester: pytest.Pytester, inventory: str) -> None:
    pytester.makepyfile(
        """
        import pytest
        pytestmark = pytest.mark.hosts("group:web")
        def test_a(connection): pass
        """
    )
    result = pytester.runpytest("--collect-only", "-q", inventory)
    assert collected(result) == ["test_a[web1]", "test_a[web2]"]


def test_unknown_group_is_a_collection_error_naming_the_test(
    pytester: pytest.Pytester, inventory: str
) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.hosts("dbs")
        def test_typo(connection): pass
        """
    )
    result = pytester.runpytest(inventory)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*test_typo: @pytest.mark.hosts('dbs') matches no host in inventory.ini; "
            "hosts: db1, web1, web2; groups: db, web; tags: tag:nginx, tag:pg"
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")


def test_bad_marker_arguments(pytester: pytest.Pytester, inventory: str) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.hosts(group="db")
        def test_kw(connection): pass
        """
    )
    result = pytester.runpytest(inventory)
    result.stdout.fnmatch_lines(["*test_kw: @pytest.mark.hosts takes group, tag:NAME or host*"])


def test_marker_excluded_by_limit_skips_with_reason(
    pytester: pytest.Pytester, inventory: str
) -> None:
    pytester.makepyfile(
        """
        import pytest
        @pytest.mark.hosts("db")
        def test_db(connection): pass
        """
    )
    result = pytester.runpytest("-rs", inventory, "--hosts-limit=web")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no selected host matches @pytest.mark.hosts('db',)*"])
