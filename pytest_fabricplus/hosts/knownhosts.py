"""known_hosts files and host certificates as OpenSSH reads them (pure: no paramiko).

What ``ssh`` does (``hostfile.c``, ``sshconnect.c`` ``check_host_key``, ``sshkey.c``,
``PROTOCOL.certkeys``), re-implemented here so that every verdict is ours:

* a line is ``[@cert-authority|@revoked] PATTERNS KEYTYPE BASE64 [comment]``; ``PATTERNS`` is a
  comma list of host names with ``*``/``?`` wildcards and ``!negations`` (one matching
  negation excludes the host), or one hashed name ``|1|salt|hmac-sha1``; a host on another
  port than 22 is written ``[host]:port``. Comments, blank lines and lines that do not parse
  are skipped (the latter with a warning naming ``file:line``).
* only the lines whose patterns match the host count, ``@revoked`` ones included.
* a plain key is "ok" when a plain entry holds the same key; "changed" when an entry of the
  same key type holds another one; "unknown" otherwise. (OpenSSH also says "changed" when
  only keys of *other* types are known; it avoids that case by offering the known types
  first, as :func:`order_host_key_algorithms` does for us. Where it still happens -- the
  host no longer offers the known type -- we say "other-type", not "changed".)
* a certificate is accepted when a ``@cert-authority`` entry matching the host holds the key
  that signed it, it is a host certificate, valid now, lists the host name among its
  principals, carries no critical option, and its signature verifies with an allowed
  algorithm. Principals match exactly, as in ``ssh`` up to 10.2 (Debian 12 has 9.2; later
  versions also take wildcard principals); a certificate without principals is refused, as
  in current ``ssh`` (older ones took it for any host: CVE-2024-7594). Otherwise ``ssh``
  falls back to the plain key inside the certificate, and so do we (the reason is kept for
  the message).
* a key, or the CA key that signed its certificate, held by a matching ``@revoked`` entry is
  refused, whatever the policy.
* a host on a port other than 22 that is unknown as ``[host]:port`` is looked up again as
  plain ``host``; only an accepted key counts there (``ssh``'s "checking without port
  identifier").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "CA_MARKER",
    "REVOKED_MARKER",
    "CertError",
    "Certificate",
    "Entry",
    "HostEntries",
    "KnownHostsParse",
    "Verdict",
    "certificates_first",
    "check_host_key",
    "match_host",
    "match_pattern",
    "order_host_key_algorithms",
    "parse_known_hosts",
    "plain_key_type",
]

CA_MARKER = "@cert-authority"
REVOKED_MARKER = "@revoked"
CERT_SUFFIX = "-cert-v01@openssh.com"
CERT_TYPE_USER = 1
CERT_TYPE_HOST = 2
#: OpenSSH's default ``CASignatureAlgorithms`` (no SHA-1 ``ssh-rsa``, no DSA)
CA_SIGNATURE_ALGORITHMS = frozenset(
    {
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "rsa-sha2-512",
        "rsa-sha2-256",
    }
)
#: plain key types and how many public fields follow the type name in their blob
KEY_FIELDS = {
    "ssh-ed25519": 1,
    "ssh-rsa": 2,
    "ssh-dss": 4,
    "ecdsa-sha2-nistp256": 2,
    "ecdsa-sha2-nistp384": 2,
    "ecdsa-sha2-nistp521": 2,
    "sk-ssh-ed25519@openssh.com": 2,
    "sk-ecdsa-sha2-nistp256@openssh.com": 3,
}
#: signature / host key algorithm names that use a key of another type name
ALGORITHM_KEY_TYPE = {"rsa-sha2-256": "ssh-rsa", "rsa-sha2-512": "ssh-rsa"}


def plain_key_type(algorithm: str) -> str:
    """The key type an algorithm uses: ``rsa-sha2-512-cert-v01@openssh.com`` -> ``ssh-rsa``."""
    if algorithm.endswith(CERT_SUFFIX):
        algorithm = algorithm[: -len(CERT_SUFFIX)]
    return ALGORITHM_KEY_TYPE.get(algorithm, algorithm)


# -- matching -----------------------------------------------------------------------------


def match_pattern(text: str, pattern: str) -> bool:
    """OpenSSH's ``match_pattern``: ``*`` any run, ``?`` any one character, else literal."""
    t = p = 0
    star_p, star_t = -1, 0
    while t < len(text):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == text[t]):
            t += 1
            p += 1
        elif p < len(pattern) and pattern[p] == "*":
            star_p, star_t = p, t
            p += 1
        elif star_p >= 0:
            p = star_p + 1
            star_t += 1
            t = star_t
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def match_pattern_list(name: str, patterns: str) -> int:
    """OpenSSH's ``match_hostname``: 1 a pattern matches, -1 a negation matches, 0 none."""
    name = name.lower()
    positive = 0
    for raw in patterns.split(","):
        negated = raw.startswith("!")
        pattern = (raw[1:] if negated else raw).lower()
        if match_pattern(name, pattern):
            if negated:
                return -1
            positive = 1
    return positive


