"""The same kind of checks written with testinfra's modules, through ``testinfra_host``.

``testinfra_host`` is a ``testinfra.host.Host`` whose commands run on this item's
``connection`` (same SSH session, same host parametrization, same su_user handling), so an
existing testinfra suite moves over by renaming its ``host`` argument.
"""

from __future__ import annotations

from typing import Any

import pytest

#: testinfra.host.Host (annotated loosely: testinfra ships no type information)
Host = Any


def listening_tcp_ports(host: Host) -> set[int]:
    """Ports some TCP socket listens on.

    testinfra's socket module (``host.socket("tcp://0.0.0.0:22").is_listening``) needs ``ss``
    or ``netstat`` on the target and raises RuntimeError without both (minimal images may
    have neither); then the kernel's own tables are read.
    """
    try:
        specs = host.socket.get_listening_sockets()  # "tcp://0.0.0.0:22", "unix:///..."
    except RuntimeError:
        ports = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            if not host.file(table).exists:
                continue
            for line in host.file(table).content_string.splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "0A":  # TCP_LISTEN
                    ports.add(int(local.rsplit(":", 1)[1], 16))
        return ports
    return {int(s.rsplit(":", 1)[1]) for s in specs if s.startswith("tcp://")}


@pytest.mark.control("CIS 5.2.0", title="Ensure sshd listens on port 22", severity="low")
def test_sshd_listens_on_port_22(testinfra_host: Host) -> None:
    assert 22 in listening_tcp_ports(testinfra_host)


@pytest.mark.control(
    "CIS 2.2.20", title="Ensure no clear-text remote login service listens", severity="high"
)
@pytest.mark.parametrize("port", [21, 23, 512, 513, 514])  # ftp, telnet, rexec, rlogin, rsh
def test_no_legacy_cleartext_service_listens(testinfra_host: Host, port: int) -> None:
    assert port not in listening_tcp_ports(testinfra_host)


@pytest.mark.control("FP 5.1", title="Ensure the SSH daemon is running", severity="medium")
def test_sshd_is_running(testinfra_host: Host) -> None:
    assert testinfra_host.process.filter(comm="sshd"), "no sshd process"


@pytest.mark.control("CIS 1.3.1")  # same control as in test_accounts_and_files.py
@pytest.mark.parametrize("package", ["openssh-server", "sudo"])
def test_required_packages(testinfra_host: Host, package: str) -> None:
    assert testinfra_host.package(package).is_installed


@pytest.mark.control(
    "CIS 2.3.4", title="Ensure telnet, rsh and NIS are not installed", severity="high"
)
@pytest.mark.parametrize("package", ["telnetd", "rsh-server", "nis"])
def test_insecure_packages_are_absent(testinfra_host: Host, package: str) -> None:
    assert not testinfra_host.package(package).is_installed


FILES = [
    ("/etc/passwd", "root", 0o644),
    ("/etc/group", "root", 0o644),
    ("/etc/shadow", "root", 0o640),
    ("/etc/ssh/sshd_config", "root", 0o644),
]


@pytest.mark.control(
    "CIS 6.1.1", title="Ensure account and SSH files are owned by root", severity="medium"
)
@pytest.mark.parametrize(("path", "owner", "allowed_mode"), FILES, ids=[f[0] for f in FILES])
def test_account_and_ssh_files(
    testinfra_host: Host, path: str, owner: str, allowed_mode: int
) -> None:
    f = testinfra_host.file(path)
    assert f.is_file
    assert f.user == owner
    assert f.mode & ~allowed_mode == 0, f"{path} is mode {f.mode:o}, at most {allowed_mode:o}"


@pytest.mark.control("CIS 6.2.3", title="Ensure the sshd account cannot log in", severity="medium")
def test_sshd_account_cannot_log_in(testinfra_host: Host) -> None:
    sshd = testinfra_host.user("sshd")
    assert sshd.exists
    assert sshd.shell.endswith(("/nologin", "/false"))
    assert sshd.uid != 0


@pytest.mark.control("CIS 6.2.9")  # one control, checked twice
def test_only_root_has_uid_0(testinfra_host: Host) -> None:
    users = testinfra_host.user().get_all_users
    assert [name for name in users if testinfra_host.user(name).uid == 0] == ["root"]


@pytest.mark.control("FP 1.1", title="The login user is unprivileged", severity="low")
def test_login_user_is_unprivileged(testinfra_host: Host) -> None:
    me = testinfra_host.user()
    assert me.uid != 0
    assert testinfra_host.file(me.home).user == me.name


@pytest.mark.control("CIS 6.2.1")
@pytest.mark.su_user("root")
def test_no_local_account_has_an_empty_password(testinfra_host: Host) -> None:
    """Reads the shadow file: as root (su where it works, else sudo), like connection.run."""
    assert testinfra_host.user().name == "root"
    empty = [
        name
        for name in testinfra_host.user().get_local_users
        if testinfra_host.user(name).password == ""
    ]
    assert empty == []
