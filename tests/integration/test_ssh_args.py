"""``HostSpec.ssh_args`` (what Ansible's ``ansible_ssh_common_args``/``ansible_ssh_extra_args``
and testinfra's ``ssh_extra_args`` become) through the core, against real sshd processes.

HostSpecs are built directly here: the inventory parsers fill ``ssh_args`` themselves.
"""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from pytest_fabricplus import ConnectionRegistry, Connector, HostSpec, HostUnreachable, Settings
from testing.targets import Target


def logins(target: Target) -> int:
    target.server.connections_logged()  # flushes: every earlier connection is logged
    return target.server.log_path.read_text().count("Accepted publickey for ")


def settings(target: Target, known: Path | None = None, **kw: object) -> Settings:
    return Settings(
        known_hosts=str(known or target.known_hosts),
        ssh_identity_file=str(target.user.key_path),
        ssh_user="fptest",
        **kw,  # type: ignore[arg-type]
    )


def test_proxyjump_chain_in_ssh_args_verifies_every_hop(
    sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    """``-J a,b``: sshd, then sshd2 through it, then sshd again (as the target) through
    sshd2 -- three connections, each host key checked against known_hosts."""
    hop1, hop2 = f"fptest@127.0.0.1:{sshd.port}", f"fptest@127.0.0.1:{sshd2.port}"
    spec = HostSpec("127.0.0.1", sshd.port, ssh_args=("-J", f"{hop1},{hop2}"), id="chained")
    before = (logins(sshd), logins(sshd2))
    registry = ConnectionRegistry(Connector(settings(sshd, both_known_hosts)))
    try:
        conn = registry.get(spec)
        assert conn.run("echo $SSH_CONNECTION", hide=True).stdout.split()[2] == "127.0.0.1"
        assert type(conn.transport.sock).__name__ == "Channel"
        assert conn.jump_client is not None
    finally:
        registry.close_all()
    assert (logins(sshd), logins(sshd2)) == (before[0] + 2, before[1] + 1)


def test_unknown_key_of_the_second_hop_is_rejected(
    sshd: Target, sshd2: Target, tmp_path: Path
) -> None:
    known = tmp_path / "known"
    known.write_text(sshd.server.known_hosts_line + "\n")  # sshd2 (hop 2) unknown
    spec = HostSpec(
        "127.0.0.1",
        sshd.port,
        ssh_args=("-o", f"ProxyJump=127.0.0.1:{sshd.port},127.0.0.1:{sshd2.port}"),
        id="chained",
    )
    registry = ConnectionRegistry(Connector(settings(sshd, known)))
    try:
        with pytest.raises(HostUnreachable) as err:
            registry.get(spec)
    finally:
        registry.close_all()
    assert err.value.cause == "jump"
    assert "unknown host key (ssh-ed25519 key SHA256:" in err.value.detail
    assert f"of [127.0.0.1]:{sshd2.port}" in err.value.detail


def test_ssh_args_port_user_known_hosts_and_strict_checking(
    sshd: Target, sshd2: Target, tmp_path: Path
) -> None:
    empty = tmp_path / "empty_known"
    empty.write_text("")
    # the spec names sshd; its ssh_args send it to sshd2, whose key is in the file they name
    spec = HostSpec(
        "127.0.0.1",
        ssh_args=(
            "-p",
            str(sshd2.port),
            "-o",
            "User=fptest",
            "-o",
            f"UserKnownHostsFile={sshd2.known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
        ),
        id="redirected",
    )
    registry = ConnectionRegistry(Connector(Settings(ssh_identity_file=str(sshd.user.key_path))))
    try:
        conn = registry.get(spec)
        assert conn.port == sshd2.port
        assert conn.run("id -un", hide=True).stdout == "fptest\n"
    finally:
        registry.close_all()
    # StrictHostKeyChecking=no in ssh_args: an unknown key is accepted (no known_hosts)
    spec = HostSpec(
        "127.0.0.1",
        sshd.port,
        "fptest",
        ssh_args=("-o", f"UserKnownHostsFile={empty}", "-o", "StrictHostKeyChecking=no"),
        id="lenient",
    )
    registry = ConnectionRegistry(Connector(Settings(ssh_identity_file=str(sshd.user.key_path))))
    try:
        assert registry.get(spec).run("true", hide=True).ok
    finally:
        registry.close_all()
    # ...unless --host-key-policy was given explicitly
    explicit = Settings(
        ssh_identity_file=str(sshd.user.key_path),
        host_key_policy="reject",
        explicit=frozenset({"host_key_policy"}),
    )
    registry = ConnectionRegistry(Connector(explicit))
    try:
        with pytest.raises(HostUnreachable, match="unknown host key"):
            registry.get(spec)
    finally:
        registry.close_all()


def test_proxycommand_in_ssh_args(sshd: Target, sshd2: Target, tmp_path: Path) -> None:
    command = (
        f"ssh -F none -o BatchMode=yes -o UserKnownHostsFile={sshd.known_hosts} "
        f"-i {sshd.user.key_path} -p {sshd.port} -W %h:%p fptest@127.0.0.1"
    )
    spec = HostSpec(
        "127.0.0.1", sshd2.port, "fptest", ssh_args=("-o", f"ProxyCommand={command}"), id="pc"
    )
    before = logins(sshd)
    registry = ConnectionRegistry(Connector(settings(sshd2)))
    try:
        conn = registry.get(spec)
        assert isinstance(conn.transport.sock, paramiko.ProxyCommand)
        process = conn.transport.sock.process
        assert conn.run("id -un", hide=True).stdout == "fptest\n"
    finally:
        registry.close_all()
    assert logins(sshd) == before + 1
    assert process.returncode is not None  # reaped on close, not left to the GC
    assert process.stdout.closed


def test_unsupported_ssh_args_are_warnings_naming_host_and_argument(sshd: Target) -> None:
    spec = HostSpec(
        "127.0.0.1",
        sshd.port,
        "fptest",
        ssh_args=("-o", "ControlMaster=auto", "-o", "ControlPersist=60s", "-A", "-q"),
        id="web1",
    )
    connector = Connector(settings(sshd))
    registry = ConnectionRegistry(connector)
    try:
        registry.get(spec)
    finally:
        registry.close_all()
    assert connector.config_warnings(spec) == (
        f"web1 (fptest@127.0.0.1:{sshd.port}): ssh argument '-o ControlMaster=auto' is not "
        "supported here and is ignored (control master mode: each test process opens its own "
        "connection)",
        f"web1 (fptest@127.0.0.1:{sshd.port}): ssh argument '-A' is not supported here and "
        "is ignored (agent forwarding: commands on the host do not reach your ssh agent)",
    )
