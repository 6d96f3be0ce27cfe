"""The one step from what an inventory says to :class:`HostSpec`, for every format.

An INI file (``hosts/ini.py``) and a :class:`~.raw.RawInventory` (YAML, JSON,
``ansible-inventory``: ``hosts/ansible_readers.py``, ``hosts/ansible_runner.py``) fill the
same :class:`InventoryModel`; :meth:`InventoryModel.specs` applies Ansible's variable
precedence (``[all:vars]`` < ``group_vars/all`` < groups shallow to deep < ``group_vars/GROUP``
< host vars < ``host_vars/HOST``, ansible.cfg defaults below all), checks every value (our
keys, Ansible's connection keys through ``hosts/ansible.py``) and refuses clear-text
passwords. Every error is an :class:`InventoryError` naming ``file:line`` and the offending
text (never the text of a line that carries a secret).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InventoryError
from ..text import ENV_NAME
from .ansible import HONOURED_KEYS, ansible_defaults, connection_for, split_ssh_args
from .ansible_readers import VAULTED, AdjacentVars, adjacent_vars, read_vars_file
from .raw import RawInventory, truthy
from .spec import SU_METHODS, USER_NAME, Address, HostSpec, parse_port, valid_alias

#: keys a host line (or a ``[group:vars]`` section) may carry, and the field each one sets

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
GROUP_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
#: Ansible's implicit groups: every host is in ``all``; hosts in no other group in ``ungrouped``
IMPLICIT_GROUPS = ("all", "ungrouped")
#: how close an unknown INI key must be to one of ours to be called a typo (else: a plain var)
_TYPO_CUTOFF = 0.75


@dataclass
class Entry:
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
class Group:
    children: list[tuple[str, int, str]] = field(default_factory=list)
    vars: dict[str, str] = field(default_factory=dict)
    vars_lines: dict[str, tuple[int, str]] = field(default_factory=dict)
    where: int = 0


class InventoryModel:
    """Groups and hosts of one inventory, as written; :meth:`specs` gives the hosts."""

    def __init__(self, source: str, strict_keys: bool = True) -> None:
        self.source = source
        #: INI: an unknown key close to one of ours is a typo; YAML/JSON: any var is fine
        self.strict_keys = strict_keys
        self.entries: dict[str, Entry] = {}
        self.groups: dict[str, Group] = {}
        self.adjacent = AdjacentVars()
        #: ansible.cfg / ANSIBLE_* connection defaults, below every inventory variable
        self.defaults: dict[str, str] = {}
        self.defaults_source = ""

    def error(self, message: str, line: int = 0, text: str = "") -> InventoryError:
        return InventoryError(message, source=self.source, line=line, text=text)

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

    # -- YAML / JSON (a RawInventory, hosts/raw.py) ------------------------------------------
    def load_raw(self, raw: RawInventory) -> None:
        """Take the groups and hosts of a YAML or JSON inventory, checking every value."""
        for name, rgroup in raw.groups.items():
            if not GROUP_NAME.match(name):
                raise self.error(f"invalid group name {name!r}", rgroup.line)
            group = self.groups.setdefault(name, Group(where=rgroup.line))
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
            self.entries[key] = Entry(
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
            InventoryModel(file, strict_keys=False)._check_pairs(
                read_vars_file(Path(file)), {}, 0, ""
            )

    def _merged(
        self, entry: Entry, groups: list[str], depth: Mapping[str, int]
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
            InventoryModel(self.defaults_source, strict_keys=False)._check_pairs(
                self.defaults, {}, 0, ""
            )

    def _spec(self, entry: Entry, groups: list[str], merged: dict[str, str]) -> HostSpec:
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


def _as_keys(settings: Mapping[str, str]) -> dict[str, str]:
    """Field settings back under one key that sets them (for merging with group vars)."""
    back = {"host": "ansible_host", "port": "ansible_port", "user": "ansible_user"}
    back["identity_file"] = "ansible_ssh_private_key_file"
    return {back.get(k, k): v for k, v in settings.items()}
