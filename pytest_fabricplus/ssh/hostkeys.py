"""Host keys: our missing-key policy, a shared known_hosts cache, fingerprints, gateway hops.

Upstream behaviour worked around here:

* fabricplus' ``ConnectionPlus.__init__`` installs paramiko's ``WarningPolicy`` (accept any
  host key) and Fabric's ``Connection`` installs ``AutoAddPolicy`` on ProxyJump gateways:
  :func:`apply_host_key_policy` replaces both with the policy the user chose (``reject`` by
  default) on the connection and on every gateway.
* paramiko re-parses every known_hosts file for every client: :class:`KnownHostsCache`
  parses them once per process (the keys are only read).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import paramiko

from ..errors import ConfigError, HostKeyError
from ..hosts.keys import fingerprint_of, known_hosts_name
from ..settings import Settings
from .channel import missing_key_policy, set_system_host_keys

__all__ = [  # fingerprint_of and known_hosts_name live in the paramiko-free hosts/keys.py
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


class HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """What to do with a host key that no known_hosts file lists."""

    def __init__(self, policy: str, known_hosts: list[str]) -> None:
        self.policy = policy
        self.known_hosts = known_hosts
        self.accepted: list[str] = []  # warnings given under "warn", shown in the summary

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        if self.policy == "accept":
            return
        text = f"{key.get_name()} key {fingerprint(key)} of {hostname}"
        if self.policy == "warn":
            message = f"accepting unknown host key: {text} (--host-key-policy=warn)"
            log.warning(message)
            self.accepted.append(message)
            return
        host, _, port = hostname.strip("[").partition("]:")
        scan = f"ssh-keyscan{' -p ' + port if port else ''} {host}"
        searched = (
            f"not in {', '.join(self.known_hosts)}" if self.known_hosts else "no known_hosts file"
        )
        raise HostKeyError(
            hostname,
            f"unknown host key ({text}; {searched}). Verify the fingerprint, then add it "
            f"with `{scan} >> ~/.ssh/known_hosts` or pass --known-hosts FILE; "
            "--host-key-policy=accept skips the check (not recommended)",
        )


def changed_key_message(exc: paramiko.BadHostKeyException, name: str, files: list[str]) -> str:
    return (
        f"host key CHANGED for {name}: known_hosts has {exc.expected_key.get_name()} "
        f"{fingerprint(exc.expected_key)}, the server sent {exc.key.get_name()} "
        f"{fingerprint(exc.key)}. This can mean a man-in-the-middle attack. If the change is "
        f"expected, remove the old key with `ssh-keygen -R '{name}'"
        + (f" -f {files[-1]}" if files else "")
        + "` and add the new one"
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
    """known_hosts files parsed once per process (per set of files and their mtimes).

    paramiko re-parses a known_hosts file for every client (under the logging lock): with
    hundreds of hosts opened concurrently that dominated pre-flight. The parsed keys are only
    read (our policies never add keys), so one object serves all clients.
    """

    def __init__(self) -> None:
        self._cache: dict[tuple[tuple[str, float], ...], paramiko.HostKeys] = {}
        self._per_host: dict[tuple[int, str], paramiko.HostKeys] = {}
        self._lock = threading.Lock()

    def get(self, files: list[str]) -> tuple[paramiko.HostKeys, list[str]]:
        found: list[tuple[str, float]] = []
        for path in files:
            full = os.path.expanduser(path)
            if os.path.isfile(full) and full not in (f for f, _ in found):
                found.append((full, os.stat(full).st_mtime))
        key = tuple(found)
        with self._lock:
            keys = self._cache.get(key)
            if keys is None:
                keys = paramiko.HostKeys()
                for full, _ in found:
                    try:
                        keys.load(full)
                    except (OSError, paramiko.SSHException) as exc:
                        raise ConfigError(f"cannot read known_hosts file {full}: {exc}") from None
                self._cache[key] = keys
        return keys, [f for f, _ in found]

    def for_host(self, keys: paramiko.HostKeys, name: str) -> paramiko.HostKeys:
        """The entries of ``keys`` that match ``name`` (``[host]:port`` as paramiko looks it
        up), as a HostKeys of their own.

        paramiko's lookup scans every entry, comparing (and for hashed entries hashing) each,
        and the client looks a host up several times per handshake: with a 300-line
        known_hosts that was a few hundred thousand comparisons per 100 connections. The
        scan is done once per host here, with paramiko's own matching (patterns, hashes).
        """
        index = (id(keys), name)
        with self._lock:
            small = self._per_host.get(index)
        if small is None:
            small = paramiko.HostKeys()
            found = keys.lookup(name)
            if found is not None:
                for key_type, key in found.items():
                    small.add(name, key_type, key)
            with self._lock:
                self._per_host[index] = small
        return small


def apply_host_key_policy(
    conn: Any,
    settings: Settings,
    cache: KnownHostsCache | None,
    files: Sequence[str] | None = None,
    policy: str | None = None,
) -> None:
    """Install our policy and known_hosts on ``conn`` and on any Fabric gateway behind it.

    ``files`` are the host's known_hosts files from its resolved ssh client config
    (``UserKnownHostsFile`` -- default ``~/.ssh/known_hosts`` -- and
    ``GlobalKnownHostsFile``); ``--known-hosts`` and the run's own files are added.
    ``policy`` is the host's effective policy (default ``--host-key-policy``). Without a
    ``cache`` (``FABRICPLUS_FAST_PATH=0``) paramiko loads the files itself
    (``SSHClient.load_host_keys``, per connection).
    """
    chosen = policy or settings.host_key_policy
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
        files_for_hop = found
        if cache is not None:
            keys, loaded = cache.get(files_for_hop)
            name = known_hosts_name(str(hop.host), int(hop.port))
            set_system_host_keys(hop.client, cache.for_host(keys, name))
        else:
            loaded = _load_each(hop.client, files_for_hop)
        hop.client.set_missing_host_key_policy(HostKeyPolicy(chosen, loaded))


def _load_each(client: paramiko.SSHClient, files: list[str]) -> list[str]:
    loaded: list[str] = []
    for path in files:
        full = os.path.expanduser(path)
        if os.path.isfile(full) and full not in loaded:
            try:
                client.load_host_keys(full)
            except (OSError, paramiko.SSHException) as exc:
                raise ConfigError(f"cannot read known_hosts file {full}: {exc}") from None
            loaded.append(full)
    return loaded
