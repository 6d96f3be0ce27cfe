"""Host keys and certificates with OpenSSH as the judge: ``ssh`` and we, same sshd, same files.

For every case, the same known_hosts file is given to ``ssh -o StrictHostKeyChecking=yes``
and to our Connector (``--host-key-policy=reject``, the default); both must connect, or both
refuse for the same class of reason (unknown / changed / revoked). Real sshd processes with
``HostCertificate``; certificates made with ``ssh-keygen -s`` here. One sshd per host-key
configuration, shared by the module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_fabricplus import Connector, HostSpec, Settings
from pytest_fabricplus.errors import HostUnreachable
from testing.sshd import SshdServer, User, run

SERVERS = {
    # name: (host key types, certificate of the first: ssh-keygen -s options or None)
    "keys": (("ed25519", "ecdsa", "rsa"), None),
    "ed_rsa": (("ed25519", "rsa"), None),
    "cert": (("ed25519", "rsa"), ["-h", "-n", "127.0.0.1,localhost"]),
    "cert_wildcard": (("ed25519",), ["-h", "-n", "127.0.0.*"]),
    "expired": (("ed25519",), ["-h", "-n", "127.0.0.1", "-V", "-2d:-1d"]),
    "future": (("ed25519",), ["-h", "-n", "127.0.0.1", "-V", "+1d:+2d"]),
    "principal": (("ed25519",), ["-h", "-n", "db.example.com"]),
    "user_cert": (("ed25519",), ["-n", "127.0.0.1"]),
    "other_ca": (("ed25519",), ["-h", "-n", "127.0.0.1"]),
    "user_ca": (("ed25519",), None),  # TrustedUserCAKeys: the user CA
    "cert_ecdsa": (("ecdsa",), ["-h", "-n", "127.0.0.1"]),
    "cert_rsa": (("rsa", "ed25519"), ["-h", "-n", "127.0.0.1"]),
}


@dataclass
class Lab:
    servers: dict[str, SshdServer]
    ca: str  # "ssh-ed25519 AAAA..." of the host CA
    other_ca: str
    user: User
    workdir: Path

    def key(self, server: str, key_type: str = "ed25519") -> str:
        return self.servers[server].public_key_of(key_type)

    def name(self, server: str) -> str:
        return f"[127.0.0.1]:{self.servers[server].port}"


def keygen(path: Path, key_type: str = "ed25519") -> str:
    run(["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", "", "-f", str(path)])
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, ssh_users: tuple[User, User]) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("parity")
    ca_key, other_key = base / "host_ca", base / "other_ca"
    ca, other = keygen(ca_key), keygen(other_key, "ecdsa")
    keygen(base / "user_ca")
    servers: dict[str, SshdServer] = {}
    try:
        for name, (types, cert) in SERVERS.items():
            workdir = base / "servers" / name
            workdir.mkdir(parents=True)
            server = SshdServer(workdir, [ssh_users[0]], key_types=types)
            certificates: tuple[Path, ...] = ()
            if cert is not None:
                host_key = server.host_key_of(types[0])
                keygen(host_key, types[0])
                signer = other_key if name == "other_ca" else ca_key
                run(["ssh-keygen", "-q", "-s", str(signer), "-I", name, *cert, str(host_key)])
                certificates = (host_key.parent / f"{host_key.name}-cert.pub",)
            server.host_certificates = certificates
            if name == "user_ca":
                server.trusted_user_ca_keys = base / "user_ca.pub"
            servers[name] = server.start()
        yield Lab(servers, ca, other, ssh_users[0], base)
    finally:
        for server in servers.values():
            server.cleanup()


def hashed(name: str) -> str:
    salt = os.urandom(20)
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


Lines = Callable[[Lab], list[str]]

# (case id, server, known_hosts lines, expected verdict, phrases our refusal must contain,
# separated by " && ")
CASES: list[tuple[str, str, Lines, str, str]] = [
    ("ca-wildcard", "cert", lambda lab: [f"@cert-authority * {lab.ca}"], "connect", ""),
    ("ecdsa-cert", "cert_ecdsa", lambda lab: [f"@cert-authority * {lab.ca}"], "connect", ""),
    # the RSA key is certified, the ed25519 one is not: the certificate is preferred
    ("rsa-cert", "cert_rsa", lambda lab: [f"@cert-authority * {lab.ca}"], "connect", ""),
    (
        "rsa-cert-wrong-ca",
        "cert_rsa",
        lambda lab: [f"@cert-authority * {lab.other_ca}"],
        "unknown",
        "not signed by a trusted CA",
    ),
    (
        "ca-port-pattern",
        "cert",
        lambda lab: [f"@cert-authority {lab.name('cert')} {lab.ca}"],
        "connect",
        "",
    ),
    (
        "ca-wildcard-in-port-pattern",
        "cert",
        lambda lab: [f"@cert-authority [127.0.0.?]:* {lab.ca}"],
        "connect",
        "",
    ),
    (
        "ca-hashed",
        "cert",
        lambda lab: [f"@cert-authority {hashed(lab.name('cert'))} {lab.ca}"],
        "connect",
        "",
    ),
    (
        "ca-negated",
        "cert",
        lambda lab: [f"@cert-authority *,!{lab.name('cert')} {lab.ca}"],
        "connect",  # excluded as [127.0.0.1]:port, matched as 127.0.0.1 (ssh looks again)
        "",
    ),
    (
        "ca-negated-both-names",
        "cert",
        lambda lab: [f"@cert-authority *,!{lab.name('cert')},!127.0.0.1 {lab.ca}"],
        "unknown",
        "unknown host key && no @cert-authority entry matches && To trust the CA",
    ),
    (
        "ca-other-host-pattern",
        "cert",
        lambda lab: [f"@cert-authority *.example.com {lab.ca}"],
        "unknown",
        "unknown host key",
    ),
    (
        # ssh up to 10.2 (Debian 12: 9.2) matches host principals exactly
        "principal-wildcard",
        "cert_wildcard",
        lambda lab: [f"@cert-authority * {lab.ca}"],
        "unknown",
        "'127.0.0.1' is not a principal",
    ),
    (
        "wrong-ca",
        "other_ca",
        lambda lab: [f"@cert-authority * {lab.ca}"],
        "unknown",
        "not signed by a trusted CA && To trust the CA that signed it, add `@cert-authority",
    ),
    (
        "expired",
        "expired",
        lambda lab: [f"@cert-authority * {lab.ca}"],
        "unknown",
        "certificate has expired && Re-sign the host certificate (`ssh-keygen -s CA_KEY -h -n "
        "127.0.0.1 -V ...`)",
    ),
    (
        "not-yet-valid",
        "future",
        lambda lab: [f"@cert-authority * {lab.ca}"],
        "unknown",
        "not yet valid",
    ),
    (
        "wrong-principal",
        "principal",
        lambda lab: [f"@cert-authority * {lab.ca}"],
        "unknown",
        "'127.0.0.1' is not a principal",
    ),
    (
        "user-cert-as-host-cert",
        "user_cert",
        lambda lab: [f"@cert-authority * {lab.ca}"],
        "unknown",
        "user certificate, not a host certificate",
    ),
    (
        "expired-cert-but-known-key",
        "expired",
        lambda lab: [f"@cert-authority * {lab.ca}", f"{lab.name('expired')} {lab.key('expired')}"],
        "connect",
        "",
    ),
    (
        "revoked-ca",
        "cert",
        lambda lab: [f"@cert-authority * {lab.ca}", f"@revoked * {lab.ca}"],
        "revoked",
        "the CA key ssh-ed25519",
    ),
    (
        "revoked-host-key",
        "keys",
        lambda lab: [f"{lab.name('keys')} {lab.key('keys')}", f"@revoked * {lab.key('keys')}"],
        "revoked",
        "is marked @revoked in",
    ),
    (
        "revoked-key-of-certified-host",
        "cert",
        lambda lab: [f"@cert-authority * {lab.ca}", f"@revoked * {lab.key('cert')}"],
        "revoked",
        "is marked @revoked in",
    ),
    (
        "revoked-other-host-only",
        "keys",
        lambda lab: [
            f"{lab.name('keys')} {lab.key('keys')}",
            f"@revoked *.example.com {lab.key('keys')}",
        ],
        "connect",
        "",
    ),
    (
        "rsa-only-on-ed25519-and-rsa-host",
        "ed_rsa",
        lambda lab: [f"{lab.name('ed_rsa')} {lab.key('ed_rsa', 'rsa')}"],
        "connect",
        "",
    ),
    (
        "ecdsa-only",
        "keys",
        lambda lab: [f"{lab.name('keys')} {lab.key('keys', 'ecdsa')}"],
        "connect",
        "",
    ),
    (
        "mixed-rsa-and-hashed-ecdsa",
        "keys",
        lambda lab: [
            f"{lab.name('keys')} {lab.key('keys', 'rsa')}",
            f"{hashed(lab.name('keys'))} {lab.key('keys', 'ecdsa')}",
        ],
        "connect",
        "",
    ),
    (
        "hashed",
        "keys",
        lambda lab: [f"{hashed(lab.name('keys'))} {lab.key('keys')}"],
        "connect",
        "",
    ),
    (
        "comma-list-and-comments",
        "keys",
        lambda lab: [
            "# a comment",
            "",
            f"db.example.com,{lab.name('keys')} {lab.key('keys', 'rsa')} comment text",
        ],
        "connect",
        "",
    ),
    (
        "negated-plain-pattern",
        "keys",
        lambda lab: [f"[127.0.0.1]:*,!{lab.name('keys')} {lab.key('keys')}"],
        "unknown",
        "unknown host key",
    ),
    (
        "known-without-port",
        "keys",
        lambda lab: [f"127.0.0.1 {lab.key('keys')}"],
        "connect",
        "",
    ),
    (
        "ca-only-host-without-cert",
        "keys",
        lambda lab: [f"@cert-authority * {lab.ca}"],
        "unknown",
        "the host presented a plain key, not a certificate",
    ),
    (
        "changed",
        "keys",
        lambda lab: [f"{lab.name('keys')} {lab.key('ed_rsa')}"],
        "changed",
        "host key CHANGED",
    ),
    ("unknown", "keys", lambda lab: [], "unknown", "unknown host key"),
    (
        "bad-lines-skipped",
        "keys",
        lambda lab: [
            "@bogus-marker * ssh-ed25519 AAAA",
            "truncated-line",
            f"{lab.name('keys')} ssh-ed25519 not-base64!",
            f"{lab.name('keys')} {lab.key('keys')}",
        ],
        "connect",
        "",
    ),
]


def ssh_verdict(
    lab: Lab,
    server: SshdServer,
    known: Path,
    identity: Path | None = None,
    config: Path | None = None,
) -> tuple[str, str]:
    identity_args = ["-i", str(identity or lab.user.key_path)] if config is None else []
    done = subprocess.run(
        [
            "ssh",
            "-F",
            str(config or "/dev/null"),
            "-o",
            "PasswordAuthentication=no",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={known}",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            "IdentitiesOnly=yes",
            *identity_args,
            "-p",
            str(server.port),
            f"{lab.user.name}@127.0.0.1",
            "true",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    err = done.stderr
    if done.returncode == 0:
        return "connect", err
    if "REVOKED HOST KEY" in err:
        return "revoked", err
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in err:
        return "changed", err
    if "Host key verification failed" in err:
        return "unknown", err
    if "Permission denied" in err:
        return "refused (auth)", err
    return f"other ({done.returncode})", err


def our_verdict(
    lab: Lab,
    server: SshdServer,
    known: Path,
    policy: str = "reject",
    identity: Path | None = None,
    config: Path | None = None,
) -> tuple[str, str]:
    settings = Settings(
        known_hosts=str(known),
        ssh_identity_file=None if config else str(identity or lab.user.key_path),
        ssh_config=str(config) if config else None,
        host_key_policy=policy,
        explicit=frozenset({"host_key_policy"}),
    )
    spec = HostSpec("127.0.0.1", server.port, lab.user.name, id="target")
    try:
        conn = Connector(settings, env={}).open(spec)
    except HostUnreachable as exc:
        if exc.cause != "host-key":
            return f"refused ({exc.cause})", str(exc)
        text = str(exc)
        if "REVOKED" in text:
            return "revoked", text
        if "CHANGED" in text:
            return "changed", text
        return "unknown", text
    try:
        assert conn.run("true", hide=True).ok
    finally:
        conn.close()
    return "connect", ""


@pytest.mark.parametrize(
    ("server", "lines", "expected", "phrase"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_same_verdict_as_openssh(
    lab: Lab, tmp_path: Path, server: str, lines: Lines, expected: str, phrase: str
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("".join(line + "\n" for line in lines(lab)))
    target = lab.servers[server]
    theirs, their_text = ssh_verdict(lab, target, known)
    assert theirs == expected, their_text  # the case is what we think it is
    ours, our_text = our_verdict(lab, target, known)
    assert ours == theirs, our_text
    for part in filter(None, phrase.split(" && ")):
        assert part in our_text, our_text


def test_known_only_under_a_type_the_host_no_longer_offers(lab: Lab, tmp_path: Path) -> None:
    """ssh calls this a changed key (it found keys of another type); so do we refuse it under
    reject and warn (ssh's accept-new refuses it too), but we say what happened instead of
    claiming an attack and advising to delete a key: known_hosts has only an ECDSA key, the
    host offers none (ed25519 and RSA)."""
    known = tmp_path / "known_hosts"
    known.write_text(f"{lab.name('ed_rsa')} {lab.key('keys', 'ecdsa')}\n")
    target = lab.servers["ed_rsa"]
    theirs, their_text = ssh_verdict(lab, target, known)
    assert theirs == "changed", their_text
    ours, our_text = our_verdict(lab, target, known)
    assert ours == "unknown", our_text
    assert "CHANGED" not in our_text
    assert "ssh-keygen -R" not in our_text
    assert (
        f"no ssh-ed25519 host key is known for {lab.name('ed_rsa')}: known_hosts has only "
        f"ecdsa-sha2-nistp256 keys for it ({known}:1), and the server did not offer that type"
    ) in our_text
    for policy, verdict in (("warn", "unknown"), ("accept", "connect")):
        got, text = our_verdict(lab, target, known, policy)
        assert got == verdict, text


def user_cert(lab: Lab, key: Path, *options: str, ca: str = "user_ca") -> Path:
    """A user certificate for ``key`` (``KEY-cert.pub``), signed by ``ca`` for the login user."""
    run(["ssh-keygen", "-q", "-s", str(lab.workdir / ca), "-I", "user", "-n", lab.user.name,
         *options, str(key.with_suffix(".pub"))])  # fmt: skip
    return key.parent / f"{key.name}-cert.pub"


def known_for(lab: Lab, server: str, tmp_path: Path) -> Path:
    known = tmp_path / "known_hosts"
    known.write_text(f"{lab.name(server)} {lab.key(server)}\n")
    return known


def test_user_certificate_beside_the_key_logs_in(lab: Lab, tmp_path: Path) -> None:
    # the key is in no authorized_keys file: only the certificate lets it in
    key = tmp_path / "id_cert"
    keygen(key)
    target, known = lab.servers["user_ca"], known_for(lab, "user_ca", tmp_path)
    assert ssh_verdict(lab, target, known, identity=key)[0] == "refused (auth)"
    assert our_verdict(lab, target, known, identity=key)[0] == "refused (auth)"
    user_cert(lab, key)
    theirs, text = ssh_verdict(lab, target, known, identity=key)
    assert theirs == "connect", text
    ours, text = our_verdict(lab, target, known, identity=key)
    assert ours == "connect", text


def test_certificate_file_of_another_name_from_ssh_config(lab: Lab, tmp_path: Path) -> None:
    key = tmp_path / "id_other"
    keygen(key)
    cert = user_cert(lab, key).rename(tmp_path / "my-user-certificate.pub")
    config = tmp_path / "ssh_config"
    config.write_text(f"Host *\n  IdentityFile {key}\n  CertificateFile {cert}\n")
    target, known = lab.servers["user_ca"], known_for(lab, "user_ca", tmp_path)
    theirs, text = ssh_verdict(lab, target, known, config=config)
    assert theirs == "connect", text
    ours, text = our_verdict(lab, target, known, config=config)
    assert ours == "connect", text


def test_key_is_still_offered_beside_a_certificate_the_host_does_not_trust(
    lab: Lab, tmp_path: Path
) -> None:
    # the login key is authorized on every server; its certificate beside it has expired
    key = tmp_path / "id_login"
    key.write_bytes(lab.user.key_path.read_bytes())
    key.chmod(0o600)
    key.with_suffix(".pub").write_bytes(lab.user.key_path.with_suffix(".pub").read_bytes())
    user_cert(lab, key, "-V", "20200101:20200102")
    target, known = lab.servers["keys"], known_for(lab, "keys", tmp_path)
    theirs, text = ssh_verdict(lab, target, known, identity=key)
    assert theirs == "connect", text
    ours, text = our_verdict(lab, target, known, identity=key)
    assert ours == "connect", text


def test_target_behind_a_jump_host_is_verified_the_same_way(lab: Lab, tmp_path: Path) -> None:
    """The target's certificate is checked through the tunnel as on a direct connection; the
    jump host itself is known by its RSA key only (algorithm order applies to it too)."""
    jump_server, target = lab.servers["keys"], lab.servers["cert"]
    known = tmp_path / "known_hosts"
    settings = Settings(known_hosts=str(known), ssh_identity_file=str(lab.user.key_path))
    jump_spec = HostSpec("127.0.0.1", jump_server.port, lab.user.name, id="jump")
    spec = HostSpec("127.0.0.1", target.port, lab.user.name, id="target")
    for ca, expected in ((lab.ca, "connect"), (lab.other_ca, "unknown")):
        known.write_text(f"{lab.name('keys')} {lab.key('keys', 'rsa')}\n@cert-authority * {ca}\n")
        connector = Connector(settings, env={})
        jump = connector.open(jump_spec, hop=True)
        try:
            conn = connector.open(spec, jump=jump)
        except HostUnreachable as exc:
            assert expected == "unknown"
            assert "not signed by a trusted CA" in str(exc)
        else:
            assert expected == "connect"
            assert type(conn.transport.sock).__name__ == "Channel"  # through the jump host
            assert conn.run("true", hide=True).ok
            conn.close()
        finally:
            jump.close()


@pytest.mark.parametrize(
    ("server", "alias", "lines", "expected"),
    [
        ("keys", "box.example", lambda lab: [f"box.example {lab.key('keys')}"], "connect"),
        ("keys", "box.example", lambda lab: [f"{lab.name('keys')} {lab.key('keys')}"], "unknown"),
        ("cert", "localhost", lambda lab: [f"@cert-authority localhost {lab.ca}"], "connect"),
        # the certificate lists 127.0.0.1 and localhost, not the alias
        ("cert", "box.example", lambda lab: [f"@cert-authority * {lab.ca}"], "unknown"),
    ],
    ids=["alias-known", "alias-not-port-name", "alias-principal", "alias-not-a-principal"],
)
def test_host_key_alias(
    lab: Lab, tmp_path: Path, server: str, alias: str, lines: Lines, expected: str
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("".join(line + "\n" for line in lines(lab)))
    config = tmp_path / "ssh_config"
    config.write_text(f"Host *\n  HostKeyAlias {alias}\n  IdentityFile {lab.user.key_path}\n")
    target = lab.servers[server]
    theirs, text = ssh_verdict(lab, target, known, config=config)
    assert theirs == expected, text
    ours, text = our_verdict(lab, target, known, config=config)
    assert ours == theirs, text
