"""Building connections (no network): per-host cost stays flat however many hosts.

Performance-regression tests, coupled to internals on purpose: they read
``Connector._config`` (Fabric's ``base_ssh_config``) and our host-key policy's ``check``
(through paramiko's ``SSHClient._policy``), the only places where the growth and the sharing
they pin are visible. A change of those internals (ours, Fabric's or paramiko's) breaks them without
any user-visible change: then follow the rename, or measure the same thing another way.
"""

from __future__ import annotations

from pathlib import Path

from pytest_fabricplus import Connector, HostSpec, Settings
from pytest_fabricplus.hosts.knownhosts import HostEntries
from pytest_fabricplus.ssh.channel import missing_key_policy


def test_base_config_does_not_grow_with_each_host() -> None:
    # Fabric 3.2's Config.clone() re-reads ssh config files into the original
    connector = Connector(Settings(), env={})
    size = len(connector._config.base_ssh_config._config)
    for i in range(50):
        connector.build(HostSpec("127.0.0.1", 2000 + i, id=f"h{i}"))
    assert len(connector._config.base_ssh_config._config) == size


def test_known_hosts_parsed_once_and_shared(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(
        "[127.0.0.1]:2222 ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIDltxKsz2m+Ij2Ey5xZoR447FrsmQ2+NwJDXzJYHZQN6\n"
        "[127.0.0.1]:2225 ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIDltxKsz2m+Ij2Ey5xZoR447FrsmQ2+NwJDXzJYHZQN6\n"
    )
    connector = Connector(Settings(known_hosts=str(known)), env={})
    a = connector.build(HostSpec("127.0.0.1", 2222, id="a"))
    a2 = connector.build(HostSpec("127.0.0.1", 2222, id="a2"))
    b = connector.build(HostSpec("127.0.0.1", 2223, id="b"))

    def entries(conn: object) -> HostEntries:
        check = missing_key_policy(conn.client).check  # type: ignore[attr-defined]
        return check.views[0]  # type: ignore[no-any-return]

    # the file is parsed once; each host gets the entries that match it, shared per host
    assert len(connector.known_hosts._cache) == 1
    assert entries(a) is entries(a2)
    assert entries(a) is not entries(b)
    assert len(entries(a).keys) == 1  # not the whole file
    assert entries(b).keys == ()
    # paramiko gets no host keys of its own: our policy is the single judge
    assert len(a.client._system_host_keys) == 0
    assert len(a.client._host_keys) == 0
    known.write_text("")  # a changed file is read again
    import os

    os.utime(known, (1, 1))
    c = connector.build(HostSpec("127.0.0.1", 2222, id="c"))
    assert entries(c) is not entries(a)
    assert entries(c).keys == ()


def test_user_certificate_keys_loaded_once_per_key_set(tmp_path: Path) -> None:
    import subprocess

    def keygen(path: Path) -> None:
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
            check=True,
            capture_output=True,
        )

    key, ca = tmp_path / "id", tmp_path / "ca"
    keygen(key)
    keygen(ca)
    subprocess.run(
        ["ssh-keygen", "-q", "-s", str(ca), "-I", "u", "-n", "u", f"{key}.pub"],
        check=True,
        capture_output=True,
    )
    connector = Connector(Settings(ssh_identity_file=str(key)), env={})
    a = connector.build(HostSpec("127.0.0.1", 2222, id="a"))
    b = connector.build(HostSpec("127.0.0.1", 2223, id="b"))
    # the plain key is offered besides KEY-cert.pub (which paramiko loads with the key)
    assert a.connect_kwargs["key_filename"] == [str(key)]
    assert a.connect_kwargs["pkey"].public_blob is None
    assert a.connect_kwargs["pkey"] is b.connect_kwargs["pkey"]  # loaded once
