"""Inventories: plain host lines, INI groups, and Ansible INI inventories.

Format (one host per line)::

    # comment
    [user@]host[:port] [key=value ...]
    [group]
    web1 ansible_host=10.0.0.1 ansible_user=deploy
    [group:children]
    other_group
    [group:vars]
    key=value

Every error is an :class:`InventoryError` naming ``file:line`` and the offending text
(never the text of a line that carries a secret).
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InventoryError
from ..text import ENV_NAME
from . import urls
from .selection import apply_limit
from .spec import SU_METHODS, Address, HostSpec, assign_ids, parse_port, valid_alias

#: keys a host line (or a ``[group:vars]`` section) may carry, and the field each one sets
KEY_FIELDS: Mapping[str, str] = {
    "alias": "alias",
    "user": "user",
    "port": "port",
    "identity_file": "identity_file",
    "password_env": "password_env",
    "jump": "jump",
    "tags": "tags",
    # Ansible INI spellings
    "ansible_host": "host",
    "ansible_ssh_host": "host",
    "ansible_user": "user",
    "ansible_ssh_user": "user",
    "ansible_port": "port",
    "ansible_ssh_port": "port",
    "ansible_ssh_private_key_file": "identity_file",
}
#: keys kept in ``HostSpec.vars`` for features that read them (privilege strategies)
VAR_KEYS = frozenset({"su_method", "su_password_env", "sudo_password_env"})
#: keys whose value is a secret written in clear: refused, and never echoed
SECRET_KEYS = frozenset(
    {
        "password",
        "ansible_password",
        "ansible_ssh_pass",
        "ansible_ssh_password",
        "ansible_become_pass",
        "ansible_become_password",
        "ansible_sudo_pass",
        "ansible_su_pass",
    }
)
_TAG_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_GROUP_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_SECTION_RE = re.compile(r"^\[([^\]:]+)(?::(children|vars))?\]\s*(?:[#;].*)?$")
_RANGE_RE = re.compile(r"^(.+?)\[(\d+):(\d+)\](.*)$")
_MAX_RANGE = 10_000


@dataclass
class _Entry:
    name: str
    address: Address
    settings: dict[str, str]
    vars: dict[str, str]
    groups: set[str]
    where: int
    text: str


@dataclass
class _Group:
    children: list[tuple[str, int, str]] = field(default_factory=list)
    vars: dict[str, str] = field(default_factory=dict)
    vars_lines: dict[str, tuple[int, str]] = field(default_factory=dict)
    where: int = 0


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.entries: dict[str, _Entry] = {}
        self.groups: dict[str, _Group] = {}

    def error(self, message: str, line: int = 0, text: str = "") -> InventoryError:
        return InventoryError(message, source=self.source, line=line, text=text)

    # -- lines -----------------------------------------------------------------------------
    def parse(self, lines: Iterable[str]) -> None:
        section: tuple[str, str] | None = None  # (group, kind)
        for number, raw in enumerate(lines, start=1):
            stripped = raw.strip()
            if not stripped or stripped.startswith(("#", ";")):
                continue
            if stripped.startswith("[") and not self._looks_like_ipv6_host(stripped):
                match = _SECTION_RE.match(stripped)
                if not match:
                    raise self.error("malformed section header", number, raw)
                name, kind = match.group(1).strip(), match.group(2) or "hosts"
                if not _GROUP_RE.match(name):
                    raise self.error(f"invalid group name {name!r}", number, raw)
                group = self.groups.setdefault(name, _Group(where=number))
                group.where = group.where or number
                section = (name, kind)
                continue
            tokens = self._split(raw, number)
            if not tokens:
                continue
            if section is not None and section[1] == "children":
                if len(tokens) != 1 or not _GROUP_RE.match(tokens[0]):
                    raise self.error("a [group:children] line must be one group name", number, raw)
                self.groups[section[0]].children.append((tokens[0], number, raw))
            elif section is not None and section[1] == "vars":
                for key, value in self._pairs(tokens, number, raw, first=0).items():
                    self.groups[section[0]].vars[key] = value
                    self.groups[section[0]].vars_lines[key] = (number, raw)
            else:
                self._host_line(tokens, number, raw, section[0] if section else None)

    @staticmethod
    def _looks_like_ipv6_host(stripped: str) -> bool:
        # "[::1]:2222 alias=x" is a host line, "[web]" is a section header
        return bool(re.match(r"^\[[0-9A-Fa-f:.%]*:[0-9A-Fa-f:.%]*\](:\d+)?(\s|$)", stripped))

    def _split(self, raw: str, number: int) -> list[str]:
        lexer = shlex.shlex(raw, posix=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            return list(lexer)
        except ValueError as exc:
            raise self.error(f"cannot split line ({exc})", number, self._safe_text(raw)) from None

    @staticmethod
    def _safe_text(raw: str) -> str:
        lowered = raw.lower()
        return "" if any(key in lowered for key in SECRET_KEYS) else raw

    def _pairs(self, tokens: list[str], number: int, raw: str, first: int) -> dict[str, str]:
        pairs: dict[str, str] = {}
        for token in tokens[first:]:
            key, sep, value = token.partition("=")
            if key in SECRET_KEYS:
                # never echo the line: it holds a password in clear
                raise self.error(
                    f"{key} holds a password in clear text; put the password in an environment "
                    "variable and name it with password_env=VARIABLE",
                    number,
                )
            if not sep:
                raise self.error(f"expected key=value, got {token!r}", number, raw)
            if key in KEY_FIELDS or key in VAR_KEYS:
                pass
            elif key.startswith("ansible_"):
                # other Ansible connection/become settings: kept, not used
                pass
            else:
                known = sorted([*KEY_FIELDS, *VAR_KEYS])
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.error(
                    f"unknown key {key!r}{hint}; known keys: {', '.join(known)}", number, raw
                )
            if key in pairs:
                raise self.error(f"key {key!r} given twice", number, raw)
            self._check_value(key, value, number, raw)
            pairs[key] = value
        return pairs

    def _check_value(self, key: str, value: str, number: int, raw: str) -> None:
        field_name = KEY_FIELDS.get(key)
        if field_name == "port":
            try:
                parse_port(value)
            except ValueError as exc:
                raise self.error(f"bad {key}: {exc}", number, raw) from None
        elif field_name in ("password_env",) or key in ("su_password_env", "sudo_password_env"):
            if not ENV_NAME.match(value):
                raise self.error(
                    f"{key} must name an environment variable (letters, digits, _), got {value!r}",
                    number,
                    raw,
                )
        elif field_name == "alias":
            if not valid_alias(value):
                raise self.error(f"invalid alias {value!r}", number, raw)
        elif field_name == "tags":
            bad = [t for t in value.split(",") if t and not _TAG_RE.match(t)]
            if bad or not value:
                raise self.error(f"invalid tags {value!r} (comma-separated words)", number, raw)
        elif field_name == "jump":
            try:
                Address.parse(value)
            except ValueError as exc:
                raise self.error(f"bad jump host: {exc}", number, raw) from None
        elif key == "su_method" and value not in SU_METHODS:
            raise self.error(f"su_method must be auto, su or sudo, got {value!r}", number, raw)
        elif field_name == "host":
            try:
                Address.parse(value)
            except ValueError as exc:
                raise self.error(f"bad {key}: {exc}", number, raw) from None
        elif not value and field_name is not None:
            raise self.error(f"empty value for {key!r}", number, raw)

    def _expand(self, token: str, number: int, raw: str) -> list[str]:
        if token.rpartition("@")[2].startswith("[") or "[" not in token:
            return [token]  # no range, or an IPv6 literal
        match = _RANGE_RE.match(token)
        if not match:
            raise self.error(f"malformed host pattern {token!r}", number, raw)
        head, lo_text, hi_text, tail = match.groups()
        lo, hi = int(lo_text), int(hi_text)
        if hi < lo or hi - lo >= _MAX_RANGE:
            raise self.error(f"bad host range [{lo_text}:{hi_text}]", number, raw)
        width = len(lo_text) if lo_text.startswith("0") else 0
        return [f"{head}{str(i).zfill(width)}{tail}" for i in range(lo, hi + 1)]

    def _host_line(self, tokens: list[str], number: int, raw: str, group: str | None) -> None:
        pairs = self._pairs(tokens, number, raw, first=1)
        for name in self._expand(tokens[0], number, raw):
            self._add_host(name, pairs, number, raw, group)

    def _add_host(
        self, token: str, pairs: dict[str, str], number: int, raw: str, group: str | None
    ) -> None:
        if not pairs and token in self.entries:
            # Ansible: naming a known host again (in another group) adds it to that group
            if group:
                self.entries[token].groups.add(group)
            return
        settings = {KEY_FIELDS[k]: v for k, v in pairs.items() if k in KEY_FIELDS}
        extra = {k: v for k, v in pairs.items() if k not in KEY_FIELDS}
        if "host" in settings:
            # Ansible style: the first token is the inventory name, ansible_host the address
            if not valid_alias(token):
                raise self.error(f"invalid host name {token!r}", number, raw)
            address = Address.parse(settings.pop("host"))
            name = settings.get("alias") or token
            settings.setdefault("alias", token)
        else:
            try:
                address = Address.parse(token)
            except ValueError as exc:
                raise self.error(str(exc), number, raw) from None
            name = settings.get("alias") or str(address)
        previous = self.entries.get(name)
        if previous is None:
            self.entries[name] = _Entry(
                name=name,
                address=address,
                settings=settings,
                vars=extra,
                groups={group} if group else set(),
                where=number,
                text=raw,
            )
            return
        same = previous.address == address and (
            not pairs or (previous.settings == settings and previous.vars == extra)
        )
        if not same:
            kind = "alias" if "alias" in settings else "host"
            raise self.error(
                f"duplicate {kind} {name!r} (first defined at {self.source}:{previous.where})",
                number,
                raw,
            )
        if group:
            previous.groups.add(group)

    # -- groups ----------------------------------------------------------------------------
    def _ancestry(self) -> dict[str, list[str]]:
        """Map each group to the groups it belongs to (itself first, then parents outward)."""
        parents: dict[str, set[str]] = {g: set() for g in self.groups}
        for name, group in self.groups.items():
            for child, number, raw in group.children:
                if child not in self.groups:
                    raise self.error(
                        f"[{name}:children] names unknown group {child!r}", number, raw
                    )
                parents[child].add(name)
        result: dict[str, list[str]] = {}
        for start in self.groups:
            order: list[str] = []
            stack: list[tuple[str, tuple[str, ...]]] = [(start, ())]
            while stack:
                current, path = stack.pop(0)
                if current in path:
                    cycle = " -> ".join((*path, current))
                    raise self.error(f"group cycle: {cycle}", self.groups[current].where)
                if current not in order:
                    order.append(current)
                stack.extend((p, (*path, current)) for p in sorted(parents[current]))
            result[start] = order
        return result

    def specs(self) -> list[HostSpec]:
        ancestry = self._ancestry()
        specs: list[HostSpec] = []
        for entry in self.entries.values():
            groups: list[str] = []
            for g in sorted(entry.groups):
                groups.extend(x for x in ancestry[g] if x not in groups)
            merged: dict[str, str] = {}
            for g in reversed(groups):  # outermost parent first, so closer groups override
                merged.update(self.groups[g].vars)
            group_settings = {KEY_FIELDS[k]: v for k, v in merged.items() if k in KEY_FIELDS}
            if "host" in group_settings or "alias" in group_settings:
                raise self.error(
                    "ansible_host/alias cannot be set for a whole group", entry.where, entry.text
                )
            settings = {**group_settings, **entry.settings}
            extra = {**{k: v for k, v in merged.items() if k not in KEY_FIELDS}, **entry.vars}
            tags = frozenset(t for t in settings.get("tags", "").split(",") if t)
            specs.append(
                HostSpec(
                    host=entry.address.host,
                    port=int(settings["port"]) if "port" in settings else entry.address.port,
                    user=settings.get("user") or entry.address.user,
                    alias=settings.get("alias"),
                    identity_file=settings.get("identity_file"),
                    password_env=settings.get("password_env"),
                    jump=settings.get("jump"),
                    groups=frozenset(groups),
                    tags=tags,
                    vars=extra,
                    source=f"{self.source}:{entry.where}",
                )
            )
        return specs


def parse_inventory(text: str, source: str = "<inventory>") -> list[HostSpec]:
    """Parse inventory text into host specs (unsorted, without ids)."""
    parser = _Parser(source)
    parser.parse(text.splitlines())
    return parser.specs()


def load_inventory(path: str | os.PathLike[str]) -> list[HostSpec]:
    """Read and parse an inventory file."""
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError("inventory file not found", source=source) from None
    except IsADirectoryError:
        raise InventoryError("inventory path is a directory, not a file", source=source) from None
    except UnicodeDecodeError as exc:
        raise InventoryError(f"not UTF-8 text ({exc.reason})", source=source) from None
    except OSError as exc:
        raise InventoryError(f"cannot read inventory ({exc.strerror})", source=source) from None
    return parse_inventory(text, source)


def parse_host_list(text: str, source: str = "--hosts") -> list[HostSpec]:
    """Parse a comma list of ``[user@]host[:port]`` (as given to ``--hosts``)."""
    specs: list[HostSpec] = []
    seen: set[Address] = set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if urls.is_spec(item):  # testinfra's ssh://user@host:port?..., local://, docker://...
            specs.extend(urls.parse_spec(item, source, resolve_hosts, _select))
            continue
        try:
            address = Address.parse(item)
        except ValueError as exc:
            raise InventoryError(str(exc), source=source, text=item) from None
        if address in seen:
            continue
        seen.add(address)
        specs.append(HostSpec(host=address.host, port=address.port, user=address.user))
    if not specs:
        raise InventoryError("no hosts given", source=source, text=text)
    return specs


def _select(specs: Sequence[HostSpec], pattern: str) -> list[HostSpec]:
    return apply_limit(list(specs), [pattern])


def looks_like_path(value: str) -> bool:
    """Whether a ``--hosts`` value names a file rather than listing hosts."""
    if os.path.exists(value):
        return True
    if "," in value or urls.is_spec(value):
        return False
    return "/" in value or value.endswith((".txt", ".ini", ".cfg", ".hosts", ".inventory"))


def resolve_hosts(value: str) -> list[HostSpec]:
    """Turn a ``--hosts`` value (file path or comma list) into sorted specs with unique ids."""
    specs = load_inventory(value) if looks_like_path(value) else parse_host_list(value)
    try:
        return assign_ids(specs)
    except ValueError as exc:
        raise InventoryError(str(exc), source=value) from None
