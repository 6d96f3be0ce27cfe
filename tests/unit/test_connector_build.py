"""Building connections (no network): per-host cost stays flat however many hosts.

Performance-regression tests, coupled to internals on purpose: they read
``Connector._config`` (Fabric's ``base_ssh_config``) and paramiko's
``SSHClient._system_host_keys``, the only places where the growth and the sharing they pin
are visible. A change of those internals (ours, Fabric's or paramiko's) breaks them without
any user-visible change: then follow the rename, or measure the same thing another way.
"""

from __future__ import annotations

from pathlib import Path

from pytest_fabricplus import Connector, HostSpec, Settings


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
    # the file is parsed once; each host gets the entries that match it, shared per host
    assert len(connector.known_hosts._cache) == 1
    assert a.client._system_host_keys is a2.client._system_host_keys
    assert a.client._system_host_keys is not b.client._system_host_keys
    assert a.client._system_host_keys.lookup("[127.0.0.1]:2222") is not None
    assert b.client._system_host_keys.lookup("[127.0.0.1]:2223") is None
    assert len(list(a.client._system_host_keys.keys())) == 1  # not the whole file
    known.write_text("")  # a changed file is read again
    import os

    os.utime(known, (1, 1))
    c = connector.build(HostSpec("127.0.0.1", 2222, id="c"))
    assert c.client._system_host_keys is not a.client._system_host_keys
    assert c.client._system_host_keys.lookup("[127.0.0.1]:2222") is None
