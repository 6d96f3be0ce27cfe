"""Ansible inventories as Ansible reads them: YAML, [all:vars]/ungrouped in INI, group_vars/
and host_vars/, the JSON of ansible-inventory --list, and the connection keys' meaning."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from pytest_fabricplus.errors import InventoryError
from pytest_fabricplus.hosts.ansible import expand_range, split_ssh_args
from pytest_fabricplus.hosts.inventory import (
    inventory_warnings,
    load_inventory,
    parse_inventory,
    parse_json,
    parse_yaml,
)
from pytest_fabricplus.hosts.spec import HostSpec, assign_ids


def by_id(specs: list[HostSpec]) -> dict[str, HostSpec]:
    return {s.id: s for s in assign_ids(specs)}


def yml(text: str) -> dict[str, HostSpec]:
    return by_id(parse_yaml(textwrap.dedent(text), "inv.yml"))


YAML = """
all:
  vars:
    ansible_user: alluser
    level: all
  hosts:
    lone.example.com:
  children:
    web:
      vars:
        level: web
        ansible_port: 2201
      hosts:
        web[01:03].example.com:
        web-special:
          ansible_host: 10.0.0.9
          level: host
    prod:
      vars:
        level: prod
        ansible_user: produser
      children:
        web:
        db:
          hosts:
            db-[a:c]:
              ansible_host: 127.0.0.1
