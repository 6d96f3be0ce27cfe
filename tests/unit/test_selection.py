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
