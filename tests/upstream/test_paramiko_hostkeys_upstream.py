"""Upstream canaries: paramiko's and fabricplus' host-key and certificate handling, as today.

They assert **upstream's behaviour, gaps included**, which hosts/knownhosts.py,
ssh/hostkeys.py, ssh/channel.py (host-key order) and ssh/usercerts.py work around. When one
starts failing, upstream changed: read what changed, adapt or delete the workaround it
names, and delete the canary.
"""

from __future__ import annotations

import inspect
import socket
import subprocess
from pathlib import Path

import paramiko
import pytest
from fabricplus.connection import ConnectionPlus
from fabricplus.paramiko_modifications.client import SSHJumpClient


def public_key(tmp_path: Path, name: str = "key") -> str:
    path = tmp_path / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


@pytest.mark.parametrize("marker", ["@cert-authority", "@revoked"])
def test_paramiko_hostkeys_cannot_read_markers(tmp_path: Path, marker: str) -> None:
    """Why we parse known_hosts ourselves (hosts/knownhosts.py)."""
    known = tmp_path / "known_hosts"
    known.write_text(f"{marker} * {public_key(tmp_path)}\n")
    with pytest.raises(paramiko.hostkeys.InvalidHostKey):
        paramiko.HostKeys(str(known))


def test_fabricplus_loads_home_known_hosts_with_paramiko(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Why FabricPlusConnection.__init__ ignores InvalidHostKey."""
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "known_hosts").write_text(f"@cert-authority * {public_key(tmp_path)}\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(paramiko.hostkeys.InvalidHostKey):
        ConnectionPlus("127.0.0.1")


def test_paramiko_offers_certificate_host_keys_last() -> None:
    """Why OrderedKeysTransport overrides preferred_keys (SecurityOptions cannot reorder)."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        keys = paramiko.Transport(ours).preferred_keys
    plain = [k for k in keys if not k.endswith("-cert-v01@openssh.com")]
    assert list(keys[: len(plain)]) == plain
    assert "ssh-ed25519-cert-v01@openssh.com" in keys


def test_fabricplus_jump_client_drops_transport_factory() -> None:
    """Why channel.order_host_key_algorithms puts a class between SSHJumpClient and SSHClient."""
    assert "transport_factory" not in inspect.signature(SSHJumpClient.connect).parameters
    assert "transport_factory" in inspect.signature(paramiko.SSHClient.connect).parameters


def test_paramiko_from_path_attaches_the_certificate_beside_the_key(tmp_path: Path) -> None:
    """Why usercerts.py clears public_blob for the plain key: paramiko would offer only the
    certificate (SSHClient._key_from_filepath does the same for key_filename)."""
    public_key(tmp_path, "ca")
    public_key(tmp_path, "id")
    ca, public = str(tmp_path / "ca"), str(tmp_path / "id.pub")
    subprocess.run(
        ["ssh-keygen", "-q", "-s", ca, "-I", "x", "-n", "u", public],
        check=True,
        capture_output=True,
    )
    key = paramiko.PKey.from_path(str(tmp_path / "id"))
    assert key.public_blob is not None
    assert key.public_blob.key_type == "ssh-ed25519-cert-v01@openssh.com"
