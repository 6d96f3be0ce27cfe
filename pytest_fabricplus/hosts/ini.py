"""Inventory files in INI: plain host lines, groups, Ansible's INI inventory.

Format (one host per line)::

    # comment
    [user@]host[:port] [key=value ...]
    [group]
    web1 ansible_host=10.0.0.1 ansible_user=deploy
    [group:children]
    other_group
    [group:vars]
    key=value

Lines are split as a shell would (as Ansible does), host-line values read as Python literals
(as Ansible's INI plugin does); :class:`IniReader` fills the :class:`~.model.InventoryModel`
every format shares.
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Iterable

from ..errors import InventoryError
from .model import (
    GROUP_NAME,
    IMPLICIT_GROUPS,
    KEY_FIELDS,
    SECRET_KEYS,
    VAR_KEYS,
    Entry,
    Group,
    InventoryModel,
)
from .raw import expand_range, value_text
from .spec import Address, HostSpec, valid_alias

_SECTION_RE = re.compile(r"^\[([^\]:]+)(?::(children|vars))?\]\s*(?:[#;].*)?$")


#: characters after which a line needs shlex to split it as a shell would
_SHELL_SPECIAL = frozenset("\"'\\#")
_SHLEX_WHITESPACE = re.compile(r"[ \t\r\n]+")


class IniReader(InventoryModel):
    """An INI inventory's lines into the model (:meth:`parse`)."""

    def error(self, message: str, line: int = 0, text: str = "") -> InventoryError:
        # every error about a line, whatever its cause (``web1 foo ansible_password=x``
        # fails at ``foo``), leaves out a line that holds a password
        return super().error(message, line, self._safe_text(text))

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
                if not GROUP_NAME.match(name):
                    raise self.error(f"invalid group name {name!r}", number, raw)
                group = self.groups.setdefault(name, Group(where=number))
                group.where = group.where or number
                section = (name, kind)
                continue
            tokens = self._split(raw, number)
            if not tokens:
                continue
            if section is not None and section[1] == "children":
                if len(tokens) != 1 or not GROUP_NAME.match(tokens[0]):
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
        if not any(c in raw for c in _SHELL_SPECIAL):
            # what shlex gives such a line (its whitespace: space, tab, CR, LF), far cheaper
            return [token for token in _SHLEX_WHITESPACE.split(raw) if token]
        lexer = shlex.shlex(raw, posix=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            return list(lexer)
        except ValueError as exc:
            raise self.error(f"cannot split line ({exc})", number, raw) from None

    @staticmethod
    def _safe_text(raw: str) -> str:
        lowered = raw.lower()
        return "" if any(key in lowered for key in SECRET_KEYS) else raw

    def _pairs(self, tokens: list[str], number: int, raw: str, first: int) -> dict[str, str]:
        pairs: dict[str, str] = {}
        for token in tokens[first:]:
            key, sep, value = token.partition("=")
            if key in SECRET_KEYS:
                raise self._secret_error(key, number)
            if not sep:
                raise self.error(f"expected key=value, got {token!r}", number, raw)
            if key in pairs:
                raise self.error(f"key {key!r} given twice", number, raw)
            pairs[key] = value
        self._check_pairs(pairs, {}, number, raw)
        return pairs

    def _expand(self, token: str, number: int, raw: str) -> list[str]:
        if token.rpartition("@")[2].startswith("[") or "[" not in token:
            return [token]  # no range, or an IPv6 literal
        try:
            return expand_range(token)
        except ValueError as exc:
            raise self.error(f"bad host range: {exc}", number, raw) from None

    def _host_line(self, tokens: list[str], number: int, raw: str, group: str | None) -> None:
        # Ansible reads host-line values as Python literals (x=1 is 1, y=True is true);
        # [group:vars] values stay strings
        # (our own keys and the address keys stay as written: alias=1e5 is no number)
        pairs = {
            k: v if k in KEY_FIELDS or k in VAR_KEYS else _ini_value(v)
            for k, v in self._pairs(tokens, number, raw, first=1).items()
        }
        for name in self._expand(tokens[0], number, raw):
            if "[" in name and not name.rpartition("@")[2].startswith("["):
                raise self.error(f"malformed host pattern {tokens[0]!r}", number, raw)
            self._add_host(name, pairs, number, raw, group)

    def _add_host(
        self, token: str, pairs: dict[str, str], number: int, raw: str, group: str | None
    ) -> None:
        if group in IMPLICIT_GROUPS:
            group = None  # [all] and [ungrouped] add no group of their own
        if not pairs and token in self.entries:
            # Ansible: naming a known host again (in another group) adds it to that group
            if group:
                self.entries[token].groups.add(group)
            return
        settings = {KEY_FIELDS[k]: v for k, v in pairs.items() if k in KEY_FIELDS}
        extra = {k: v for k, v in pairs.items() if k not in KEY_FIELDS}
        address: Address | None
        if "host" in settings:
            # Ansible style: the first token is the inventory name, ansible_host the address
            if not valid_alias(token):
                raise self.error(f"invalid host name {token!r}", number, raw)
            address = None
            name = settings.get("alias") or token
        else:
            try:
                address = Address.parse(token)
            except ValueError as exc:
                raise self.error(str(exc), number, raw) from None
            name = settings.get("alias") or str(address)
        previous = self.entries.get(name)
        if previous is None:
            self.entries[name] = Entry(
                name=name,
                token=token,
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


def _ini_value(text: str) -> str:
    """A host-line value as Ansible's INI plugin reads it (``ast.literal_eval``, else text)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    return value_text(value) if isinstance(value, (bool, int, float, list, dict)) else text


def parse_inventory(text: str, source: str = "<inventory>") -> list[HostSpec]:
    """Parse INI inventory text into host specs (unsorted, without ids)."""
    parser = IniReader(source)
    parser.parse(text.splitlines())
    return parser.specs()