"""


def test_yaml_groups_ranges_and_vars_precedence() -> None:
    hosts = yml(YAML)
    assert sorted(hosts) == [
        "db-a",
        "db-b",
        "db-c",
        "lone.example.com",
        "web-special",
        "web01.example.com",
        "web02.example.com",
        "web03.example.com",
    ]
    web2 = hosts["web02.example.com"]
    assert web2.groups == {"web", "prod"}
    # child (web, deeper) beats parent (prod) beats all
    assert web2.vars["level"] == "web"
    assert web2.port == 2201
    assert web2.user == "produser"  # prod's var beats all's
    assert hosts["web-special"].vars["level"] == "host"  # host var beats group vars
    assert (hosts["web-special"].host, hosts["web-special"].alias) == ("10.0.0.9", "web-special")
    assert hosts["db-b"].groups == {"db", "prod"}
    assert hosts["db-b"].vars["level"] == "prod"
    assert hosts["lone.example.com"].groups == frozenset()
    assert hosts["lone.example.com"].user == "alluser"
    assert hosts["lone.example.com"].source == "inv.yml:7"


def test_yaml_host_with_port_and_typed_values() -> None:
    hosts = yml(
        """
        ungrouped:
          hosts:
            "127.0.0.1:2222":
              flag: true
              count: 3
              listed: [1, 2]
        """
    )
    h = hosts["127.0.0.1"]
    assert (h.host, h.port) == ("127.0.0.1", 2222)
    assert dict(h.vars) == {"flag": "true", "count": "3", "listed": "[1, 2]"}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("all:\n  hosts:\n    h1:\n      ansible_port: nope\n", 4, "port 'nope' is not a number"),
        ("all:\n  hosts:\n    h1:\n      ansible_password: s3cr3t\n", 4, "password in clear text"),
        ("all:\n  hosts: [a, b]\n", 2, "hosts must be a mapping"),
        ("all:\n  childs:\n    web:\n", 2, "unknown section 'childs'"),
        ("all:\n  hosts:\n    h1: {\n", 4, "not valid YAML"),
        ("web:\n  hosts:\n    h[3:1]:\n", 3, "goes backwards"),
        (
            "all:\n  hosts:\n    h1:\n      ansible_ssh_common_args: '-o ProxyJump'\n",
            4,
            "is not Key=Value",
        ),
        ("all:\n  hosts:\n    h1:\n      ansible_become: maybe\n", 4, "not a boolean"),
    ],
)
def test_yaml_errors_name_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(InventoryError) as info:
        parse_yaml(text, "inv.yml")
    assert str(info.value).startswith(f"inv.yml:{line}: "), str(info.value)
    assert message in str(info.value)
    assert "s3cr3t" not in str(info.value)


def test_ranges() -> None:
    assert expand_range("web[01:03].lan") == ["web01.lan", "web02.lan", "web03.lan"]
    assert expand_range("db-[a:c]") == ["db-a", "db-b", "db-c"]
    assert expand_range("h[0:6:3]") == ["h0", "h3", "h6"]
    assert expand_range("r[1:2]-[a:b]") == ["r1-a", "r1-b", "r2-a", "r2-b"]
    with pytest.raises(ValueError, match="larger than"):
        expand_range("h[0:99999]")


def test_ini_all_vars_and_ungrouped() -> None:
    hosts = by_id(
        parse_inventory(
            textwrap.dedent(
                """
                loose ansible_host=127.0.0.1
                [ungrouped]
                lonely ansible_host=127.0.0.2
                [web]
                web1 ansible_host=127.0.0.3 http_port=8080
                [all:vars]
                ansible_user=everyone
                [ungrouped:vars]
                ansible_port=2200
                """
            ),
            "inv.ini",
        )
    )
    assert {h.user for h in hosts.values()} == {"everyone"}
    assert hosts["lonely"].groups == frozenset()
    assert hosts["loose"].port == 2200
    assert hosts["lonely"].port == 2200
    assert hosts["web1"].port is None
    assert hosts["web1"].vars["http_port"] == "8080"  # a plain variable, kept


def test_group_vars_and_host_vars_next_to_the_inventory(tmp_path: Path) -> None:
    (tmp_path / "inv.ini").write_text(
        "[web]\nweb1 ansible_host=127.0.0.1\nweb2 ansible_host=127.0.0.1 ansible_port=2202\n"
        "[web:vars]\nfrom_file=ini\n"
    )
    (tmp_path / "group_vars" / "web").mkdir(parents=True)
    (tmp_path / "group_vars" / "all.yml").write_text("ansible_user: deploy\nfrom_all: yes\n")
    (tmp_path / "group_vars" / "web" / "ports.yml").write_text(
        "ansible_port: 2201\nfrom_file: dir\n"
    )
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "web2.yaml").write_text("ansible_port: 2299\n")
    hosts = by_id(load_inventory(tmp_path / "inv.ini"))
    assert hosts["web1"].user == "deploy"
    assert hosts["web1"].port == 2201  # group_vars/web/ beats nothing
    assert hosts["web1"].vars["from_file"] == "dir"  # group_vars/ beats the file's [web:vars]
    assert hosts["web1"].vars["from_all"] == "true"
    assert hosts["web2"].port == 2299  # host_vars/ beats the host line


def test_group_vars_secret_and_bad_value_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "inv.yml").write_text("all:\n  hosts:\n    h1:\n")
    (tmp_path / "group_vars").mkdir()
    bad = tmp_path / "group_vars" / "all.yml"
    bad.write_text("ansible_become_password: hunter2\n")
    with pytest.raises(InventoryError, match="password in clear text") as info:
        load_inventory(tmp_path / "inv.yml")
    assert str(bad) in str(info.value)
    assert "hunter2" not in str(info.value)
    bad.write_text("ansible_port: many\n")
    with pytest.raises(InventoryError, match="port 'many'") as info:
        load_inventory(tmp_path / "inv.yml")
    assert str(bad) in str(info.value)


def test_json_of_ansible_inventory_list() -> None:
    data = {
        "_meta": {
            "hostvars": {
                "web1": {"ansible_host": "127.0.0.1", "ansible_port": 2201, "x": 1},
                "127.0.0.2": {"ansible_user": "u"},
            }
        },
        "all": {"children": ["ungrouped", "web", "prod"]},
        "prod": {"children": ["web"]},
        "web": {"hosts": ["web1"]},
        "ungrouped": {"hosts": ["127.0.0.2"]},
    }
    hosts = by_id(parse_json(json.dumps(data), "inv.json"))
    assert hosts["web1"].groups == {"web", "prod"}
    assert (hosts["web1"].host, hosts["web1"].port) == ("127.0.0.1", 2201)
    assert hosts["127.0.0.2"].user == "u"
    assert hosts["127.0.0.2"].groups == frozenset()


def test_format_is_detected(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text('{"web": {"hosts": ["h1"]}}')
    assert [s.groups for s in load_inventory(tmp_path / "hosts")] == [{"web"}]
    (tmp_path / "inv.yaml").write_text("web:\n  hosts:\n    h1:\n")
    assert [s.groups for s in load_inventory(tmp_path / "inv.yaml")] == [{"web"}]
    (tmp_path / "inv").write_text("[web]\nh1\n")
    assert [s.groups for s in load_inventory(tmp_path / "inv")] == [{"web"}]


def test_ssh_args_split_and_checked() -> None:
    assert split_ssh_args(
        "k",
        "-o ProxyJump=fp@127.0.0.1:2200 -oStrictHostKeyChecking=no -J a@b:22 -i ~/k -p 2222 -l u -C",
    ) == (
        "-o",
        "ProxyJump=fp@127.0.0.1:2200",
        "-o",
        "StrictHostKeyChecking=no",
        "-J",
        "a@b:22",
        "-i",
        "~/k",
        "-p",
        "2222",
        "-l",
        "u",
        "-C",
    )
    assert split_ssh_args("k", "-o 'ProxyCommand=ssh -W %h:%p gw'") == (
        "-o",
        "ProxyCommand=ssh -W %h:%p gw",
    )
    for bad, why in [
        ("-o Port=99999", "not a port"),
        ("-p x", "not a port"),
        ("-o StrictHostKeyChecking=perhaps", "StrictHostKeyChecking"),
        ("-Z", "not an ssh option"),
        ("ProxyJump=x", "is not an option"),
        ("-o", "needs a value"),
        ("-o 'unterminated", "cannot split"),
    ]:
        with pytest.raises(ValueError, match=why):
            split_ssh_args("k", bad)


def test_connection_keys_mapped() -> None:
    hosts = yml(
        """
        all:
          vars:
            ansible_ssh_common_args: "-o UserKnownHostsFile=/tmp/kh -o StrictHostKeyChecking=yes"
          hosts:
            plain:
              ansible_host: 127.0.0.1
              ansible_ssh_extra_args: "-J jump@127.0.0.1:2200"
            sudoer:
              ansible_host: 127.0.0.1
              ansible_become: true
            su-er:
              ansible_host: 127.0.0.1
              ansible_become: yes
              ansible_become_method: su
              ansible_become_user: postgres
            container:
              ansible_connection: community.docker.docker
            pod:
              ansible_connection: podman
            here:
              ansible_connection: local
            paramiko:
              ansible_host: 127.0.0.1
              ansible_connection: paramiko
              ansible_private_key_file: /keys/id
        """
    )
    assert hosts["plain"].ssh_args == (
        "-o",
        "UserKnownHostsFile=/tmp/kh",
        "-o",
        "StrictHostKeyChecking=yes",
        "-J",
        "jump@127.0.0.1:2200",
    )
    assert hosts["plain"].transport == "ssh"
    assert "become_user" not in hosts["plain"].vars
    assert (hosts["sudoer"].vars["become_user"], hosts["sudoer"].vars["su_method"]) == (
        "root",
        "sudo",
    )
    assert (hosts["su-er"].vars["become_user"], hosts["su-er"].vars["su_method"]) == (
        "postgres",
        "su",
    )
    assert hosts["container"].transport == "docker"
    assert hosts["pod"].transport == "podman"
    assert hosts["here"].transport == "local"
    assert hosts["paramiko"].transport == "ssh"
    assert hosts["paramiko"].identity_file == "/keys/id"
    assert inventory_warnings(hosts.values()) == []


def test_unhonoured_connection_keys_warn_naming_host_and_key() -> None:
    hosts = yml(
        """
        all:
          hosts:
            h1:
              ansible_host: 127.0.0.1
              ansible_ssh_timeout: 5
              ansible_python_interpreter: /usr/bin/python3
              ansible_ssh_pipelining: true
              app_port: 8080
            h2:
              ansible_host: 127.0.0.1
              ansible_become: true
              ansible_become_method: doas
              ansible_connection: network_cli
        """
    )
    assert inventory_warnings(hosts.values()) == [
        "host h1: Ansible key(s) not honoured (they would change how Ansible connects): "
        "ansible_ssh_timeout",
        "host h2: Ansible key(s) not honoured (they would change how Ansible connects): "
        "ansible_become_method=doas, ansible_connection=network_cli",
    ]
    assert "become_user" not in hosts["h2"].vars  # not run as anyone: doas is not ours
    assert hosts["h1"].vars["app_port"] == "8080"


def test_dynamic_inventory_script_through_ansible_inventory(tmp_path: Path) -> None:
    script = tmp_path / "inventory.py"
    data = {
        "web": {"hosts": ["web1"], "vars": {"ansible_user": "scripted"}},
        "_meta": {"hostvars": {"web1": {"ansible_host": "127.0.0.1", "ansible_port": 2201}}},
    }
    script.write_text(f"#!/usr/bin/env python3\nimport json\nprint(json.dumps({data!r}))\n")
    script.chmod(0o755)
    (web1,) = load_inventory(script)
    assert (web1.alias, web1.host, web1.port, web1.user) == ("web1", "127.0.0.1", 2201, "scripted")
    assert web1.groups == {"web"}


def test_ansible_inventory_failure_carries_its_stderr(tmp_path: Path) -> None:
    script = tmp_path / "broken.sh"
    script.write_text("#!/bin/sh\necho 'cannot reach the CMDB' >&2\nexit 3\n")
    script.chmod(0o755)
    with pytest.raises(InventoryError, match="ansible-inventory failed") as info:
        load_inventory(script)
    assert "cannot reach the CMDB" in str(info.value)


def test_force_ansible_reads_a_file_through_ansible(tmp_path: Path) -> None:
    inv = tmp_path / "inv.ini"
    inv.write_text("[web]\nweb1 ansible_host=127.0.0.1 ansible_port=2201\n")
    ours = assign_ids(load_inventory(inv))
    theirs = assign_ids(load_inventory(inv, force_ansible=True))
    assert ours == theirs
    assert theirs[0].source == os.fspath(inv)  # no line: Ansible read it


def test_ansible_cfg_and_environment_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As Ansible (and testinfra's AnsibleRunner): ansible.cfg's remote_user, ssh args and
    become apply to hosts that set none; ANSIBLE_* variables beat the file."""
    cfg = tmp_path / "custom.cfg"
    cfg.write_text(
        "[defaults]\nremote_user = cfguser\nremote_port = 2299\n"
        "[privilege_escalation]\nbecome = true\n"
        "[ssh_connection]\nssh_common_args = -o StrictHostKeyChecking=no\n"
    )
    monkeypatch.setenv("ANSIBLE_CONFIG", str(cfg))
    monkeypatch.setenv("ANSIBLE_REMOTE_PORT", "2288")
    (tmp_path / "inv.ini").write_text(
        "plain ansible_host=127.0.0.1\nown ansible_host=127.0.0.1 ansible_user=mine ansible_port=22\n"
        "bob@127.0.0.2:2200\n"
    )
    hosts = by_id(load_inventory(tmp_path / "inv.ini"))
    assert (hosts["plain"].user, hosts["plain"].port) == ("cfguser", 2288)
    assert hosts["plain"].ssh_args == ("-o", "StrictHostKeyChecking=no")
    assert hosts["plain"].vars["become_user"] == "root"
    assert (hosts["own"].user, hosts["own"].port) == ("mine", 22)
    assert (hosts["127.0.0.2"].user, hosts["127.0.0.2"].port) == ("bob", 2200)
    cfg.write_text("[ssh_connection]\nssh_extra_args = -p 99999\n")
    with pytest.raises(InventoryError, match="not a port") as info:
        load_inventory(tmp_path / "inv.ini")
    assert str(cfg) in str(info.value)


