"""hosts/knownhosts.py: parsing, matching, certificates, verdicts and algorithm order.

Certificates are made with ``ssh-keygen -s`` (no sshd); signatures are verified with the
plugin's paramiko verifier. The same rules run against ``ssh`` itself in
tests/integration/test_openssh_parity.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import subprocess
from pathlib import Path

import pytest

from pytest_fabricplus.hosts import knownhosts
from pytest_fabricplus.hosts.knownhosts import (
    CA_MARKER,
    REVOKED_MARKER,
    CertError,
    Certificate,
    HostEntries,
    certificates_first,
    check_host_key,
    match_host,
    match_pattern,
    order_host_key_algorithms,
    parse_known_hosts,
    plain_key_type,
)
from pytest_fabricplus.ssh.hostkeys import verify_signature

NOW = 1_800_000_000.0


def keygen(path: Path, key_type: str = "ed25519") -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", key_type, "-N", "", "-C", "", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


def blob(line: str) -> bytes:
    return base64.b64decode(line.split()[1])


def sign(ca: Path, key: Path, *options: str) -> bytes:
    subprocess.run(
        ["ssh-keygen", "-q", "-s", str(ca), "-I", "test", *options, str(key.with_suffix(".pub"))],
        check=True,
        capture_output=True,
    )
    return blob(Path(f"{key}-cert.pub").read_text())


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    d = tmp_path_factory.mktemp("keys")
    made: dict[str, object] = {"dir": d}
    for name, key_type in (("ca", "ed25519"), ("other_ca", "ecdsa"), ("host", "ed25519")):
        made[name] = keygen(d / name, key_type)
    made["rsa_host"] = keygen(d / "rsa_host", "rsa")
    made["rsa_ca"] = keygen(d / "rsa_ca", "rsa")
    return made


def cert_of(keys: dict[str, object], *options: str, ca: str = "ca", host: str = "host") -> bytes:
    d = keys["dir"]
    assert isinstance(d, Path)
    return sign(d / ca, d / host, *options)


def view(name: str, *lines: str) -> HostEntries:
    parsed = parse_known_hosts("\n".join(lines) + "\n", "kh")
    assert parsed.warnings == []
    return HostEntries.select(name, parsed.entries)


# -- parsing and matching ---------------------------------------------------------------


def test_parse_markers_comments_and_bad_lines(keys: dict[str, object]) -> None:
    text = "\n".join(
        [
            "# comment",
            "",
            f"@cert-authority *.corp {keys['ca']}",
            f"@revoked * {keys['host']} a comment",
            f"  host1,host2 {keys['host']}",
            f"@bogus * {keys['host']}",
            "lonely",
            "h ssh-ed25519 not!base64",
            f"h ssh-rsa {str(keys['host']).split()[1]}",
            "|1|bad|hash ssh-ed25519 AAAA",
            f"@cert-authority @revoked * {keys['host']}",
        ]
    )
    parsed = parse_known_hosts(text, "/etc/kh")
    assert [(e.marker, e.hosts, e.line) for e in parsed.entries] == [
        (CA_MARKER, "*.corp", 3),
        (REVOKED_MARKER, "*", 4),
        ("", "host1,host2", 5),
    ]
    assert [w.split(":", 2)[:2] for w in parsed.warnings] == [
        ["/etc/kh", str(n)] for n in (6, 7, 8, 9, 10, 11)
    ]
    assert "the key is a ssh-ed25519 key, the line says ssh-rsa" in parsed.warnings[3]


@pytest.mark.parametrize(
    ("text", "pattern", "expected"),
    [
        ("web1.example.com", "*.example.com", True),
        ("example.com", "*.example.com", False),
        ("web1", "web?", True),
        ("web10", "web?", False),
        ("[10.0.0.1]:2222", "[10.0.0.?]:*", True),
        ("aXbXc", "a*b*c", True),
        ("abc", "a*b*c*d", False),
        ("", "*", True),
    ],
)
def test_match_pattern(text: str, pattern: str, expected: bool) -> None:
    assert match_pattern(text, pattern) is expected


def test_match_host_lists_negation_case_and_hashes() -> None:
    assert match_host("web.EXAMPLE.com", "*.example.com,!db.example.com")
    assert not match_host("db.example.com", "*.example.com,!db.example.com")
    assert not match_host("db.example.com", "!db.example.com")  # a negation alone: no match
    salt = bytes(range(20))
    digest = hmac.new(salt, b"[10.0.0.1]:2222", hashlib.sha1).digest()
    hashed = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    assert match_host("[10.0.0.1]:2222", hashed)
    assert not match_host("10.0.0.1", hashed)


def test_indexed_lookup_matches_every_entry_in_file_order(
    keys: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``KnownHostsParse.matching`` (a dict for plain names) finds what trying every line
    finds, in the same order: plain, listed, case-folded, wildcard, negated, hashed, markers."""
    key = str(keys["host"])
    salt = bytes(range(20))
    digest = hmac.new(salt, b"[10.0.0.1]:2222", hashlib.sha1).digest()
    hashed = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    fields = [
        "web1",
        "WEB2,web1",
        "[10.0.0.1]:2222",
        "10.0.0.1",
        "web?",
        "*.example.com,!db.example.com",
        "db.example.com",
        hashed,
        "web1,,web3",
        "[10.0.0.1]:2222,10.0.0.1",
    ]
    lines = [f"{f} {key}" for f in fields]
    lines.insert(3, f"@cert-authority web1,*.corp {keys['ca']}")
    lines.append(f"@revoked web2 {key}")
    parsed = parse_known_hosts("\n".join(lines) + "\n", "kh")
    assert parsed.warnings == []
    names = [
        "web1",
        "Web2",
        "web3",
        "webx",
        "[10.0.0.1]:2222",
        "10.0.0.1",
        "a.corp",
        "db.example.com",
        "x.example.com",
        "web",
        "nothing",
        "[10.0.0.1]:22",
    ]
    for name in names:
        expected = HostEntries.select(name, parsed.entries).entries
        assert parsed.matching(name) == expected, name
    assert [e.line for e in parsed.matching("web1")] == [1, 2, 4, 6, 10]
    # plain names are not matched line by line (a fleet's known_hosts has a line per host)
    calls: list[str] = []
    real = knownhosts.match_host
    monkeypatch.setattr(knownhosts, "match_host", lambda n, h: calls.append(h) or real(n, h))
    assert parsed.matching("web1")
    assert len(calls) == 4  # the three with "*" or "?" and the hashed one
    # entries added after a lookup (another file of the same set) are found too
    parse_known_hosts(f"web1 {key}\n", "kh2", parsed)
    assert [e.where for e in parsed.matching("WEB1")][-1] == "kh2:1"


