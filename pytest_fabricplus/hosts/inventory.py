"""Inventories: plain host lines, INI groups, Ansible INI / YAML / JSON inventories.

Format (one host per line)::

    # comment
    [user@]host[:port] [key=value ...]
    [group]
    web1 ansible_host=10.0.0.1 ansible_user=deploy
    [group:children]
    other_group
    [group:vars]
    key=value

Ansible's YAML, the JSON of ``ansible-inventory --list``, ``group_vars/``/``host_vars/`` and
any source ``ansible-inventory`` reads come in through ``hosts/ansible.py`` as a
``RawInventory``; every format ends in the same ``_Parser.specs()`` (Ansible's variable
precedence, its connection keys mapped onto ``HostSpec``).

Every error is an :class:`InventoryError` naming ``file:line`` and the offending text
(never the text of a line that carries a secret).
"""

from __future__ import annotations

import ast
import difflib
import os
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InventoryError
from ..text import ENV_NAME, NotUtf8, read_utf8
from . import urls
from .ansible import (
    HONOURED_KEYS,
    VAULTED,
    AdjacentVars,
    RawInventory,
    adjacent_vars,
    ansible_defaults,
    ansible_inventory_command,
    connection_for,
    expand_range,
    host_warnings,
    parse_json_inventory,
    parse_yaml_inventory,
    read_vars_file,
    run_ansible_inventory,
    split_ssh_args,
    truthy,
    value_text,
)
from .selection import apply_limit
from .spec import SU_METHODS, USER_NAME, Address, HostSpec, assign_ids, parse_port, valid_alias

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
    "ansible_private_key_file": "identity_file",
}
#: keys kept in ``HostSpec.vars`` for features that read them (privilege strategies)
#: (``become_user``: run every test on this host as that user, from ``ansible_become``)
VAR_KEYS = frozenset({"su_method", "su_password_env", "sudo_password_env", "become_user"})
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
        "ansible_su_password",
        "ansible_sudo_password",
        "ansible_paramiko_pass",
        "ansible_paramiko_password",
        "ansible_winrm_password",
        "ansible_winrm_pass",
        "ansible_httpapi_pass",
        "ansible_httpapi_password",
        "ansible_ssh_passphrase",
    }
)
_TAG_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_GROUP_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_SECTION_RE = re.compile(r"^\[([^\]:]+)(?::(children|vars))?\]\s*(?:[#;].*)?$")
#: Ansible's implicit groups: every host is in ``all``; hosts in no other group in ``ungrouped``
IMPLICIT_GROUPS = ("all", "ungrouped")
#: how close an unknown INI key must be to one of ours to be called a typo (else: a plain var)
_TYPO_CUTOFF = 0.75


#: characters after which a line needs shlex to split it as a shell would
_SHELL_SPECIAL = frozenset("\"'\\#")
_SHLEX_WHITESPACE = re.compile(r"[ \t\r\n]+")


@dataclass
class _Entry:
    name: str
    #: the host token (INI) or inventory name (YAML, JSON): the address when no ansible_host
    token: str
    address: Address | None
    settings: dict[str, str]
    vars: dict[str, str]
    groups: set[str]
    where: int
    text: str
    var_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class _Group:
    children: list[tuple[str, int, str]] = field(default_factory=list)
    vars: dict[str, str] = field(default_factory=dict)
    vars_lines: dict[str, tuple[int, str]] = field(default_factory=dict)
    where: int = 0


