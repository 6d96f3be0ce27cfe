"""--hosts-limit and @pytest.mark.hosts matching."""

from __future__ import annotations

from pytest_fabricplus.hosts.selection import apply_limit, split_patterns, unmatched
from pytest_fabricplus.hosts.spec import HostSpec, assign_ids

HOSTS = assign_ids(
    [
        HostSpec(
            "10.0.0.1", alias="web1", groups=frozenset({"web", "prod"}), tags=frozenset({"nginx"})
        ),
        HostSpec("10.0.0.2", alias="web2", groups=frozenset({"web"})),
        HostSpec("10.0.0.3", alias="db1", groups=frozenset({"db", "prod"}), tags=frozenset({"pg"})),
    ]
)


def names(patterns: str) -> list[str]:
    return [s.id for s in apply_limit(HOSTS, split_patterns(patterns))]


def test_group_tag_glob_and_exclusion() -> None:
    assert names("web") == ["web1", "web2"]
    assert names("tag:pg") == ["db1"]
    assert names("group:prod") == ["db1", "web1"]
    assert names("web*,!web2") == ["web1"]
    assert names("!db1") == ["web1", "web2"]
    assert names("10.0.0.3") == ["db1"]


def test_unmatched_reports_typos() -> None:
    assert unmatched(HOSTS, ["web", "wbe", "!dbx", "tag:nope"]) == ["wbe", "!dbx", "tag:nope"]


PORTS = assign_ids(
    [
        HostSpec("127.0.0.1", port=2222, groups=frozenset({"web"})),
        HostSpec("127.0.0.1", port=2223, groups=frozenset({"db"})),
        HostSpec("10.0.0.5", port=22, user="u", alias="u@10.0.0.5:22"),
    ]
)


def test_ansible_patterns() -> None:
    assert names("all") == ["db1", "web1", "web2"]
    assert names("*") == ["db1", "web1", "web2"]
    assert names("web:&prod") == ["web1"]
    assert names("web:!web2") == ["web1"]
    assert names("web:db") == ["db1", "web1", "web2"]
    assert names("web2:db") == ["db1", "web2"]
    assert names("web,db") == ["db1", "web1", "web2"]
    assert names("prod:!tag:pg") == ["web1"]
    assert names("~web[12]") == ["web1", "web2"]
    assert names("~(db|web)1") == ["db1", "web1"]
    assert names("&prod") == ["db1", "web1"]  # no union: all, then the intersection
    assert names("!web") == ["db1"]
    assert names("ungrouped") == []
    assert [s.id for s in apply_limit(HOSTS, ["web:&prod", "db"])] == ["db1", "web1"]


def test_colons_of_host_ids_do_not_split() -> None:
    def pick(pattern: str) -> list[str]:
        return [s.id for s in apply_limit(PORTS, split_patterns(pattern))]

    assert pick("127.0.0.1:2222") == ["127.0.0.1:2222"]
    assert pick("127.0.0.1:2222:127.0.0.1:2223") == ["127.0.0.1:2222", "127.0.0.1:2223"]
    assert pick("web:!127.0.0.1:2222") == []
    assert pick("all:!127.0.0.1:2223") == ["127.0.0.1:2222", "u@10.0.0.5:22"]
    assert pick("u@10.0.0.5:22") == ["u@10.0.0.5:22"]
    assert pick("ungrouped") == ["u@10.0.0.5:22"]
    assert pick("db:web") == ["127.0.0.1:2222", "127.0.0.1:2223"]


def test_unmatched_names_the_term() -> None:
    assert unmatched(HOSTS, ["web:&nope", "web:!wbe2"]) == ["&nope", "!wbe2"]
    assert unmatched(HOSTS, ["all", "*", "~web"]) == []
    (bad,) = unmatched(HOSTS, ["~web[", "web"])
    assert bad.startswith("~web[ (not a regular expression")