def test_templates_and_vault_values_are_named_not_misread() -> None:
    with pytest.raises(InventoryError, match="Jinja template") as info:
        parse_yaml(
            'all:\n  hosts:\n    h1:\n      ansible_host: "{{ inventory_hostname }}.lan"\n',
            "inv.yml",
        )
    assert str(info.value).startswith("inv.yml:4: ")
    vaulted = "all:\n  hosts:\n    h1:\n      {key}: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        6162\n"
    with pytest.raises(InventoryError, match="Ansible Vault"):
        parse_yaml(vaulted.format(key="ansible_user"), "inv.yml")
    (h1,) = parse_yaml(vaulted.format(key="app_token"), "inv.yml")
    assert h1.vars["app_token"] == "<vault-encrypted>"
    assert "$ANSIBLE_VAULT" not in str(h1.vars)


def test_ini_host_line_values_read_as_ansible_literals_but_ours_stay_text() -> None:
    (h,) = parse_inventory("h1 alias=1e5 flag=True n=0x10 s=abc ansible_become=yes\n", "inv.ini")
    assert h.alias == "1e5"
    assert dict(h.vars)["flag"] == "true"
    assert dict(h.vars)["n"] == "16"
    assert dict(h.vars)["s"] == "abc"
    (g,) = parse_inventory("h1\n[all:vars]\nflag=True\n", "inv.ini")
    assert g.vars["flag"] == "True"  # [group:vars] values are strings in Ansible's INI
