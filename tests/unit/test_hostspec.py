"""Host ids: alias, else the parts of user@host:port needed to tell hosts apart."""

from __future__ import annotations

import pytest

from pytest_fabricplus.hosts.spec import Address, HostSpec, assign_ids


def ids(*specs: HostSpec) -> list[str]:
    return [s.id for s in assign_ids(specs)]


def test_alias_wins() -> None:
    assert ids(HostSpec("10.0.0.1", 22, "root", alias="web1")) == ["web1"]


def test_two_ports_of_one_host_are_told_apart_by_port_not_index() -> None:
    assert ids(HostSpec("h", 22), HostSpec("h", 2222)) == ["h:22", "h:2222"]
    assert ids(HostSpec("h"), HostSpec("h", 2222)) == ["h:22", "h:2222"]


def test_same_host_and_port_two_users() -> None:
    assert ids(HostSpec("h", 22, "a"), HostSpec("h", 22, "b")) == ["a@h:22", "b@h:22"]


def test_distinct_hosts_use_just_the_host() -> None:
    assert ids(HostSpec("b.example", 22, "x"), HostSpec("a.example", 2200)) == [
        "a.example",
        "b.example",
    ]


def test_ids_are_sorted_and_stable_under_input_order() -> None:
    specs = [HostSpec("c"), HostSpec("a"), HostSpec("b", alias="zz")]
    assert ids(*specs) == ids(*reversed(specs)) == ["a", "c", "zz"]


def test_clash_between_alias_and_host_is_an_error() -> None:
    with pytest.raises(ValueError, match="share the id"):
        assign_ids([HostSpec("web1"), HostSpec("10.0.0.1", alias="web1")])


def test_ids_never_contain_secrets() -> None:
    spec = assign_ids([HostSpec("h", password_env="MY_SECRET_VAR")])[0]
    assert "MY_SECRET_VAR" not in spec.id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("h", Address("h")),
        ("u@h:2", Address("h", 2, "u")),
        ("[::1]:2222", Address("::1", 2222)),
        ("[::1]", Address("::1")),
    ],
)
def test_address_parse_roundtrip(text: str, expected: Address) -> None:
    assert Address.parse(text) == expected
    assert str(Address.parse(text)) == text


@pytest.mark.parametrize(
    "text", ["", "h:0", "h:70000", "@h", "[::1", "[h]:22", "h h", "[::1]x", "a:b:c"]
)
def test_address_parse_errors(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each message is checked in inventory tests
        Address.parse(text)
