"""Accounts, required packages and file permissions."""

from __future__ import annotations

import pytest

from .conftest import Remote


def test_passwd_and_group_are_world_readable_not_writable(remote: Remote) -> None:
    for path in ("/etc/passwd", "/etc/group"):
        mode = remote.file_mode(path)
        assert mode & 0o004, f"{path} not readable"
        assert mode & 0o022 == 0, f"{path} is mode {mode:o}"


def test_shadow_is_not_world_readable(remote: Remote) -> None:
    assert remote.file_mode("/etc/shadow") & 0o007 == 0


def test_only_root_has_uid_0(remote: Remote) -> None:
    users = remote.run("awk -F: '$3 == 0 {print $1}' /etc/passwd").stdout.split()
    assert users == ["root"]


@pytest.mark.parametrize("account", ["root", "sshd"])
def test_service_accounts_exist(remote: Remote, account: str) -> None:
    assert remote.run(f"getent passwd {account}").ok


@pytest.mark.parametrize("package", ["openssh-server", "sudo"])
def test_required_packages_are_installed(remote: Remote, package: str) -> None:
    assert remote.package_installed(package), f"{package} is not installed"


def test_tmp_is_sticky(remote: Remote) -> None:
    assert remote.file_mode("/tmp") & 0o1000


@pytest.mark.hosts("tag:centos7")
def test_el7_hosts_only(remote: Remote) -> None:
    """Runs only on hosts tagged centos7 (container targets are tagged with their kind)."""
    assert remote.run("uname -s").stdout.strip() == "Linux"


@pytest.mark.su_user("root")
def test_no_account_has_an_empty_password(remote: Remote) -> None:
    """Reads /etc/shadow, so it runs as root: su where it works, else sudo (auto)."""
    shadow = remote.run("cat /etc/shadow")
    assert shadow.ok, shadow.stdout + shadow.stderr
    empty = [
        line.split(":")[0] for line in shadow.stdout.splitlines() if line.split(":")[1:2] == [""]
    ]
    assert empty == []