# -- certificates ---------------------------------------------------------------------


def test_certificate_fields(keys: dict[str, object]) -> None:
    cert = Certificate.parse(
        cert_of(keys, "-h", "-n", "a.example,b.example", "-z", "42", "-V", "20300101:20300201")
    )
    assert cert.cert_type_name == "ssh-ed25519-cert-v01@openssh.com"
    assert cert.key_blob == blob(str(keys["host"]))
    assert cert.signature_key == blob(str(keys["ca"]))
    assert (cert.serial, cert.type, cert.key_id) == (42, 2, "test")
    assert cert.principals == ("a.example", "b.example")
    assert cert.critical_options == ()
    assert cert.signature_algorithm == "ssh-ed25519"
    assert verify_signature(cert.signature_key, cert.signature, cert.signed_data)
    assert not verify_signature(cert.signature_key, cert.signature, cert.signed_data + b"x")
    with pytest.raises(CertError):
        Certificate.parse(cert_of(keys, "-h", "-n", "x")[:-10])


def test_certificate_problems(keys: dict[str, object]) -> None:
    def problem(*options: str, name: str = "web") -> str | None:
        return Certificate.parse(cert_of(keys, *options)).host_problem(name, NOW)

    assert problem("-h", "-n", "web") is None
    assert "user certificate" in str(problem("-n", "web"))
    assert "has expired" in str(problem("-h", "-n", "web", "-V", "20200101:20200102"))
    assert "not yet valid" in str(problem("-h", "-n", "web", "-V", "20990101:20990102"))
    assert "'web' is not a principal" in str(problem("-h", "-n", "web.example"))
    assert "'web' is not a principal" in str(problem("-h", "-n", "w*"))  # exact, as ssh 9.2
    assert "lists no principals" in str(problem("-h"))
    assert "critical options (force-command)" in str(
        problem("-h", "-n", "web", "-O", "force-command=true")
    )
    rsa_sha1 = Certificate.parse(cert_of(keys, "-h", "-n", "web", "-t", "ssh-rsa", ca="rsa_ca"))
    assert "ssh-rsa, which OpenSSH no longer accepts" in str(rsa_sha1.host_problem("web", NOW))


# -- verdicts -------------------------------------------------------------------------


