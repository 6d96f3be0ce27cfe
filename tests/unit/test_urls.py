"""testinfra host specs (``ssh://user@host:port?...``) as HostSpec, and ``testinfra_hosts``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_fabricplus.errors import InventoryError
from pytest_fabricplus.hosts import urls
from pytest_fabricplus.hosts.inventory import parse_inventory, resolve_hosts
from pytest_fabricplus.hosts.sources import parse_testinfra_spec
from pytest_fabricplus.hosts.spec import HostSpec, assign_ids
from pytest_fabricplus.hosts.testinfra_hosts import ModuleHosts


def one(text: str) -> HostSpec:
    specs = urls.parse_spec(text)
    assert len(specs) == 1
    return specs[0]


@pytest.mark.parametrize("scheme", ["ssh", "paramiko", "safe-ssh"])
def test_ssh_schemes_are_our_connection(scheme: str) -> None:
    spec = one(f"{scheme}://deploy@web1.example:2222")
    assert (spec.host, spec.port, spec.user, spec.transport) == (
        "web1.example",
        2222,
        "deploy",
        "ssh",
    )
    assert spec.ssh_args == ()
    assert dict(spec.vars) == {}


def test_query_parameters_map_onto_the_spec() -> None:
    spec = one(
        "ssh://u@h?ssh_identity_file=~/k&ssh_config=~/cfg&timeout=7"
        "&ssh_extra_args=-o%20ProxyJump%3Dbastion%20-o%20'Foo=a b'&sudo=true&sudo_user=app"
    )
    home = os.path.expanduser("~")
    assert spec.identity_file == f"{home}/k"
    assert spec.ssh_args == (
        "-F", f"{home}/cfg", "-o", "ConnectTimeout=7", "-o", "ProxyJump=bastion", "-o", "Foo=a b",
    )  # fmt: skip
    assert urls.sudo_of(spec) == (True, "app")
    assert urls.ignored_keys(spec) == []


def test_sudo_as_testinfra_reads_it() -> None:
    # only the exact word "true" (any case) turns sudo on; the options are the default
    assert urls.sudo_of(one("ssh://h?sudo=TRUE")) == (True, None)
    assert urls.sudo_of(one("ssh://h?sudo=1")) == (False, None)
    assert urls.sudo_of(one("ssh://h"), sudo=True, sudo_user="x") == (True, "x")
    assert urls.sudo_of(one("ssh://h?sudo_user=y"), sudo=True, sudo_user="x") == (True, "y")


def test_options_we_cannot_honour_are_named() -> None:
    spec = one("ssh://h?controlpersist=120&namespace=x&bogus=1")
    assert urls.ignored_keys(spec) == ["bogus", "controlpersist", "namespace"]


@pytest.mark.parametrize(
    ("text", "transport", "ident", "given"),
    [
        ("local://", "local", "local", "local://"),
        ("docker://web", "docker", "docker://web", "docker://web"),
        (
            "docker://root@web?sudo=true",
            "docker",
            "docker://root@web",
            "docker://root@web?sudo=true",
        ),
        ("podman://c1", "podman", "podman://c1", "podman://c1"),
        ("kubectl://pod?container=app&namespace=ns", "kubectl", "kubectl://pod", None),
    ],
)
def test_other_backends_keep_the_spec_for_testinfra(
    text: str, transport: str, ident: str, given: str | None
) -> None:
    spec = assign_ids([one(text)])[0]
    assert spec.transport == transport
    assert spec.id == ident  # testinfra's own test id for that backend
    assert urls.testinfra_spec(spec) == (given or text)


def test_unknown_scheme_and_bad_values_name_the_spec() -> None:
    with pytest.raises(InventoryError, match=r"unknown testinfra connection 'sftp'.*sftp://h"):
        urls.parse_spec("sftp://h")
    with pytest.raises(InventoryError, match="timeout='soon'"):
        urls.parse_spec("ssh://h?timeout=soon")
    with pytest.raises(InventoryError, match="invalid host name"):
        urls.parse_spec("ssh://u@bad host")
    with pytest.raises(InventoryError, match=r"ansible_inventory=FILE"):
        urls.parse_spec("ansible://web")


def test_hosts_option_takes_a_comma_list_of_specs() -> None:
    specs = resolve_hosts("ssh://a@h1:2201,paramiko://h2,local://,h3:2203")
    assert [(s.id, s.transport) for s in specs] == [
        ("h1", "ssh"),
        ("h2", "ssh"),
        ("h3", "ssh"),
        ("local", "local"),
    ]
    # a single spec is a host, not an inventory path (it contains "/")
    assert [s.host for s in resolve_hosts("ssh://fptest@127.0.0.1:2222")] == ["127.0.0.1"]


def test_ansible_scheme_reads_the_named_inventory(tmp_path: object) -> None:
    from pathlib import Path

    inv = Path(str(tmp_path)) / "hosts.ini"
    inv.write_text("[web]\nweb1 ansible_host=10.0.0.1\nweb2 ansible_host=10.0.0.2\n[db]\ndb1\n")
    specs = resolve_hosts(f"ansible://web?ansible_inventory={inv}&sudo=true")
    assert [s.id for s in specs] == ["web1", "web2"]
    assert all(urls.sudo_of(s) == (True, None) for s in specs)
    # testinfra's ansible backend would run them: host.ansible names the inventory and host
    assert [urls.ansible_name(s, False, None) for s in specs] == [
        urls.AnsibleName(str(inv), "web1"),
        urls.AnsibleName(str(inv), "web2"),
    ]


def test_ansible_name_only_where_testinfra_uses_its_ansible_backend() -> None:
    [web1] = parse_inventory("[web]\nweb1 ansible_host=10.0.0.1\n", "inv.ini")
    assert urls.ansible_name(web1, False, "inv.ini") is None  # --connection=ssh: no Ansible
    assert urls.ansible_name(web1, True, "inv.ini") == urls.AnsibleName("inv.ini", "web1")
    assert urls.ansible_name(web1, True, None) == urls.AnsibleName(None, "web1")  # default
    [docker] = urls.with_connection(resolve_hosts("c1"), "docker")
    assert urls.ansible_name(docker, True, None) is None  # testinfra's own backend there


def test_connection_option_for_hosts_without_scheme() -> None:
    specs = urls.with_connection(resolve_hosts("c1,c2"), "docker")
    assert [(s.transport, urls.testinfra_spec(s)) for s in specs] == [
        ("docker", "docker://c1"),
        ("docker", "docker://c2"),
    ]
    assert urls.with_connection(resolve_hosts("c1"), "paramiko")[0].transport == "ssh"


INVENTORY = """
[web]
web1 ansible_host=10.0.0.1 ansible_user=deploy
web2 ansible_host=10.0.0.2
[db]
db1 ansible_host=10.0.0.3 ansible_port=2222
"""


def resolve(entries: object, selected: list[HostSpec] | None = None) -> list[str]:
    inventory = assign_ids(parse_inventory(INVENTORY))
    hosts = ModuleHosts()
    found = hosts.resolve(entries, "m.py", inventory, inventory if selected is None else selected)
    return [s.id for s in found]


def test_module_hosts_by_name_group_and_spec() -> None:
    assert resolve(["web1"]) == ["web1"]
    assert resolve(["db", "web2"]) == ["db1", "web2"]
    assert resolve(["ansible://web"]) == ["web1", "web2"]
    # a spec of an inventory host is that host (one id, one connection)
    assert resolve(["ssh://10.0.0.3:2222"]) == ["db1"]
    # hosts the inventory does not list are tested as given, as testinfra does
    assert resolve(["ssh://other.example", "other2"]) == ["other.example", "other2"]
    assert resolve([None]) == ["local"]


def test_module_hosts_keep_the_selection() -> None:
    inventory = assign_ids(parse_inventory(INVENTORY))
    only_web1 = [s for s in inventory if s.id == "web1"]
    assert resolve(["web"], only_web1) == ["web1"]
    assert resolve(["db"], only_web1) == []


@pytest.mark.parametrize("bad", ["web1", [3], [""], 7])
def test_module_hosts_must_be_a_list_of_names(bad: object) -> None:
    with pytest.raises(InventoryError, match=r"m\.py"):
        resolve(bad)


def test_same_made_host_same_id_across_modules() -> None:
    inventory = assign_ids(parse_inventory(INVENTORY))
    hosts = ModuleHosts()
    a = hosts.resolve(["ssh://u@x:1"], "a.py", inventory, inventory)
    b = hosts.resolve(["ssh://u@x:1"], "b.py", inventory, inventory)
    assert a == b
    assert a[0].id == b[0].id == "x"
    c = hosts.resolve(["ssh://u@x:1?sudo=true"], "c.py", inventory, inventory)
    assert c[0].id == "u@x:1"  # same address, other options: another id


def test_inventory_transports_become_testinfra_specs() -> None:
    # HostSpec.transport set from an inventory (ansible_connection=docker, local, ...)
    docker = HostSpec(host="instance", user="root", transport="docker")
    assert urls.testinfra_spec(docker) == "docker://root@instance"
    assert urls.testinfra_spec(HostSpec(host="box", transport="local")) == "local://"
    assert urls.testinfra_spec(HostSpec(host="pod1", transport="kubectl")) == "kubectl://pod1"


def test_urls_reads_no_inventory_sources_does(tmp_path: Path) -> None:
    # hosts/urls.py parses specs only; the inventory an ansible:// spec names is read by
    # hosts/sources.py (no callbacks handed to urls)
    inv = tmp_path / "inv.ini"
    inv.write_text("[web]\nweb1 ansible_host=10.0.0.1\nweb2 ansible_host=10.0.0.2\n")
    with pytest.raises(InventoryError, match="read it with the inventory"):
        urls.parse_spec(f"ansible://web?ansible_inventory={inv}")
    specs = parse_testinfra_spec(f"ansible://web?ansible_inventory={inv}")
    assert [s.id for s in specs] == ["web1", "web2"]
    assert {s.vars[urls.ANSIBLE_INVENTORY_VAR] for s in specs} == {str(inv)}


@pytest.mark.parametrize(
    "spec",
    [
        "ssh://root:hunter2secret@web1",
        "paramiko://deploy:hunter2secret@web1:2222?timeout=x",
        "nope://root:hunter2secret@web1",  # an unknown scheme: its error shows the spec too
    ],
)
def test_a_password_in_the_address_is_refused_without_echoing_it(spec: str) -> None:
    with pytest.raises(InventoryError) as info:
        urls.parse_spec(spec)
    assert "hunter2secret" not in str(info.value)
    assert "password left out" in str(info.value)
