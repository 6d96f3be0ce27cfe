"""Building connections (no network): per-host cost stays flat however many hosts.

Performance-regression tests, coupled to internals on purpose: they read
``Connector._config`` (Fabric's ``base_ssh_config``) and our host-key policy's ``check``
(through paramiko's ``SSHClient._policy``), the only places where the growth and the sharing
they pin are visible. A change of those internals (ours, Fabric's or paramiko's) breaks them without
any user-visible change: then follow the rename, or measure the same thing another way.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


def test_paramiko_logger_quieted_by_the_first_connector_not_at_import() -> None:
    # in a fresh process: this one's logging was touched by earlier tests
    probe = (
        "import logging\n"
        "import pytest_fabricplus.ssh.connector as c\n"
        "log = logging.getLogger('paramiko')\n"
        "print(len(log.handlers))\n"
        "from pytest_fabricplus import Connector, Settings\n"
        "Connector(Settings()); Connector(Settings())\n"
        "print(sum(type(h) is logging.NullHandler for h in log.handlers))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["0", "1"]


def test_a_connection_built_directly_says_how_to_get_one() -> None:
    from pytest_fabricplus import ConfigError, FabricPlusConnection

    conn = FabricPlusConnection("127.0.0.1", port=1)  # port 1: nothing is ever reached
    assert repr(conn) == "<FabricPlusConnection 127.0.0.1 (built directly, not usable)>"
    for use in (lambda: conn.run("true"), conn.open, lambda: conn.sudo("true")):
        with pytest.raises(ConfigError, match=r"FabricPlusConnection\('127.0.0.1'\) was built "):
            use()
    assert not conn.is_connected
