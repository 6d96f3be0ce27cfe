"""Fuzzing the YAML and JSON readers: any text or structure parses or raises InventoryError."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_fabricplus.errors import InventoryError
from pytest_fabricplus.hosts.inventory import parse_json, parse_yaml

YAML_PIECES = st.sampled_from(
    [
        "all:",
        "\n",
        "  ",
        "hosts:",
        "children:",
        "vars:",
        "web:",
        "db[1:3]:",
        "h-[a:c]:",
        "127.0.0.1:2222:",
        "ansible_host: ",
        "ansible_port: ",
        "ansible_become: ",
        "ansible_ssh_common_args: ",
        "'-o ProxyJump=x'",
        "-J",
        "yes",
        "~",
        "[",
        "]",
        "{",
        "}",
        "- ",
        "&a ",
        "*a",
        "!vault ",
        "!!python/object ",
        "22",
        "{{ x }}",
        '"',
        "é",
    ]
)
YAML_TEXT = st.lists(st.one_of(YAML_PIECES, st.text(max_size=3)), max_size=40).map("".join)
NAMES = st.sampled_from(
    [
        "all",
        "web",
        "db",
        "h1",
        "h[1:2]",
        "127.0.0.1:22",
        "_meta",
        "x y",
        "",
        "hosts",
        "children",
        "vars",
        "hostvars",
        "ansible_port",
    ]
)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | NAMES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(NAMES, inner, max_size=3),
    max_leaves=12,
)


def _check(call: object, text: str, source: str) -> None:
    try:
        call(text, source)  # type: ignore[operator]
    except InventoryError as exc:
        assert str(exc).startswith(source)


@settings(max_examples=300, deadline=None)
@given(YAML_TEXT)
def test_yaml_reader_never_raises_anything_else(text: str) -> None:
    _check(parse_yaml, text, "fuzz.yml")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(NAMES, VALUES, max_size=4))
def test_structures_never_raise_anything_else(data: dict[str, object]) -> None:
    _check(parse_yaml, json.dumps(data), "fuzz.yml")  # JSON is YAML
    _check(parse_json, json.dumps(data), "fuzz.json")
