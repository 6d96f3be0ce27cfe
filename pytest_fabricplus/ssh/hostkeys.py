"""Host keys: verified by us as OpenSSH does, a shared known_hosts cache, gateway hops.

Why we verify host keys ourselves: paramiko's ``HostKeys`` cannot read ``@cert-authority`` or
``@revoked`` lines (``InvalidHostKey`` ended the whole run), paramiko does not verify host
certificates at all (its issue #2277), and ``SSHClient.connect`` compares the server key
with the known ones itself, calling a known key of *another* type a changed key. So every
client gets empty paramiko host keys (``channel.clear_host_keys``): paramiko then hands every
server key -- for a certificate a ``PKey`` whose ``public_blob`` is the certificate -- to the
missing-host-key policy, and our :class:`HostKeyPolicy` is the single judge. It reads the
files with our own parser (``hosts/knownhosts.py``, pure and unit-tested) and follows
``ssh``'s ``check_host_key``: known key, changed key, host certificate signed by a
``@cert-authority`` CA, ``@revoked`` keys, and the policy (reject/warn/accept) only for
unknown keys. A cleaner seam (a ``transport_factory`` whose transport verifies) would still
need paramiko's client not to compare first; the policy hook is public API.

The host-key algorithms are offered as ``ssh`` offers them: OpenSSH's default order
(certificate types first) rearranged by its ``order_hostkeyalgs`` (the key types known for
the host first, certificate types too when a CA entry matches it), installed through
``channel.order_host_key_algorithms``. So a host known by any of its key types connects, and
"CHANGED" is said only when the known key of the negotiated type differs.

Upstream behaviour worked around here:

* fabricplus' ``ConnectionPlus.__init__`` installs paramiko's ``WarningPolicy`` (accept any
  host key) and Fabric's ``Connection`` installs ``AutoAddPolicy`` on ProxyJump gateways:
  :func:`apply_host_key_policy` replaces both with our policy on the connection and on every
  gateway.
* fabricplus' ``ConnectionPlus.__init__`` loads ``~/.ssh/known_hosts`` with paramiko (which
  raises on ``@cert-authority``/``@revoked`` lines): ``FabricPlusConnection`` ignores that
  error and we empty what was loaded.
* paramiko re-parses every known_hosts file for every client: :class:`KnownHostsCache`
  parses them once per process (per file set and mtimes) and matches each host once.
* paramiko does not verify host certificates, nor ``@revoked``, nor the validity, principals
  or CA of a certificate: :func:`check_host_key` (``hosts/knownhosts.py``).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import paramiko

from ..errors import ConfigError, HostKeyError
from ..hosts.keys import fingerprint_of, known_hosts_name
from ..hosts.knownhosts import (
    HostEntries,
    KnownHostsParse,
    Verdict,
    certificates_first,
    check_host_key,
    key_type_of,
    order_host_key_algorithms,
    parse_known_hosts,
    plain_blob,
)
from ..settings import Settings
from .channel import clear_host_keys, missing_key_policy
from .channel import order_host_key_algorithms as install_key_order

__all__ = [  # fingerprint_of and known_hosts_name live in the paramiko-free hosts/keys.py
    "HostCheck",
    "HostKeyPolicy",
    "KnownHostsCache",
    "accepted_warnings",
    "apply_host_key_policy",
    "changed_key_message",
    "fingerprint",
    "fingerprint_of",
    "hops",
    "known_hosts_name",
]

log = logging.getLogger("pytest_fabricplus")


def fingerprint(key: paramiko.PKey) -> str:
    return fingerprint_of(key.asbytes())


def hops(conn: Any) -> Iterator[Any]:
    """``conn`` and each ProxyJump gateway behind it (Fabric's ``gateway`` chain).

    A gateway given as a string is a ProxyCommand, not a connection, and ``False`` is "no
    gateway" (what ``Connector`` passes): the walk stops there.
    """
    while conn is not None and conn is not False and not isinstance(conn, str):
        yield conn
        conn = getattr(conn, "gateway", None)


def verify_signature(key_blob: bytes, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` (an SSH signature blob) over ``data`` verifies with the key."""
    key = paramiko.PKey.from_type_string(key_type_of(key_blob), key_blob)
    return bool(key.verify_ssh_sig(data, paramiko.Message(signature)))


def presented_blob(key: paramiko.PKey) -> bytes:
    """The blob the server presented: its certificate when it sent one, else its key."""
    blob = getattr(key, "public_blob", None)
    if blob is not None and str(blob.key_type).endswith("-cert-v01@openssh.com"):
        return bytes(blob.key_blob)
    return bytes(key.asbytes())


@dataclass(frozen=True)
class HostCheck:
    """What one hop is verified against: its known_hosts entries, by name."""

    #: ``[host]:port`` (or the host on port 22): how known_hosts spells it, for messages
    name: str
    #: the entries for ``name``, then (port other than 22) for the bare host name
    views: tuple[HostEntries, ...]
    #: the name a host certificate must list as a principal (the host name, as ssh)
    principal: str
    files: tuple[str, ...]

    def key_order(self, algorithms: tuple[str, ...]) -> tuple[str, ...]:
        return order_host_key_algorithms(certificates_first(algorithms), self.views[:1])


class HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """Judges every server key (paramiko is given no host keys of its own, see above).

    ``policy`` (reject/warn/accept) decides only for keys no known_hosts entry speaks of;
    a changed key and a revoked key are refused under all three.
    """

    def __init__(
        self,
        policy: str,
        known_hosts: list[str],
        check: HostCheck | None = None,
        add_to: str | None = None,
    ) -> None:
        self.policy = policy
        self.known_hosts = known_hosts
        self.check = check
        #: the file the fix adds a key to: --known-hosts when given, else ~/.ssh/known_hosts
        self.add_to = add_to
        self.accepted: list[str] = []  # warnings given under "warn", shown in the summary

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        check = self.check
        if check is None:
            self._unknown(hostname, key, None)
            return
        blob = presented_blob(key)
        verdict = check_host_key(check.views, blob, check.principal, verify_signature)
        if verdict.ok:
            if verdict.cert_problem:
                log.info("%s: %s; its key is known", check.name, verdict.cert_problem)
            return
        if verdict.status == "revoked":
            raise HostKeyError(hostname, revoked_message(check.name, blob, verdict))
        if verdict.status == "changed":
            assert verdict.entry is not None
            raise HostKeyError(
                hostname,
                changed_message(
                    check.name,
                    verdict.entry.key_type,
                    fingerprint_of(verdict.entry.key_blob),
                    verdict.key_type,
                    fingerprint_of(plain_blob(blob)),
                    [verdict.entry.path],
                )
                + _cert_note(verdict),
            )
        self._unknown(check.name, key, verdict)

    def _unknown(self, hostname: str, key: paramiko.PKey, verdict: Verdict | None) -> None:
        other_type = verdict is not None and verdict.status == "other-type"
        if self.policy == "accept":
            return
        text = f"{key.get_name()} key {fingerprint(key)} of {hostname}"
        if verdict is not None:
            text += _cert_note(verdict)
        if self.policy == "warn" and not other_type:
            message = f"accepting unknown host key: {text} (--host-key-policy=warn)"
            log.warning(message)
            self.accepted.append(message)
            return
        host, _, port = hostname.strip("[").partition("]:")
        scan = f"ssh-keyscan{' -p ' + port if port else ''} {host}"
        target = self.add_to or "~/.ssh/known_hosts"
        searched = (
            f"not in {', '.join(self.known_hosts)}" if self.known_hosts else "no known_hosts file"
        )
        if verdict is not None and other_type:
            types = sorted({e.key_type for e in verdict.others})
            where = ", ".join(e.where for e in verdict.others)
            raise HostKeyError(
                hostname,
                f"no {verdict.key_type} host key is known for {hostname}: known_hosts has "
                f"only {', '.join(types)} keys for it ({where}), and the server did not offer "
                f"{'that type' if len(types) == 1 else 'those types'} (the key it sent: {text}). "
                "If the host's keys were replaced, verify the new fingerprint and add it with "
                f"`{scan} >> {target}`; --host-key-policy=accept skips the check "
                "(not recommended)",
            )
        hint = ""
        if verdict is not None and verdict.others and verdict.certificate is None:
            where = ", ".join(e.where for e in verdict.others)
            hint = (
                f". known_hosts trusts a certificate authority for this host ({where}), but "
                "the host presented a plain key, not a certificate: give the host a "
                "certificate signed by that CA (sshd's HostCertificate), or add its key"
            )
        elif verdict is not None and verdict.certificate is not None and verdict.cert_problem:
            cert = verdict.certificate
            trusted = any(
                e.key_blob == cert.signature_key for v in self._views() for e in v.authorities
            )
            if trusted:
                hint = (
                    ". Re-sign the host certificate (`ssh-keygen -s CA_KEY -h -n "
                    f"{self._principal(host)} -V ...`) and install it on the host, or add "
                    "the host's key"
                )
            else:
                hint = (
                    ". To trust the CA that signed it, add `@cert-authority PATTERN "
                    f"{key_type_of(cert.signature_key)} <its public key>` (CA key "
                    f"{fingerprint_of(cert.signature_key)}) to known_hosts, or add the host's key"
                )
        raise HostKeyError(
            hostname,
            f"unknown host key ({text}; {searched}){hint}. Verify the fingerprint, then add it "
            f"with `{scan} >> {target}`"
            + ("" if self.add_to else " or pass --known-hosts FILE")
            + "; "
            "--host-key-policy=accept skips the check (not recommended)",
        )

    def _views(self) -> tuple[HostEntries, ...]:
        return self.check.views if self.check is not None else ()

    def _principal(self, host: str) -> str:
        return self.check.principal if self.check is not None else host


def _cert_note(verdict: Verdict) -> str:
    if verdict.certificate is None or not verdict.cert_problem:
        return ""
    return f"; the host's certificate was not accepted: {verdict.cert_problem}"


def revoked_message(name: str, blob: bytes, verdict: Verdict) -> str:
    entry = verdict.entry
    assert entry is not None
    cert = verdict.certificate
    if cert is not None and entry.key_blob == cert.signature_key:
        what = (
            f"the CA key {entry.key_type} {fingerprint_of(entry.key_blob)} that signed its "
            "host certificate"
        )
    else:
        what = f"its {entry.key_type} host key {fingerprint_of(plain_blob(blob))}"
    return (
        f"host key REVOKED for {name}: {what} is marked @revoked in {entry.where}. "
        "This could mean a stolen key is used to impersonate the host; the connection is "
        "refused whatever --host-key-policy says (as ssh does). If the host was re-keyed, "
        "add its new key (or certificate CA); if the revocation line is wrong, remove it"
    )


def changed_message(
    name: str, known_type: str, known_fp: str, sent_type: str, sent_fp: str, files: list[str]
) -> str:
    return (
        f"host key CHANGED for {name}: known_hosts has {known_type} "
        f"{known_fp}, the server sent {sent_type} "
        f"{sent_fp}. This can mean a man-in-the-middle attack. If the change is "
        f"expected, remove the old key with `ssh-keygen -R '{name}'"
        + (f" -f {files[-1]}" if files else "")
        + "` and add the new one"
    )


def changed_key_message(exc: paramiko.BadHostKeyException, name: str, files: list[str]) -> str:
    expected, sent = exc.expected_key, exc.key
    return changed_message(
        name, expected.get_name(), fingerprint(expected), sent.get_name(), fingerprint(sent), files
    )


def accepted_warnings(conn: Any) -> list[str]:
    """Unknown host keys accepted under ``--host-key-policy=warn`` on ``conn``'s hops."""
    found: list[str] = []
    for hop in hops(conn):
        client = getattr(hop, "client", None)
        policy = missing_key_policy(client)
        found.extend(getattr(policy, "accepted", []))
    return found


class KnownHostsCache:
    """known_hosts files parsed once per process (per set of files and their mtimes), and
    the entries that match each host name found once.

    With hundreds of hosts opened concurrently, parsing per client dominated pre-flight, and
    matching (hashing every hashed entry) per lookup cost a few hundred thousand comparisons
    per 100 connections. The parsed entries are only read (we never write known_hosts).
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[tuple[str, float], ...], KnownHostsParse] = {}
        self._per_host: dict[tuple[int, str], HostEntries] = {}
        self._lock = threading.Lock()

    def get(self, files: Sequence[str]) -> tuple[KnownHostsParse, list[str]]:
        found: list[tuple[str, float]] = []
        for path in files:
            full = os.path.expanduser(path)
            if os.path.isfile(full) and full not in (f for f, _ in found):
                found.append((full, os.stat(full).st_mtime))
        key = tuple(found)
        with self._lock:
            parsed = self._cache.get(key)
            if parsed is None:
                parsed = KnownHostsParse()
                for full, _ in found:
                    try:
                        with open(full, encoding="utf-8", errors="replace") as handle:
                            text = handle.read()
                    except OSError as exc:
                        raise ConfigError(f"cannot read known_hosts file {full}: {exc}") from None
                    parse_known_hosts(text, full, parsed)
                for warning in parsed.warnings:  # as ssh: the line is skipped
                    log.warning("known_hosts line skipped: %s", warning)
                self._cache[key] = parsed
        return parsed, [f for f, _ in found]

    def for_host(self, parsed: KnownHostsParse, name: str) -> HostEntries:
        """The entries of ``parsed`` that match ``name`` (patterns, hashes), once per name."""
        index = (id(parsed), name)
        with self._lock:
            view = self._per_host.get(index)
        if view is None:
            view = HostEntries(name, parsed.matching(name))
            with self._lock:
                self._per_host[index] = view
        return view


def apply_host_key_policy(
    conn: Any,
    settings: Settings,
    cache: KnownHostsCache | None,
    files: Sequence[str] | None = None,
    policy: str | None = None,
    alias: str | None = None,
) -> list[str]:
    """Install our verification and known_hosts on ``conn`` and on any Fabric gateway behind
    it, and the host-key algorithm order for each; return the known_hosts lines skipped
    (``file:line: why``), for the run's summary.

    ``files`` are the host's known_hosts files from its resolved ssh client config
    (``UserKnownHostsFile`` -- default ``~/.ssh/known_hosts`` -- and
    ``GlobalKnownHostsFile``); ``--known-hosts`` and the run's own files are added.
    ``policy`` is the host's effective policy (default ``--host-key-policy``); ``alias``
    its ``HostKeyAlias`` (``conn`` only, not its gateways), which replaces ``[host]:port`` in
    known_hosts and the host name among certificate principals, as in ``ssh``. Without a
    ``cache`` (``FABRICPLUS_FAST_PATH=0``) the files are parsed for this connection alone.
    """
    chosen = policy or settings.host_key_policy
    cache = cache or KnownHostsCache()
    skipped: list[str] = []
    for hop in hops(conn):
        if not hasattr(hop, "client"):
            break
        if files is None:  # a connection not built from a resolved config
            ssh_config: Mapping[str, Any] = getattr(hop, "ssh_config", {}) or {}
            found = ["~/.ssh/known_hosts"]
            for key in ("userknownhostsfile", "globalknownhostsfile"):
                value = ssh_config.get(key)
                found.extend(
                    value if isinstance(value, list) else str(value).split() if value else []
                )
        else:
            found = list(files)
        if settings.known_hosts:
            found.append(settings.known_hosts)
        found.extend(settings.extra_known_hosts)
        parsed, loaded = cache.get(found)
        skipped += [f"known_hosts line skipped: {w}" for w in parsed.warnings]
        host, port = str(hop.host), int(hop.port)
        if alias and hop is conn:
            name = principal = alias
            views = [cache.for_host(parsed, alias)]
        else:
            name, principal = known_hosts_name(host, port), host.lower()
            views = [cache.for_host(parsed, name)]
            if name != host:  # as ssh: "checking without port identifier"
                views.append(cache.for_host(parsed, host))
        check = HostCheck(name, tuple(views), principal, tuple(loaded))
        clear_host_keys(hop.client)
        install_key_order(hop.client, check.key_order)
        hop.client.set_missing_host_key_policy(
            HostKeyPolicy(chosen, loaded, check, settings.known_hosts or None)
        )
    return skipped
