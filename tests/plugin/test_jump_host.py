"""--jump-host and the inventory's jump= key: through ConnectionPlus' jump host support."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.targets import Target

TEST = """
def test_via_jump(connection):
    assert connection.jump_client is not None          # fabricplus' jump session
    assert type(connection.transport.sock).__name__ == "Channel"  # tunnelled, not direct TCP
    assert connection.run("id -un", hide=True).stdout.strip() == "fptest"
"""


def test_jump_host_option(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    pytester.makepyfile(TEST)
    result = pytester.runpytest(
        *sshd2.args(f"--jump-host={sshd.address}", known_hosts=both_known_hosts)
    )
    result.assert_outcomes(passed=1)


def test_inventory_jump_by_alias(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    pytester.makepyfile(TEST)
    (pytester.path / "inv.ini").write_text(
        f"[bastions]\nbastion ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user=fptest\n"
        f"[private]\ninner ansible_host=127.0.0.1 ansible_port={sshd2.port} ansible_user=fptest "
        "jump=bastion\n"
    )
    result = pytester.runpytest(
        "--hosts=inv.ini",
        "--hosts-limit=private",
        f"--known-hosts={both_known_hosts}",
        f"--ssh-identity-file={sshd.user.key_path}",
    )
    result.assert_outcomes(passed=1)


def test_unreachable_jump_host_names_both(
    pytester: pytest.Pytester, sshd2: Target, both_known_hosts: Path
) -> None:
    from testing.sshd import free_port

    port = free_port()
    pytester.makepyfile(TEST)
    result = pytester.runpytest(
        *sshd2.args(f"--jump-host=fptest@127.0.0.1:{port}", known_hosts=both_known_hosts)
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*cannot connect to 127.0.0.1 (fptest@127.0.0.1:{sshd2.port}): jump host "
            f"fptest@127.0.0.1:{port}: connection refused*"
        ]
    )
