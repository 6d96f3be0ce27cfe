"""``HostSpec``: one host of an inventory, and the ids that tell hosts apart."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

DEFAULT_SSH_PORT = 22

_ALIAS_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:@\-]*$")
_HOST_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
#: how "run as" switches user (``su_method``, the marker's ``method=``)
SU_METHODS: tuple[str, ...] = ("auto", "su", "sudo")
USER_NAME = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.\-$]*$")


def parse_port(text: str) -> int:
    """Parse a TCP port; raise ``ValueError`` with a readable message otherwise."""
    if not text.isdigit():
        raise ValueError(f"port {text!r} is not a number")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 1-65535")
    return port


@dataclass(frozen=True)
class Address:
    """``[user@]host[:port]`` as written; ``None`` where a part was not given."""

    host: str
    port: int | None = None
    user: str | None = None

    @classmethod
    def parse(cls, text: str) -> Address:
        """Parse ``[user@]host[:port]``; IPv6 literals as ``[::1]`` or ``[::1]:2222``.

        Raises ``ValueError`` naming what is wrong.
        """
        raw = text.strip()
        if not raw:
            raise ValueError("empty host")
        user: str | None = None
        if "@" in raw:
            user, _, raw = raw.rpartition("@")
            if not user or not USER_NAME.match(user):
                raise ValueError(f"invalid user name {user!r}")
        port: int | None = None
        if raw.startswith("["):
            end = raw.find("]")
            if end < 0:
                raise ValueError(f"unclosed '[' in IPv6 address {raw!r}")
            host, rest = raw[1:end], raw[end + 1 :]
            if ":" not in host:
                raise ValueError(f"{host!r} in brackets is not an IPv6 address")
            if rest:
                if not rest.startswith(":"):
                    raise ValueError(f"unexpected text {rest!r} after ']'")
                port = parse_port(rest[1:])
        elif raw.count(":") > 1:
            raise ValueError(f"IPv6 address {raw!r} must be written in brackets, e.g. [{raw}]:22")
        else:
            host, sep, port_text = raw.partition(":")
            if sep:
                port = parse_port(port_text)
            if not _HOST_RE.match(host):
                raise ValueError(f"invalid host name {host!r}")
        if not host:
            raise ValueError("empty host")
        return cls(host=host, port=port, user=user)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{user}{host}{port}"


def _frozen(mapping: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class HostSpec:
    """One host to test, as the inventory (or ``--hosts``) describes it.

    Secrets are held by reference: ``password_env`` names an environment variable.
    ``id`` is filled in by :func:`assign_ids` so that ids are unique within a host list.
    """

    host: str
    port: int | None = None
    user: str | None = None
    alias: str | None = None
    identity_file: str | None = None
    password_env: str | None = None
    jump: str | None = None
    groups: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    #: OpenSSH client arguments for this host (``-o Key=Value``, ``-J``, ``-i``, ``-p``, ``-l``),
    #: already split: from ``ansible_ssh_common_args``/``ansible_ssh_extra_args``, testinfra's
    #: ``ssh_extra_args``; resolved together with the ssh config (``ssh -G``)
    ssh_args: tuple[str, ...] = ()
    #: how the host is reached: ``ssh`` (our connection); anything else (``local``,
    #: ``docker``, ``podman``, ``kubectl``, ...) is a testinfra backend name for ``host``
    transport: str = "ssh"
    vars: Mapping[str, str] = field(default_factory=lambda: _frozen(None), compare=False)
    source: str = field(default="", compare=False)
    id: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.vars, MappingProxyType):
            object.__setattr__(self, "vars", _frozen(self.vars))

    @property
    def address(self) -> Address:
        return Address(self.host, self.port, self.user)

    @property
    def name(self) -> str:
        """The id if assigned, else the alias, else the address as written."""
        return self.id or self.alias or str(self.address)

    def describe(self) -> str:
        """``alias (user@host:port)`` for messages; never contains a secret."""
        addr = str(self.address)
        return f"{self.name} ({addr})" if self.name != addr else addr

    def sort_key(self) -> tuple[str, str, int, str]:
        return (self.alias or "", self.host, self.port or DEFAULT_SSH_PORT, self.user or "")


def _candidate(spec: HostSpec, with_user: bool, with_port: bool) -> str:
    host = f"[{spec.host}]" if ":" in spec.host else spec.host
    text = host
    if with_user and spec.user:
        text = f"{spec.user}@{text}"
    if with_port:
        text = f"{text}:{spec.port or DEFAULT_SSH_PORT}"
    return text


def assign_ids(specs: Iterable[HostSpec]) -> list[HostSpec]:
    """Sort hosts and give each a stable, unique, readable id.

    The id is the alias where there is one; otherwise the host, plus the port where two
    entries share a host, plus the user where they share host and port too. Never ``_0``/``_1``
    suffixes: two ports of one host read ``host:22`` and ``host:2222``.
    """
    ordered = sorted(specs, key=HostSpec.sort_key)
    plain = [s for s in ordered if not s.alias]
    host_count = Counter(s.host for s in plain)
    hostport_count = Counter((s.host, s.port or DEFAULT_SSH_PORT) for s in plain)
    result: list[HostSpec] = []
    for spec in ordered:
        if spec.alias:
            ident = spec.alias
        else:
            shared_host = host_count[spec.host] > 1
            shared_port = hostport_count[(spec.host, spec.port or DEFAULT_SSH_PORT)] > 1
            ident = _candidate(spec, with_user=shared_port, with_port=shared_host)
        result.append(replace(spec, id=ident))
    seen: Counter[str] = Counter(s.id for s in result)
    dupes = sorted(i for i, n in seen.items() if n > 1)
    if dupes:
        raise ValueError(f"hosts share the id(s) {', '.join(dupes)}: give them distinct aliases")
    return sorted(result, key=lambda s: s.id)


def valid_alias(alias: str) -> bool:
    return bool(_ALIAS_RE.match(alias))