def _hashed_parts(field_text: str) -> tuple[bytes, bytes] | None:
    """``|1|salt|hash`` as (salt, hash); None when malformed."""
    parts = field_text.split("|")
    if len(parts) != 4 or parts[0] != "" or parts[1] != "1":
        return None
    try:
        salt = base64.b64decode(parts[2], validate=True)
        digest = base64.b64decode(parts[3], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(salt) != 20 or len(digest) != 20:
        return None
    return salt, digest


def match_host(name: str, hosts: str) -> bool:
    """Whether a known_hosts host field (patterns or one hashed name) matches ``name``."""
    if hosts.startswith("|"):
        parts = _hashed_parts(hosts)
        if parts is None:
            return False
        salt, digest = parts
        mac = hmac.new(salt, name.encode(), hashlib.sha1).digest()
        return hmac.compare_digest(mac, digest)
    return match_pattern_list(name, hosts) == 1


# -- keys and certificates ----------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise ValueError("truncated")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def uint32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def uint64(self) -> int:
        value: int = struct.unpack(">Q", self.take(8))[0]
        return value

    def string(self) -> bytes:
        return self.take(self.uint32())

    def raw_string(self) -> bytes:
        """A string field with its length prefix, as it appears in the blob."""
        start = self.pos
        self.string()
        return self.data[start : self.pos]

    def done(self) -> bool:
        return self.pos == len(self.data)


def _pack_string(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


def key_type_of(blob: bytes) -> str:
    """The type name a public key (or certificate) blob starts with."""
    return _Reader(blob).string().decode("ascii", "replace")


class CertError(ValueError):
    """A certificate blob that does not parse."""


@dataclass(frozen=True)
class Certificate:
    """An OpenSSH certificate (``PROTOCOL.certkeys``), parsed; nothing verified yet."""

    cert_type_name: str
    key_blob: bytes  # the certified plain public key, as a plain key blob
    serial: int
    type: int
    key_id: str
    principals: tuple[str, ...]
    valid_after: int
    valid_before: int
    critical_options: tuple[str, ...]
    extensions: tuple[str, ...]
    signature_key: bytes
    signature: bytes
    signed_data: bytes

    @property
    def plain_type(self) -> str:
        return self.cert_type_name[: -len(CERT_SUFFIX)]

    @property
    def signature_algorithm(self) -> str:
        try:
            return _Reader(self.signature).string().decode("ascii", "replace")
        except ValueError:
            return ""

    @classmethod
    def parse(cls, blob: bytes) -> Certificate:
        try:
            reader = _Reader(blob)
            name = reader.string().decode("ascii")
            if not name.endswith(CERT_SUFFIX):
                raise CertError(f"{name} is not a certificate type")
            plain = name[: -len(CERT_SUFFIX)]
            count = KEY_FIELDS.get(plain)
            if count is None:
                raise CertError(f"unsupported certificate type {name}")
            reader.string()  # nonce
            fields = b"".join(reader.raw_string() for _ in range(count))
            serial = reader.uint64()
            cert_type = reader.uint32()
            key_id = reader.string().decode("utf-8", "replace")
            principals = _strings(reader.string())
            valid_after = reader.uint64()
            valid_before = reader.uint64()
            critical = _strings(reader.string(), pairs=True)
            extensions = _strings(reader.string(), pairs=True)
            reader.string()  # reserved
            signature_key = reader.string()
            signed = blob[: reader.pos]
            signature = reader.string()
            if not reader.done():
                raise CertError("trailing data after the signature")
        except (ValueError, UnicodeDecodeError) as exc:
            if isinstance(exc, CertError):
                raise
            raise CertError(f"malformed certificate ({exc})") from None
        return cls(
            cert_type_name=name,
            key_blob=_pack_string(plain.encode()) + fields,
            serial=serial,
            type=cert_type,
            key_id=key_id,
            principals=principals,
            valid_after=valid_after,
            valid_before=valid_before,
            critical_options=critical,
            extensions=extensions,
            signature_key=signature_key,
            signature=signature,
            signed_data=signed,
        )

    def validity(self) -> str:
        def stamp(value: int) -> str:
            if value >= 2**63:
                return "forever"
            return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))

        return f"{stamp(self.valid_after)} to {stamp(self.valid_before)}"

    def host_problem(self, name: str, now: float) -> str | None:
        """Why this certificate does not certify host ``name`` now (``sshkey_cert_check_host``),
        signature aside; None when it does."""
        if self.type != CERT_TYPE_HOST:
            kind = "a user certificate" if self.type == CERT_TYPE_USER else "not a host certificate"
            return f"the certificate is {kind}, not a host certificate"
        if now < self.valid_after:
            return f"the certificate is not yet valid (valid {self.validity()})"
        if now >= self.valid_before:
            return f"the certificate has expired (valid {self.validity()})"
        if not self.principals:
            return "the certificate lists no principals"
        if name not in self.principals:
            listed = ", ".join(self.principals)
            return f"{name!r} is not a principal of the certificate (it lists {listed})"
        if self.critical_options:
            return (
                "the certificate carries critical options "
                f"({', '.join(self.critical_options)}) that host certificates cannot have"
            )
        if self.signature_algorithm not in CA_SIGNATURE_ALGORITHMS:
            return (
                f"the certificate is signed with {self.signature_algorithm}, which OpenSSH "
                "no longer accepts (CASignatureAlgorithms)"
            )
        return None


