"""Accounts, required packages and file permissions."""

from __future__ import annotations

import pytest

from .conftest import Remote


@pytest.mark.control(
    "CIS 6.1.2",
    title="Ensure permissions on /etc/passwd and /etc/group are configured",
    severity="high",
    tags=["files"],
)
def test_passwd_and_group_are_world_readable_not_writable(remote: Remote) -> None:
    for path in ("/etc/passwd", "/etc/group"):
        mode = remote.file_mode(path)
        assert mode & 0o004, f"{path} not readable"
        assert mode & 0o022 == 0, f"{path} is mode {mode:o}"


@pytest.mark.control(
    "CIS 6.1.3",
    title="Ensure /etc/shadow is not readable by others",
    severity="high",
    tags=["files", "accounts"],
)
def test_shadow_is_not_world_readable(remote: Remote) -> None:
    assert remote.file_mode("/etc/shadow") & 0o007 == 0


@pytest.mark.control(
    "CIS 6.2.9",
    title="Ensure root is the only UID 0 account",
    severity="critical",
    tags=["accounts"],
)
def test_only_root_has_uid_0(remote: Remote) -> None:
    users = remote.run("awk -F: '$3 == 0 {print $1}' /etc/passwd").stdout.split()
    assert users == ["root"]


@pytest.mark.control("CIS 6.2.2", title="Ensure the service accounts exist", severity="low")
@pytest.mark.parametrize("account", ["root", "sshd"])
def test_service_accounts_exist(remote: Remote, account: str) -> None:
    assert remote.run(f"getent passwd {account}").ok


@pytest.mark.control(
    "CIS 1.3.1", title="Ensure sudo and the SSH server are installed", severity="medium"
)
@pytest.mark.parametrize("package", ["openssh-server", "sudo"])
def test_required_packages_are_installed(remote: Remote, package: str) -> None:
    assert remote.package_installed(package), f"{package} is not installed"


@pytest.mark.control(
    "CIS 1.1.21",
    title="Ensure the sticky bit is set on /tmp",
    severity="medium",
    refs=["https://www.cisecurity.org/benchmark/distribution_independent_linux"],
)
def test_tmp_is_sticky(remote: Remote) -> None:
    assert remote.file_mode("/tmp") & 0o1000


@pytest.mark.control("EL7 0.1", title="EL7 hosts run a Linux kernel", severity="none")
@pytest.mark.hosts("tag:centos7")
def test_el7_hosts_only(remote: Remote) -> None:
    """Runs only on hosts tagged centos7 (container targets are tagged with their kind)."""
    assert remote.run("uname -s").stdout.strip() == "Linux"


@pytest.mark.control(
    "CIS 6.2.1", title="Ensure no account has an empty password", impact=0.8, tags=["accounts"]
)
@pytest.mark.su_user("root")
def test_no_account_has_an_empty_password(remote: Remote) -> None:
    """Reads /etc/shadow, so it runs as root: su where it works, else sudo (auto)."""
    shadow = remote.run("cat /etc/shadow")
    assert shadow.ok, shadow.stdout + shadow.stderr
    empty = [
        line.split(":")[0] for line in shadow.stdout.splitlines() if line.split(":")[1:2] == [""]
    ]
    assert empty == []


@pytest.mark.control(
    "CIS 6.2.8",
    title="Ensure users' home directories are not group or world writable",
    severity="medium",
    description="Checked as the user itself (su to fpsu; where su cannot run commands, sudo).",
    tags=["accounts", "run-as"],
)
@pytest.mark.su_user("fpsu")
def test_su_target_home_is_not_writable_by_others(remote: Remote) -> None:
    """Runs as fpsu, the targets' su-able user: with the verbose flag the run-as section shows
    su on ubuntu and sudo on centos7 (whose su refuses ``su -c`` from a non-terminal)."""
    assert remote.run("id -un").stdout.strip() == "fpsu"
    home = remote.run("echo $HOME").stdout.strip()
    assert home.endswith("/fpsu"), home
    assert remote.file_mode(home) & 0o022 == 0, f"{home} is writable by others"
