"""--host-key-policy and --known-hosts against a real sshd: reject is the default."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from testing.targets import Target

TEST = "def test_a(connection):\n    connection.run('true')\n"


def hosts_args(sshd: Target, *extra: str) -> list[str]:
    return [
        f"--hosts={sshd.address}",
        f"--ssh-identity-file={sshd.user.key_path}",
        "-p",
        "no:cacheprovider",
        *extra,
    ]


def test_unknown_key_is_rejected_by_default_with_fingerprint_and_fix(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    pytester.makepyfile(TEST)
    result = pytester.runpytest(*hosts_args(sshd))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*cannot connect to 127.0.0.1 (fptest@127.0.0.1:{sshd.port}): unknown "
            f"host key (ssh-ed25519 key SHA256:* of [[]127.0.0.1]:{sshd.port}; no known_hosts file). "
            "Verify the fingerprint, then add it with "
            f"`ssh-keyscan -p {sshd.port} 127.0.0.1 >> ~/.ssh/known_hosts` or pass --known-hosts "
            "FILE; --host-key-policy=accept skips the check*",
        ]
    )


def test_unknown_key_fix_names_the_known_hosts_file_given(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    """With --known-hosts FILE, the fix adds the key to FILE (the file the run reads), not
    to ~/.ssh/known_hosts."""
    other = pytester.path / "fleet_known_hosts"
    other.write_text("# no key of this host\n")
    pytester.makepyfile(TEST)
    result = pytester.runpytest(*hosts_args(sshd, f"--known-hosts={other}"))
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*unknown host key (ssh-ed25519 key SHA256:* of [[]127.0.0.1]:{sshd.port}; "
            f"not in {other}). Verify the fingerprint, then add it with "
            f"`ssh-keyscan -p {sshd.port} 127.0.0.1 >> {other}`; --host-key-policy=accept*",
        ]
    )


def test_known_hosts_file_accepts_the_key(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile(TEST)
    result = pytester.runpytest(*hosts_args(sshd, f"--known-hosts={sshd.known_hosts}"))
    result.assert_outcomes(passed=1)


def test_user_known_hosts_is_read(pytester: pytest.Pytester, sshd: Target) -> None:
    # pytester points HOME at its own directory
    home_ssh = pytester.path / ".ssh"
    home_ssh.mkdir(exist_ok=True)
    (home_ssh / "known_hosts").write_text(sshd.server.known_hosts_line + "\n")
    pytester.makepyfile(TEST)
    pytester.runpytest(*hosts_args(sshd)).assert_outcomes(passed=1)


def test_changed_key_is_rejected_even_with_accept(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, tmp_path: Path
) -> None:
    # known_hosts claims sshd's address has sshd2's key: a changed host key
    wrong = tmp_path / "known_hosts"
    key = sshd2.server.known_hosts_line.split(" ", 1)[1]
    wrong.write_text(f"[127.0.0.1]:{sshd.port} {key}\n")
    pytester.makepyfile(TEST)
    for policy in ("reject", "accept"):
        result = pytester.runpytest(
            *hosts_args(sshd, f"--known-hosts={wrong}", f"--host-key-policy={policy}")
        )
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(
            [
                f"*host key CHANGED for [[]127.0.0.1]:{sshd.port}: known_hosts has ssh-ed25519 "
                f"SHA256:*, the server sent ssh-ed25519 SHA256:*ssh-keygen -R *"
            ]
        )


def test_accept_and_warn_are_explicit_and_shown_in_header(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    pytester.makepyfile(TEST)
    result = pytester.runpytest(*hosts_args(sshd, "--host-key-policy=accept"))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*host keys: accept*"])
    result = pytester.runpytest(
        *hosts_args(sshd, "--host-key-policy=warn", "--log-level=WARNING", "-rA")
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*accepting unknown host key: ssh-ed25519 key SHA256:*"])


def test_bad_policy_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--host-key-policy=trust")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*argument --host-key-policy: 'trust' is not one of reject, warn, accept"]
    )


def a_ca_line(tmp_path: Path, pattern: str) -> str:
    ca = tmp_path / "some_ca"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(ca)],
        check=True,
        capture_output=True,
    )
    return f"@cert-authority {pattern} " + " ".join(ca.with_suffix(".pub").read_text().split()[:2])


def test_cert_authority_and_revoked_lines_do_not_crash_the_run(
    pytester: pytest.Pytester, sshd: Target, tmp_path: Path
) -> None:
    # paramiko's HostKeys raised InvalidHostKey on these lines: INTERNALERROR, no test run
    other = sshd.server.known_hosts_line.split(" ", 1)[1]
    known = tmp_path / "known_hosts"
    known.write_text(
        a_ca_line(tmp_path, "*.corp.example.com")
        + "\n@revoked *.corp.example.com "
        + other
        + "\n"
        + sshd.server.known_hosts_line
        + "\n"
    )
    pytester.makepyfile(TEST)
    result = pytester.runpytest(*hosts_args(sshd, f"--known-hosts={known}"))
    result.assert_outcomes(passed=1)
    assert "INTERNALERROR" not in result.stdout.str()


def test_cert_authority_line_in_home_known_hosts(
    pytester: pytest.Pytester, sshd: Target, tmp_path: Path
) -> None:
    # fabricplus loads ~/.ssh/known_hosts with paramiko when it builds each connection
    home_ssh = pytester.path / ".ssh"
    home_ssh.mkdir(exist_ok=True)
    (home_ssh / "known_hosts").write_text(
        a_ca_line(tmp_path, "*") + "\n" + sshd.server.known_hosts_line + "\n"
    )
    pytester.makepyfile(TEST)
    result = pytester.runpytest(*hosts_args(sshd))
    result.assert_outcomes(passed=1)


def test_revoked_host_key_is_refused_whatever_the_policy(
    pytester: pytest.Pytester, sshd: Target, tmp_path: Path
) -> None:
    key = sshd.server.known_hosts_line.split(" ", 1)[1]
    known = tmp_path / "known_hosts"
    known.write_text(f"{sshd.server.known_hosts_line}\n@revoked * {key}\n")
    pytester.makepyfile(TEST)
    for policy in ("reject", "accept"):
        result = pytester.runpytest(
            *hosts_args(sshd, f"--known-hosts={known}", f"--host-key-policy={policy}")
        )
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(
            [
                f"*host key REVOKED for [[]127.0.0.1]:{sshd.port}: its ssh-ed25519 host key "
                f"SHA256:* is marked @revoked in {known}:2.*whatever --host-key-policy says*"
            ]
        )


def test_bad_known_hosts_lines_are_skipped_and_named(
    pytester: pytest.Pytester, sshd: Target, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"@bogus * ssh-ed25519 AAAA\ntruncated\n{sshd.server.known_hosts_line}\n")
    pytester.makepyfile(TEST)
    result = pytester.runpytest(*hosts_args(sshd, f"--known-hosts={known}"))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"WARNING known_hosts line skipped: {known}:1: unknown marker '@bogus'",
            f"WARNING known_hosts line skipped: {known}:2: no host, key type and key",
        ]
    )