def _strings(data: bytes, pairs: bool = False) -> tuple[str, ...]:
    reader = _Reader(data)
    found: list[str] = []
    while not reader.done():
        found.append(reader.string().decode("utf-8", "replace"))
        if pairs:
            reader.string()
    return tuple(found)


def plain_blob(blob: bytes) -> bytes:
    """The plain public key of a key or certificate blob (certificates: the certified key)."""
    if key_type_of(blob).endswith(CERT_SUFFIX):
        return Certificate.parse(blob).key_blob
    return blob


# -- files --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One known_hosts line that parsed."""

    marker: str  # "", CA_MARKER or REVOKED_MARKER
    hosts: str
    key_type: str
    key_blob: bytes
    path: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class KnownHostsParse:
    entries: list[Entry] = field(default_factory=list)
    #: ``file:line: why`` of every line skipped
    warnings: list[str] = field(default_factory=list)
    #: (literal names -> positions, positions to match one by one), built on first lookup
    _index: tuple[int, dict[str, list[int]], list[int]] | None = field(
        default=None, repr=False, compare=False
    )

    def matching(self, name: str) -> tuple[Entry, ...]:
        """The entries whose host field matches ``name``, in file order.

        ``HostEntries.select`` over every entry, without its cost per lookup: a fleet's
        known_hosts has a line per host, and matching each name against every line made
        opening N hosts O(N^2) (300 hosts: ~2 ms of client CPU per connection). A field of
        plain names (no ``*``, ``?``, ``!``, not hashed) matches exactly when it lists the
        name, so those are looked up in a dict; hashed names and patterns are still tried
        one by one, as ``ssh`` does.
        """
        index = self._index
        if index is None or index[0] != len(self.entries):  # entries are only appended
            index = self._index = self._build_index()
        _count, literal, scan = index
        folded = name.lower()
        found = set(literal.get(folded, ()))
        found.update(i for i in scan if match_host(name, self.entries[i].hosts))
        return tuple(self.entries[i] for i in sorted(found))

    def _build_index(self) -> tuple[int, dict[str, list[int]], list[int]]:
        literal: dict[str, list[int]] = {}
        scan: list[int] = []
        for position, entry in enumerate(self.entries):
            hosts = entry.hosts
            if hosts.startswith("|") or any(c in hosts for c in "*?!"):
                scan.append(position)
                continue
            for name in {part.lower() for part in hosts.split(",") if part}:
                literal.setdefault(name, []).append(position)
        return len(self.entries), literal, scan