def verdict(keys: dict[str, object], presented: bytes, *lines: str, port_view: bool = False):  # type: ignore[no-untyped-def]
    views = [view("[web]:2222", *lines)]
    if port_view:
        views.append(view("web", *lines))
    return check_host_key(views, presented, "web", verify_signature, now=NOW)


def test_plain_key_verdicts(keys: dict[str, object]) -> None:
    host, rsa = str(keys["host"]), str(keys["rsa_host"])
    presented = blob(host)
    assert verdict(keys, presented, f"[web]:2222 {host}").status == "ok"
    assert verdict(keys, presented).status == "unknown"
    changed = verdict(keys, presented, f"[web]:2222 {keys['ca']}")  # another ed25519 key
    assert changed.status == "changed"
    assert changed.entry is not None
    other = verdict(keys, presented, f"[web]:2222 {rsa}")
    assert other.status == "other-type"
    assert [e.key_type for e in other.others] == ["ssh-rsa"]
    revoked = verdict(keys, presented, f"[web]:2222 {host}", f"@revoked * {host}")
    assert revoked.status == "revoked"
    # ssh looks a host on another port up again without the port -- only to accept
    assert verdict(keys, presented, f"web {host}", port_view=True).status == "ok"
    assert verdict(keys, presented, f"web {keys['ca']}", port_view=True).status == "unknown"


def test_certificate_verdicts(keys: dict[str, object]) -> None:
    host = str(keys["host"])
    good = cert_of(keys, "-h", "-n", "web")
    ca_line = f"@cert-authority * {keys['ca']}"
    ok = verdict(keys, good, ca_line)
    assert ok.status == "ok"
    assert ok.entry is not None
    assert ok.entry.marker == CA_MARKER
    wrong_ca = verdict(keys, good, f"@cert-authority * {keys['other_ca']}")
    assert wrong_ca.status == "unknown"
    assert "not signed by a trusted CA" in str(wrong_ca.cert_problem)
    expired = cert_of(keys, "-h", "-n", "web", "-V", "20200101:20200102")
    assert verdict(keys, expired, ca_line).status == "unknown"
    fallback = verdict(keys, expired, ca_line, f"[web]:2222 {host}")
    assert fallback.status == "ok"
    assert "expired" in str(fallback.cert_problem)
    revoked_ca = verdict(keys, good, ca_line, f"@revoked * {keys['ca']}")
    assert revoked_ca.status == "revoked"
    assert revoked_ca.entry is not None
    assert revoked_ca.entry.key_blob == blob(str(keys["ca"]))
    assert verdict(keys, good, ca_line, f"@revoked * {host}").status == "revoked"
    no_ca = verdict(keys, good)
    assert no_ca.status == "unknown"
    assert "no @cert-authority entry matches" in str(no_ca.cert_problem)
    plain_with_ca_only = verdict(keys, blob(host), ca_line)
    assert plain_with_ca_only.status == "unknown"
    assert plain_with_ca_only.certificate is None
    assert [e.marker for e in plain_with_ca_only.others] == [CA_MARKER]


# -- algorithm order ------------------------------------------------------------------

PARAMIKO = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
    "ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "ssh-rsa-cert-v01@openssh.com",
)


def test_plain_key_type() -> None:
    assert plain_key_type("rsa-sha2-512-cert-v01@openssh.com") == "ssh-rsa"
    assert plain_key_type("ecdsa-sha2-nistp256") == "ecdsa-sha2-nistp256"


def test_order_known_types_first(keys: dict[str, object]) -> None:
    base = certificates_first(PARAMIKO)
    assert base[:5] == PARAMIKO[5:]
    rsa_known = view("h", f"h {keys['rsa_host']}")
    assert order_host_key_algorithms(base, [rsa_known]) == (
        "rsa-sha2-512-cert-v01@openssh.com",
        "rsa-sha2-256-cert-v01@openssh.com",
        "ssh-rsa-cert-v01@openssh.com",
        "rsa-sha2-512",
        "rsa-sha2-256",
        "ssh-rsa",
        "ssh-ed25519-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
    )
    # the first algorithm's type is known: the list as it is
    ed_known = view("h", f"h {keys['host']}")
    assert order_host_key_algorithms(base, [ed_known]) == base
    # a CA entry and an RSA key: every certificate algorithm, then RSA
    ca_rsa = view("h", f"@cert-authority * {keys['ca']}", f"h {keys['rsa_host']}")
    assert order_host_key_algorithms(base, [ca_rsa]) == (
        *PARAMIKO[5:],
        "rsa-sha2-512",
        "rsa-sha2-256",
        "ssh-rsa",
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
    )
    assert order_host_key_algorithms(PARAMIKO, [view("h")]) == PARAMIKO
