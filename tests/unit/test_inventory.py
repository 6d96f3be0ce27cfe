"""Inventory parsing: plain lines, groups, Ansible INI, and errors naming file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_fabricplus.errors import InventoryError
from pytest_fabricplus.hosts.inventory import load_inventory, parse_host_list, parse_inventory
from pytest_fabricplus.hosts.spec import assign_ids


def by_id(text: str) -> dict[str, object]:
    return {s.id: s for s in assign_ids(parse_inventory(text, "inv.txt"))}


def test_plain_lines_comments_and_keys() -> None:
    hosts = by_id(
        """
        # a comment
        web.example.com
        deploy@10.0.0.5:2222 alias=db1 tags=pg,primary identity_file=~/.ssh/db password_env=DB_PW

        ; another comment style
        """
    )
    assert set(hosts) == {"web.example.com", "db1"}
    db = hosts["db1"]
    assert (db.host, db.port, db.user) == ("10.0.0.5", 2222, "deploy")
    assert db.tags == {"pg", "primary"}
    assert db.identity_file == "~/.ssh/db"
    assert db.password_env == "DB_PW"
    assert db.source == "inv.txt:4"


def test_groups_children_and_group_vars() -> None:
    hosts = by_id(
        """
        [web]
        web1 ansible_host=127.0.0.1 ansible_port=2201
        web2 ansible_host=127.0.0.1 ansible_port=2202 ansible_user=other
        [db]
        db1 ansible_host=127.0.0.1 ansible_ssh_port=2203 ansible_ssh_private_key_file=/k
        [prod:children]
        web
        db
        [prod:vars]
        ansible_user=deploy
        ansible_python_interpreter=/usr/bin/python3
        """
    )
    assert hosts["web1"].groups == {"web", "prod"}
    assert hosts["db1"].groups == {"db", "prod"}
    assert hosts["web1"].user == "deploy"  # from [prod:vars]
    assert hosts["web2"].user == "other"  # host var beats group var
    assert hosts["db1"].port == 2203
    assert hosts["db1"].identity_file == "/k"
    assert hosts["web1"].alias == "web1"


def test_same_host_in_two_groups_is_one_host() -> None:
    hosts = by_id("[a]\nh1 ansible_host=127.0.0.1\n[b]\nh1\n")
    assert list(hosts) == ["h1"]
    assert hosts["h1"].groups == {"a", "b"}


def test_ipv6_and_ranges() -> None:
    hosts = by_id("[::1]:2222\nfptest@[fe80::1]\nweb[01:03].lan\n")
    assert hosts["[::1]"].port == 2222
    assert hosts["[fe80::1]"].user == "fptest"
    assert {"web01.lan", "web02.lan", "web03.lan"} <= set(hosts)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("h1\nh2 usr=x\n", 2, "unknown key 'usr' (did you mean 'user'?)"),
        ("h1 port=99999\n", 1, "port 99999 is out of range"),
        ("h1:abc\n", 1, "port 'abc' is not a number"),
        ("a alias=x\nb alias=x\n", 2, "duplicate alias 'x' (first defined at inv.txt:1)"),
        ("[web\nh\n", 1, "malformed section header"),
        ("[g:children]\nnope\n", 2, "names unknown group 'nope'"),
        ("h1 tags=\n", 1, "invalid tags"),
        ("h1 password_env=not-a-var\n", 1, "must name an environment variable"),
        ("h1 user\n", 1, "expected key=value"),
        ("::1\n", 1, "must be written in brackets"),
        ('h1 alias="open\n', 1, "cannot split line"),
        ("h1 su_method=magic\n", 1, "su_method must be auto, su or sudo"),
    ],
)
def test_errors_name_file_line_and_text(text: str, line: int, message: str) -> None:
    with pytest.raises(InventoryError) as info:
        parse_inventory(text, "inv.txt")
    assert str(info.value).startswith(f"inv.txt:{line}: ")
    assert message in str(info.value)
    assert info.value.line == line


def test_clear_text_password_is_refused_without_echoing_it() -> None:
    with pytest.raises(InventoryError) as info:
        parse_inventory("web1 ansible_host=h ansible_password=hunter2secret\n", "inv.txt")
    assert "inv.txt:1" in str(info.value)
    assert "password_env" in str(info.value)
    assert "hunter2secret" not in str(info.value)


def test_group_cycle_is_an_error() -> None:
    with pytest.raises(InventoryError, match="group cycle"):
        parse_inventory("[a:children]\nb\n[b:children]\na\n", "inv.txt")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="inventory file not found"):
        load_inventory(tmp_path / "missing.txt")
    # a directory is an Ansible inventory directory, read by ansible-inventory (dev extra);
    # an empty one fails with Ansible's own words
    (tmp_path / "empty").mkdir()
    with pytest.raises(InventoryError, match="ansible-inventory failed") as info:
        load_inventory(tmp_path / "empty")
    assert "empty" in str(info.value)
    bad = tmp_path / "bin.txt"
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InventoryError, match="not UTF-8"):
        load_inventory(bad)


def test_host_list() -> None:
    specs = parse_host_list("a@h1:2222, h2 ,[::1]:22,h2")
    assert [(s.user, s.host, s.port) for s in specs] == [
        ("a", "h1", 2222),
        (None, "h2", None),
        (None, "::1", 22),
    ]
    with pytest.raises(InventoryError, match="invalid host name"):
        parse_host_list("good,bad host")


@given(st.text(alphabet=" \t\r\x0b\x0c\xa0ab=1#'\"\\", max_size=24))
def test_line_splitting_is_shlex_splitting(line: str) -> None:
    # the fast path for lines without quotes, escapes or comments must split as shlex does
    import shlex

    from pytest_fabricplus.hosts.ini import IniReader as Parser
    from pytest_fabricplus.hosts.inventory import InventoryError

    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        expected: list[str] | None = list(lexer)
    except ValueError:
        expected = None
    parser = Parser("inv.ini")
    if expected is None:
        with pytest.raises(InventoryError):
            parser._split(line, 1)
    else:
        assert parser._split(line, 1) == expected


@pytest.mark.parametrize(
    "line",
    [
        "web1 foo ansible_password=hunter2secret\n",  # fails at foo, before the password key
        "web1 ansible_password hunter2secret\n",
        "web1 ansible_host=h ansible_host=h ansible_become_password=hunter2secret\n",
    ],
)
def test_no_error_about_a_line_echoes_its_password(line: str) -> None:
    with pytest.raises(InventoryError) as info:
        parse_inventory(line, "inv.txt")
    assert "inv.txt:1" in str(info.value)
    assert "hunter2secret" not in str(info.value)
