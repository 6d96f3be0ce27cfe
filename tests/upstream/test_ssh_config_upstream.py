"""Upstream canaries: what paramiko and Fabric do with an ssh client config, pinned as today.

They assert **upstream's behaviour, bugs included**, which pytest_fabricplus/ssh/sshconfig.py
and ssh/connector.py work around. When one starts failing, upstream changed: read what
changed, adapt or delete the workaround it names, and delete the canary.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import paramiko
from fabric import Config, Connection


def test_paramiko_ssh_config_ignores_include(tmp_path: Path) -> None:
    """Why we resolve through ``ssh -G`` (sshconfig.py): an Included host is unknown."""
    included = tmp_path / "hosts.conf"
    included.write_text("Host web1\n  HostName 10.1.2.3\n  Port 2200\n")
    config = tmp_path / "config"
    config.write_text(f"Include {included}\n")
    found = paramiko.SSHConfig.from_path(str(config)).lookup("web1")
    assert found["hostname"] == "web1"  # not 10.1.2.3
    assert "port" not in found


def test_fabric_proxycommand_gateway_loses_the_port(tmp_path: Path) -> None:
    """Why Connector opens the ProxyCommand itself: Fabric re-expands ``%p`` with a dummy
    config that has no Port, so it becomes 22 whatever the host's port."""
    conn = Connection(
        "127.0.0.1", port=2222, gateway="echo %h:%p", config=Config(ssh_config=paramiko.SSHConfig())
    )
    sock = conn.open_gateway()
    try:
        assert sock.cmd[-1] == "127.0.0.1:22"
    finally:
        sock.close()
        reap(sock.process)


def test_paramiko_proxycommand_close_does_not_reap() -> None:
    """Why ReapedProxyCommand (connector.py) waits for the command and closes its pipes."""
    sock = paramiko.ProxyCommand(f"{sys.executable} -c 'import time; time.sleep(30)'")
    process = sock.process
    sock.close()  # SIGTERM only
    try:
        assert not process.stdout.closed  # left to the garbage collector
    finally:
        reap(process)


def reap(process: Any) -> None:
    process.wait(timeout=5)
    for stream in (process.stdin, process.stdout, process.stderr):
        stream.close()