def parse_known_hosts(text: str, path: str, into: KnownHostsParse | None = None) -> KnownHostsParse:
    """Every entry of one known_hosts file; lines that do not parse become warnings."""
    result = into if into is not None else KnownHostsParse()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        marker = ""
        if words[0].startswith("@"):
            marker = words.pop(0)
            if marker not in (CA_MARKER, REVOKED_MARKER):
                result.warnings.append(f"{path}:{number}: unknown marker {marker!r}")
                continue
        if len(words) < 3:
            result.warnings.append(f"{path}:{number}: no host, key type and key")
            continue
        hosts, key_type, key_text = words[0], words[1], words[2]
        if hosts.startswith("|") and _hashed_parts(hosts) is None:
            result.warnings.append(f"{path}:{number}: malformed hashed host name")
            continue
        try:
            blob = base64.b64decode(key_text, validate=True)
            inner = key_type_of(blob)
        except (binascii.Error, ValueError):
            result.warnings.append(f"{path}:{number}: the key is not valid base64")
            continue
        if inner != key_type or key_type.endswith(CERT_SUFFIX):
            result.warnings.append(
                f"{path}:{number}: the key is a {inner} key, the line says {key_type}"
                if inner != key_type
                else f"{path}:{number}: a certificate cannot be a known_hosts key"
            )
            continue
        result.entries.append(Entry(marker, hosts, key_type, blob, path, number))
    return result


@dataclass(frozen=True)
class HostEntries:
    """The entries of a set of files that match one known_hosts name."""

    name: str
    entries: tuple[Entry, ...]

    @classmethod
    def select(cls, name: str, entries: Iterable[Entry]) -> HostEntries:
        return cls(name, tuple(e for e in entries if match_host(name, e.hosts)))

    @property
    def keys(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if not e.marker)

    @property
    def authorities(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.marker == CA_MARKER)

    @property
    def revoked(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.marker == REVOKED_MARKER)

    def known_types(self) -> set[str]:
        return {e.key_type for e in self.keys}


def certificates_first(algorithms: Sequence[str]) -> tuple[str, ...]:
    """paramiko's host-key algorithms in OpenSSH's default order: the certificate algorithms
    first (paramiko lists them last), each group in the given order."""
    certs = [a for a in algorithms if a.endswith(CERT_SUFFIX)]
    return (*certs, *(a for a in algorithms if not a.endswith(CERT_SUFFIX)))


def order_host_key_algorithms(
    algorithms: Sequence[str], known: Sequence[HostEntries]
) -> tuple[str, ...]:
    """OpenSSH's ``order_hostkeyalgs``: the algorithms of key types known for the host first
    (certificate algorithms too when a ``@cert-authority`` entry matches it), each group in
    the given order; the list as given when its first algorithm's key type is known.

    Give it OpenSSH's default order (:func:`certificates_first`): a host that is not known
    as ``[host]:port`` then still presents its certificate, which a CA entry for the bare
    host name may verify (``ssh`` looks the host up again without the port).
    """
    types: set[str] = set()
    has_ca = False
    for view in known:
        types |= view.known_types()
        has_ca = has_ca or bool(view.authorities)
    if not algorithms or plain_key_type(algorithms[0]) in types:
        return tuple(algorithms)
    first: list[str] = []
    last: list[str] = []
    for algorithm in algorithms:
        if (algorithm.endswith(CERT_SUFFIX) and has_ca) or plain_key_type(algorithm) in types:
            first.append(algorithm)
        else:
            last.append(algorithm)
    return (*first, *last)


# -- the verdict --------------------------------------------------------------------------