class _Parser:
    def __init__(self, source: str, strict_keys: bool = True) -> None:
        self.source = source
        #: INI: an unknown key close to one of ours is a typo; YAML/JSON: any var is fine
        self.strict_keys = strict_keys
        self.entries: dict[str, _Entry] = {}
        self.groups: dict[str, _Group] = {}
        self.adjacent = AdjacentVars()
        #: ansible.cfg / ANSIBLE_* connection defaults, below every inventory variable
        self.defaults: dict[str, str] = {}
        self.defaults_source = ""

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
        if not any(c in raw for c in _SHELL_SPECIAL):
            # what shlex gives such a line (its whitespace: space, tab, CR, LF), far cheaper
            return [token for token in _SHLEX_WHITESPACE.split(raw) if token]
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
                raise self._secret_error(key, number)
            if not sep:
                raise self.error(f"expected key=value, got {token!r}", number, raw)
            if key in pairs:
                raise self.error(f"key {key!r} given twice", number, raw)
            pairs[key] = value
        self._check_pairs(pairs, {}, number, raw)
        return pairs

    def _secret_error(self, key: str, number: int) -> InventoryError:
        # never echo the line: it holds a password in clear
        return self.error(
            f"{key} holds a password in clear text; put the password in an environment "
            "variable and name it with password_env=VARIABLE (su_password_env / "
            "sudo_password_env for become)",
            number,
        )

    def _check_pairs(
        self,
        pairs: Mapping[str, str],
        lines: Mapping[str, int],
        number: int,
        raw: str,
        strict: bool | None = None,
    ) -> None:
        strict = self.strict_keys if strict is None else strict
        for key, value in pairs.items():
            line = lines.get(key) or number
            if key in SECRET_KEYS:
                raise self._secret_error(key, line)
            if key in KEY_FIELDS or key in VAR_KEYS or key.startswith("ansible_"):
                pass
            elif strict:
                known = sorted([*KEY_FIELDS, *VAR_KEYS])
                close = difflib.get_close_matches(key, known, n=1, cutoff=_TYPO_CUTOFF)
                if close:
                    raise self.error(
                        f"unknown key {key!r} (did you mean {close[0]!r}?); known keys: "
                        f"{', '.join(known)} (other names are kept as plain variables)",
                        line,
                        raw,
                    )
            self._check_value(key, value, line, raw)

    def _check_value(self, key: str, value: str, number: int, raw: str) -> None:
        field_name = KEY_FIELDS.get(key)
        if value == VAULTED and (field_name is not None or key in HONOURED_KEYS):
            raise self.error(
                f"{key} is encrypted with Ansible Vault; vault values are not decrypted "
                "here: write it in clear (a connection setting is no secret)",
                number,
                raw,
            )
        if "{{" in value and (field_name is not None or key in HONOURED_KEYS):
            raise self.error(
                f"{key} is a Jinja template ({value!r}); templates are not evaluated here "
                "(nor by testinfra): write the value itself",
                number,
                raw,
            )
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
        elif key == "become_user" and not USER_NAME.match(value):
            raise self.error(f"become_user {value!r} is not a user name", number, raw)
        elif field_name == "host":
            try:
                Address.parse(value)
            except ValueError as exc:
                raise self.error(f"bad {key}: {exc}", number, raw) from None
        elif key == "ansible_become_user" and value and not USER_NAME.match(value):
            raise self.error(f"ansible_become_user {value!r} is not a user name", number, raw)
        elif key in ("ansible_ssh_args", "ansible_ssh_common_args", "ansible_ssh_extra_args"):
            try:
                split_ssh_args(key, value)
            except ValueError as exc:
                raise self.error(str(exc), number, raw) from None
        elif key == "ansible_become" and value and truthy(value) is None:
            raise self.error(f"ansible_become={value!r} is not a boolean", number, raw)
        elif not value and field_name is not None:
            raise self.error(f"empty value for {key!r}", number, raw)

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
            self.entries[name] = _Entry(
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

    # -- YAML / JSON (a RawInventory from hosts/ansible.py) --------------------------------
    def load_raw(self, raw: RawInventory) -> None:
        """Take the groups and hosts of a YAML or JSON inventory, checking every value."""
        for name, rgroup in raw.groups.items():
            if not _GROUP_RE.match(name):
                raise self.error(f"invalid group name {name!r}", rgroup.line)
            group = self.groups.setdefault(name, _Group(where=rgroup.line))
            for child in rgroup.children:
                if child not in IMPLICIT_GROUPS:
                    group.children.append((child, rgroup.line, ""))
            self._check_pairs(rgroup.vars, rgroup.var_lines, rgroup.line, "")
            group.vars.update(rgroup.vars)
            group.vars_lines.update(
                {k: (rgroup.var_lines.get(k) or rgroup.line, "") for k in rgroup.vars}
            )
        member: dict[str, set[str]] = {}
        for name, rgroup in raw.groups.items():
            for host in rgroup.hosts:
                member.setdefault(host, set()).add(name)
        for name, rhost in raw.hosts.items():
            self._check_pairs(rhost.vars, rhost.var_lines, rhost.line, "")
            settings = {KEY_FIELDS[k]: v for k, v in rhost.vars.items() if k in KEY_FIELDS}
            extra = {k: v for k, v in rhost.vars.items() if k not in KEY_FIELDS}
            groups = member.get(name, set()) - set(IMPLICIT_GROUPS)
            key = settings.get("alias") or name
            if key in self.entries:
                raise self.error(
                    f"duplicate alias {key!r} (first defined at "
                    f"{self.source}:{self.entries[key].where})",
                    rhost.line,
                )
            self.entries[key] = _Entry(
                name=key,
                token=name,
                address=None,
                settings=settings,
                vars=extra,
                groups=groups,
                where=rhost.line,
                text="",
                var_lines=dict(rhost.var_lines),
            )

    # -- groups ----------------------------------------------------------------------------
    def _parents(self) -> dict[str, set[str]]:
        parents: dict[str, set[str]] = {g: set() for g in self.groups}
        for name, group in self.groups.items():
            for child, number, raw in group.children:
                if child not in self.groups:
                    raise self.error(
                        f"[{name}:children] names unknown group {child!r}", number, raw
                    )
                if name not in IMPLICIT_GROUPS:
                    parents[child].add(name)
        return parents

    def _ancestry(self) -> dict[str, list[str]]:
        """Map each group to the groups it belongs to (itself first, then parents outward)."""
        parents = self._parents()
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

    def _depths(self, ancestry: Mapping[str, list[str]]) -> dict[str, int]:
        """Ansible's group depth: 1 below ``all``, a child one deeper than its deepest parent."""
        parents = self._parents()
        depth: dict[str, int] = {}

        def of(name: str) -> int:
            if name not in depth:
                depth[name] = 1 + max((of(p) for p in parents[name]), default=0)
            return depth[name]

        for name in ancestry:
            of(name)
        return depth

    def adjacent_files(self, path: Path) -> None:
        """Read ``group_vars/`` and ``host_vars/`` next to the inventory file."""
        names = [e.token for e in self.entries.values()] + [e.name for e in self.entries.values()]
        self.adjacent = adjacent_vars(
            path, ["all", "ungrouped", *self.groups], list(dict.fromkeys(names))
        )
        for file in self.adjacent.files:  # each file's values checked, naming that file
            _Parser(file, strict_keys=False)._check_pairs(read_vars_file(Path(file)), {}, 0, "")

    def _merged(
        self, entry: _Entry, groups: list[str], depth: Mapping[str, int]
    ) -> tuple[dict[str, str], dict[str, tuple[int, str]]]:
        """The host's vars in Ansible's precedence (later wins)::

        [all:vars] < group_vars/all < groups' vars (shallow to deep, then by name)
        < group_vars/<group> < host line vars < host_vars/<host>
        """
        ordered = sorted(groups, key=lambda g: (depth.get(g, 1), g))
        if not entry.groups:  # Ansible's implicit group (its vars: [ungrouped:vars], files)
            ordered.insert(0, "ungrouped")
        merged: dict[str, str] = {}
        lines: dict[str, tuple[int, str]] = {}
        files = self.adjacent.groups

        def take(values: Mapping[str, str], where: Mapping[str, tuple[int, str]]) -> None:
            merged.update(values)
            lines.update({k: where.get(k, (0, "")) for k in values})

        if "all" in self.groups:
            take(self.groups["all"].vars, self.groups["all"].vars_lines)
        take(files.get("all", {}), {})
        for g in ordered:
            if g in self.groups:
                take(self.groups[g].vars, self.groups[g].vars_lines)
        for g in ordered:
            take(files.get(g, {}), {})
        entry_settings = {k: v for k, v in _as_keys(entry.settings).items()}
        take({**entry_settings, **entry.vars}, {})
        take(self.adjacent.hosts.get(entry.token, {}), {})
        if entry.name != entry.token:
            take(self.adjacent.hosts.get(entry.name, {}), {})
        return merged, lines

    def specs(self) -> list[HostSpec]:
        ancestry = self._ancestry()
        depth = self._depths(ancestry)
        specs: list[HostSpec] = []
        for entry in self.entries.values():
            groups: list[str] = []
            for g in sorted(entry.groups):
                groups.extend(x for x in ancestry[g] if x not in groups)
            groups = [g for g in groups if g not in IMPLICIT_GROUPS]
            merged, lines = self._merged(entry, groups, depth)
            own = set(_as_keys(entry.settings)) | set(entry.vars)
            own |= set(self.adjacent.hosts.get(entry.token, {}))
            for key in ("ansible_host", "ansible_ssh_host", "alias"):
                if key in merged and key not in own:
                    raise self.error(
                        "ansible_host/alias cannot be set for a whole group",
                        lines.get(key, (0, ""))[0] or entry.where,
                        entry.text,
                    )
            self._check_pairs(merged, {}, entry.where, "", strict=False)
            specs.append(self._spec(entry, groups, merged))
        return specs

    def use_defaults(self, env: Mapping[str, str], cwd: Path) -> None:
        """Apply ansible.cfg / ``ANSIBLE_*`` connection defaults (as Ansible and testinfra do)."""
        self.defaults, self.defaults_source = ansible_defaults(env, cwd)
        if self.defaults:
            _Parser(self.defaults_source, strict_keys=False)._check_pairs(self.defaults, {}, 0, "")

    def _spec(self, entry: _Entry, groups: list[str], merged: dict[str, str]) -> HostSpec:
        settings: dict[str, str] = {}
        for key, value in merged.items():
            if key in KEY_FIELDS:
                settings[KEY_FIELDS[key]] = value
        token = entry.address or (None if "host" in settings else _try_address(entry.token))
        for key, value in self.defaults.items():
            field_name = KEY_FIELDS.get(key)
            if field_name is None or field_name in settings:
                continue
            if token is not None and getattr(token, field_name, None) is not None:
                continue  # user@host:port written in the inventory beats a default
            settings[field_name] = value
        merged = {**{k: v for k, v in self.defaults.items() if k not in KEY_FIELDS}, **merged}
        # the last spelling given wins between synonyms (ansible_port vs ansible_ssh_port)
        extra = {k: v for k, v in merged.items() if k not in KEY_FIELDS}
        alias = settings.get("alias")
        if "host" in settings:
            address = Address.parse(settings["host"])
            alias = alias or entry.token
            if not valid_alias(alias):
                raise self.error(f"invalid host name {alias!r}", entry.where, entry.text)
        elif entry.address is not None:
            address = entry.address
        else:
            try:
                address = Address.parse(entry.token)
            except ValueError as exc:
                raise self.error(str(exc), entry.where, entry.text) from None
        try:
            connection = connection_for(merged)
        except ValueError as exc:
            raise self.error(f"host {entry.name}: {exc}", entry.where, entry.text) from None
        extra.update(connection.vars)
        tags = frozenset(t for t in settings.get("tags", "").split(",") if t)
        return HostSpec(
            host=address.host,
            port=int(settings["port"]) if "port" in settings else address.port,
            user=settings.get("user") or address.user,
            alias=alias,
            identity_file=settings.get("identity_file"),
            password_env=settings.get("password_env"),
            jump=settings.get("jump"),
            groups=frozenset(groups),
            tags=tags,
            ssh_args=connection.ssh_args,
            transport=connection.transport,
            vars=extra,
            source=f"{self.source}:{entry.where}" if entry.where else self.source,
        )


def _try_address(text: str) -> Address | None:
    try:
        return Address.parse(text)
    except ValueError:
        return None


def _ini_value(text: str) -> str:
    """A host-line value as Ansible's INI plugin reads it (``ast.literal_eval``, else text)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    return value_text(value) if isinstance(value, (bool, int, float, list, dict)) else text


def _as_keys(settings: Mapping[str, str]) -> dict[str, str]:
    """Field settings back under one key that sets them (for merging with group vars)."""
    back = {"host": "ansible_host", "port": "ansible_port", "user": "ansible_user"}
    back["identity_file"] = "ansible_ssh_private_key_file"
    return {back.get(k, k): v for k, v in settings.items()}


def parse_inventory(text: str, source: str = "<inventory>") -> list[HostSpec]:
    """Parse INI inventory text into host specs (unsorted, without ids)."""
    parser = _Parser(source)
    parser.parse(text.splitlines())
    return parser.specs()


def parse_yaml(text: str, source: str = "<inventory>") -> list[HostSpec]:
    """Parse an Ansible YAML inventory into host specs (unsorted, without ids)."""
    parser = _Parser(source, strict_keys=False)
    parser.load_raw(parse_yaml_inventory(text, source))
    return parser.specs()


def parse_json(text: str, source: str = "<inventory>") -> list[HostSpec]:
    """Parse ``ansible-inventory --list`` JSON into host specs (unsorted, without ids)."""
    parser = _Parser(source, strict_keys=False)
    parser.load_raw(parse_json_inventory(text, source))
    return parser.specs()


def detect_format(path: Path, text: str | None) -> str:
    """``yaml``, ``json``, ``ansible`` (run ansible-inventory) or ``ini``."""
    if path.is_dir():
        return "ansible"
    if path.suffix.lower() in (".yml", ".yaml"):
        return "yaml"
    if path.suffix.lower() == ".json" or (text is not None and text.lstrip().startswith("{")):
        return "json"
    if os.access(path, os.X_OK) and text is not None and text.startswith("#!"):
        return "ansible"  # a dynamic inventory script
    return "ini"


def read_ansible(source: str) -> list[HostSpec]:
    """Any inventory source, read by Ansible's own ``ansible-inventory --list``."""
    parser = _Parser(source, strict_keys=False)
    parser.load_raw(run_ansible_inventory(source))
    parser.use_defaults(os.environ, Path.cwd())
    return parser.specs()


def load_inventory(path: str | os.PathLike[str], force_ansible: bool = False) -> list[HostSpec]:
    """Read and parse an inventory file: INI, Ansible YAML or JSON, or (with ansible-core
    installed) anything ``ansible-inventory`` reads: scripts, plugin configs, directories.

    ``group_vars/`` and ``host_vars/`` next to the file apply as in Ansible.
    """
    source = os.fspath(path)
    where = Path(source)
    if force_ansible:
        if not where.exists():
            raise InventoryError("inventory file not found", source=source)
        return read_ansible(source)
    if where.is_dir():
        if ansible_inventory_command() is None:
            raise InventoryError(
                "inventory path is a directory, not a file (an Ansible inventory directory "
                "needs ansible-inventory: pip install ansible-core)",
                source=source,
            )
        return read_ansible(source)
    try:
        text = read_utf8(where)
    except FileNotFoundError:
        raise InventoryError("inventory file not found", source=source) from None
    except NotUtf8 as exc:
        raise InventoryError(str(exc), source=source, line=exc.line) from None
    except OSError as exc:
        raise InventoryError(f"cannot read inventory ({exc.strerror})", source=source) from None
    kind = detect_format(where, text)
    if kind == "ansible":
        if ansible_inventory_command() is None:
            raise InventoryError(
                "an executable inventory (dynamic inventory script) needs ansible-inventory: "
                "pip install ansible-core",
                source=source,
            )
        return read_ansible(source)
    if kind == "yaml":
        if _is_plugin(text) and ansible_inventory_command() is not None:
            return read_ansible(source)  # an inventory plugin's configuration
        parser = _Parser(source, strict_keys=False)
        parser.load_raw(parse_yaml_inventory(text, source))
    elif kind == "json":
        parser = _Parser(source, strict_keys=False)
        parser.load_raw(parse_json_inventory(text, source))
    else:
        parser = _Parser(source)
        parser.parse(text.splitlines())
    parser.adjacent_files(where)
    parser.use_defaults(os.environ, Path.cwd())
    return parser.specs()


def _is_plugin(text: str) -> bool:
    return bool(re.search(r"^plugin\s*:", text, re.MULTILINE))


def inventory_warnings(specs: Iterable[HostSpec]) -> list[str]:
    """One line per host that carries Ansible connection keys we do not honour."""
    return [line for s in specs for line in host_warnings(s.name, s.vars)]


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
    return "/" in value or value.endswith(
        (".txt", ".ini", ".cfg", ".hosts", ".inventory", ".yml", ".yaml", ".json")
    )


def resolve_hosts(value: str, force_ansible: bool = False) -> list[HostSpec]:
    """Turn a ``--hosts`` value (file path or comma list) into sorted specs with unique ids.

    ``force_ansible``: an inventory file is read through ``ansible-inventory``.
    """
    if looks_like_path(value):
        specs = load_inventory(value, force_ansible=force_ansible)
    else:
        specs = parse_host_list(value)
    try:
        return assign_ids(specs)
    except ValueError as exc:
        raise InventoryError(str(exc), source=value) from None
