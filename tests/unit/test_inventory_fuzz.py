"""Fuzzing the inventory parser: any text either parses or raises InventoryError."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_fabricplus.errors import InventoryError
from pytest_fabricplus.hosts.inventory import parse_inventory
from pytest_fabricplus.hosts.spec import assign_ids

PIECES = st.sampled_from(
    [
        "[",
        "]",
        ":",
        "@",
        "=",
        "#",
        ";",
        " ",
        "\n",
        "\t",
        '"',
        "'",
        ",",
        "children",
        "vars",
        "web",
        "db",
        "alias",
        "port",
        "user",
        "tags",
        "ansible_host",
        "ansible_port",
        "1",
        "22",
        "99999",
        "::1",
        "[01:03]",
        "password_env",
        "jump",
        "ansible_password",
        "\\",
        "é",
    ]
)
TEXT = st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_parser_never_raises_anything_else(text: str) -> None:
    try:
        specs = parse_inventory(text, "fuzz.txt")
        assign_ids(specs)
    except InventoryError as exc:
        assert str(exc).startswith("fuzz.txt")
    except ValueError as exc:  # id clashes are reported by resolve_hosts as InventoryError
        assert "share the id" in str(exc)