#: verify(signature_key_blob, signature_blob, data) -> signature valid
Verifier = Callable[[bytes, bytes, bytes], bool]


@dataclass(frozen=True)
class Verdict:
    #: "ok", "unknown", "changed", "other-type", "revoked"
    status: str
    key_type: str
    #: the entry that decided (ok: the key or CA; changed: the differing key; revoked)
    entry: Entry | None = None
    #: why a presented certificate was not accepted (then the plain key was checked)
    cert_problem: str | None = None
    certificate: Certificate | None = None
    #: entries of other key types (other-type), CA entries that matched (unknown)
    others: tuple[Entry, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _revoked(view: HostEntries, blobs: Sequence[bytes]) -> Entry | None:
    for entry in view.revoked:
        if entry.key_blob in blobs:
            return entry
    return None


def _check_cert(
    view: HostEntries, cert: Certificate, principal: str, now: float, verify: Verifier
) -> tuple[str, Entry | None, str | None]:
    """("ok" | "revoked" | "fallback", entry, problem)."""
    revoked = _revoked(view, (cert.key_blob, cert.signature_key))
    if revoked is not None:
        return "revoked", revoked, None
    ca = next((e for e in view.authorities if e.key_blob == cert.signature_key), None)
    if ca is None:
        if view.authorities:
            where = ", ".join(e.where for e in view.authorities)
            return (
                "fallback",
                None,
                (
                    f"the certificate is not signed by a trusted CA (its CA key is a "
                    f"{key_type_of(cert.signature_key)} key not listed by the @cert-authority "
                    f"entries for {view.name}: {where})"
                ),
            )
        return "fallback", None, f"no @cert-authority entry matches {view.name}"
    problem = cert.host_problem(principal, now)
    if problem is None:
        try:
            good = verify(cert.signature_key, cert.signature, cert.signed_data)
        except Exception as exc:  # a malformed signature blob
            good = False
            problem = f"the certificate's signature is malformed ({exc})"
        if not good and problem is None:
            problem = "the certificate's signature does not verify with its CA key"
    if problem is not None:
        return "fallback", ca, problem
    return "ok", ca, None


def _check_one(
    view: HostEntries, presented: bytes, principal: str, now: float, verify: Verifier
) -> Verdict:
    key_type = key_type_of(presented)
    cert: Certificate | None = None
    problem: str | None = None
    blob = presented
    if key_type.endswith(CERT_SUFFIX):
        try:
            cert = Certificate.parse(presented)
        except CertError as exc:
            return Verdict("unknown", key_type, cert_problem=f"the certificate is malformed: {exc}")
        outcome, entry, problem = _check_cert(view, cert, principal, now, verify)
        if outcome != "fallback":
            return Verdict(outcome, key_type, entry, certificate=cert)
        blob = cert.key_blob
        key_type = cert.plain_type
    revoked = _revoked(view, (blob,))
    if revoked is not None:
        return Verdict("revoked", key_type, revoked, problem, cert)
    for entry in view.keys:
        if entry.key_blob == blob:
            return Verdict("ok", key_type, entry, problem, cert)
    same = [e for e in view.keys if e.key_type == key_type]
    if same:
        return Verdict("changed", key_type, same[0], problem, cert)
    if view.keys:
        return Verdict("other-type", key_type, None, problem, cert, others=view.keys)
    return Verdict("unknown", key_type, None, problem, cert, others=view.authorities)


def check_host_key(
    views: Sequence[HostEntries],
    presented: bytes,
    principal: str,
    verify: Verifier,
    now: float | None = None,
) -> Verdict:
    """The verdict on the key (or certificate) blob a host presented.

    ``views``: the entries for the host's known_hosts name, then (port other than 22, no
    HostKeyAlias) those for the plain host name, consulted only to accept. ``principal``:
    the name a host certificate must list (the host name, or HostKeyAlias).
    """
    moment = time.time() if now is None else now
    first = _check_one(views[0], presented, principal, moment, verify)
    if first.status in ("unknown", "other-type"):
        for view in views[1:]:
            again = _check_one(view, presented, principal, moment, verify)
            if again.ok:
                return again
    return first
