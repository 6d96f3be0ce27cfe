"""Differential: our INI/YAML reader and Ansible's own ``ansible-inventory --list`` give the
same hosts (address, user, port, groups, ssh args, transport, become) and the same vars.

ansible-core is in the dev extra; these tests need it and fail without it.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from pytest_fabricplus.hosts.ansible import ansible_inventory_command
from pytest_fabricplus.hosts.inventory import load_inventory
from pytest_fabricplus.hosts.selection import apply_limit
from pytest_fabricplus.hosts.spec import HostSpec, assign_ids

INVENTORIES: dict[str, dict[str, str]] = {
    "ini-groups": {
        "inv.ini": """
            loose ansible_host=127.0.0.9 count=3 flag=True
            [web]
            web[01:03] ansible_host=127.0.0.1
            web-x ansible_host=127.0.0.2 ansible_port=2202 ansible_user=other
            [db]
            db-[a:c] ansible_host=127.0.0.3
            [prod:children]
            web
            db
            [prod:vars]
            ansible_user=deploy
            level=prod
            [web:vars]
            level=web
            ansible_ssh_common_args='-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/tmp/kh'
            [all:vars]
            level=all
            ansible_port=2200
            """,
    },
    "yaml-nested": {
        "inv.yml": """
            all:
              vars:
                ansible_user: alluser
                level: all
              hosts:
                lone:
                  ansible_host: 127.0.0.5
              children:
                web:
                  vars: {level: web, ansible_port: 2201}
                  hosts:
                    web[1:2]:
                      ansible_host: 127.0.0.1
                    web-special:
                      ansible_host: 127.0.0.2
                      level: host
                      ansible_become: true
                      ansible_become_user: postgres
                      ansible_become_method: su
                prod:
                  vars: {level: prod, ansible_user: produser}
                  children:
                    web:
                    db:
                      hosts:
                        db-[a:b]:
                          ansible_host: 127.0.0.3
                          ansible_ssh_extra_args: "-J jump@127.0.0.1:2222"
                docker:
                  hosts:
                    box:
                      ansible_connection: community.docker.docker
            """,
    },
    "vars-dirs": {
        "hosts.yaml": """
            web:
              hosts:
                w1: {ansible_host: 127.0.0.1}
                w2: {ansible_host: 127.0.0.1, ansible_port: 2202, mine: host}
            db:
              hosts:
                d1: {ansible_host: 127.0.0.4}
            """,
        "group_vars/all.yml": "ansible_user: fromall\nmine: all\n",
        "group_vars/web/main.yml": "ansible_port: 2201\nmine: web\n",
        "group_vars/db.yaml": "ansible_become: yes\n",
        "host_vars/w2.yml": "mine: host_vars\n",
    },
    "ini-loose-hosts-vars-dirs": {
        "hosts.ini": """
            loose1 ansible_host=127.0.0.8
            [web]
            w1 ansible_host=127.0.0.1
            """,
        "group_vars/ungrouped.yml": "ansible_port: 2266\nmine: ungrouped\n",
        "group_vars/all.yml": "mine: all\n",
    },
    "precedence-siblings": {
        "inv.yml": """
            all:
              children:
                zeta:
                  vars: {x: zeta, y: zeta}
                  hosts:
                    h1: {ansible_host: 127.0.0.1, z: first}
                alpha:
                  vars: {x: alpha}
                  hosts:
                    h1: {z: second}
                    h2: {ansible_host: 127.0.0.2}
                  children:
                    inner:
                      vars: {y: inner}
                      hosts:
                        h2:
                outer:
                  vars: {y: outer, x: outer}
                  children:
                    inner:
            """,
    },
    "ini-vars-dirs": {
        "inventory": """
            [web]
            w1 ansible_host=127.0.0.1
            [web:vars]
            mine=ini
            [ungrouped]
            u1 ansible_host=127.0.0.7
            """,
        "group_vars/web": "mine: dir\nansible_user: webuser\n",
        "group_vars/ungrouped.yml": "ansible_port: 2277\n",
        "host_vars/u1": "ansible_user: u1user\n",
    },
}


def _write(root: Path, files: dict[str, str]) -> Path:
    first = None
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        first = first or path
    assert first is not None
    return first


def _view(specs: list[HostSpec]) -> list[tuple[HostSpec, dict[str, str]]]:
    return [(s, dict(s.vars)) for s in assign_ids(specs)]


def test_ansible_inventory_is_installed() -> None:
    assert ansible_inventory_command() is not None, "pip install -e '.[dev]' brings ansible-core"


@pytest.mark.parametrize("name", sorted(INVENTORIES))
def test_our_reader_and_ansible_inventory_agree(tmp_path: Path, name: str) -> None:
    inventory = _write(tmp_path, INVENTORIES[name])
    ours = _view(load_inventory(inventory))
    theirs = _view(load_inventory(inventory, force_ansible=True))
    assert [s.id for s, _ in ours] == [s.id for s, _ in theirs]
    for (a, a_vars), (b, b_vars) in zip(ours, theirs, strict=True):
        assert a == b, a.id
        assert a_vars == b_vars, a.id
    assert len(ours) >= 2


def test_the_inventories_say_what_we_think(tmp_path: Path) -> None:
    """Guards the differential test against agreeing on nothing: spot values, Ansible's way."""
    hosts = {
        s.id: s
        for s in assign_ids(
            load_inventory(_write(tmp_path, INVENTORIES["vars-dirs"]), force_ansible=True)
        )
    }
    assert (hosts["w1"].port, hosts["w1"].user, hosts["w1"].vars["mine"]) == (
        2201,
        "fromall",
        "web",
    )
    assert (hosts["w2"].port, hosts["w2"].vars["mine"]) == (2202, "host_vars")
    assert hosts["d1"].vars["become_user"] == "root"
    nested = {
        s.id: s
        for s in assign_ids(
            load_inventory(_write(tmp_path / "n", INVENTORIES["yaml-nested"]), force_ansible=True)
        )
    }
    assert nested["web1"].vars["level"] == "web"
    assert nested["web1"].user == "produser"
    assert nested["db-a"].ssh_args == ("-J", "jump@127.0.0.1:2222")
    assert nested["box"].transport == "docker"
    assert nested["web-special"].vars["become_user"] == "postgres"


def test_ids_are_the_names_testinfra_ansible_runner_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``testinfra_hosts = AnsibleRunner(inv).get_hosts("web")`` names our ids (Molecule)."""
    from testinfra.utils.ansible_runner import AnsibleRunner

    command = ansible_inventory_command()
    assert command is not None
    # testinfra runs "ansible-inventory" through a shell: the venv's bin must be on PATH
    monkeypatch.setenv("PATH", f"{Path(command).parent}{os.pathsep}{os.environ['PATH']}")
    for name in sorted(INVENTORIES):
        inventory = _write(tmp_path / name, INVENTORIES[name])
        specs = assign_ids(load_inventory(inventory))
        runner = AnsibleRunner(str(inventory))
        assert runner.get_hosts("all") == sorted(s.id for s in specs), name
        for group in {g for s in specs for g in s.groups}:
            assert runner.get_hosts(group) == [s.id for s in apply_limit(specs, [group])], group
