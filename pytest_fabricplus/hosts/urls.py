"""testinfra host specs: ``ssh://user@host:port?sudo=true&...`` and friends, as ``HostSpec``.

testinfra (``testinfra.backend.parse_hostspec``) reads a host as ``SCHEME://NETLOC?QUERY``:
the scheme picks the backend, the query carries its options. Here:

* ``ssh://``, ``paramiko://``, ``safe-ssh://`` -> our SSH connection (``transport="ssh"``):
  ``[user@]host[:port]``; ``ssh_identity_file`` -> ``identity_file``; ``ssh_config`` ->
  ``ssh_args`` ``-F FILE``; ``ssh_extra_args`` -> ``ssh_args`` (split as a shell does);
  ``timeout`` -> ``ssh_args`` ``-o ConnectTimeout=N``; ``sudo`` / ``sudo_user`` -> ``vars``
  (every command of the ``host`` fixture runs through sudo, as testinfra does).
* any other testinfra backend (``local://``, ``docker://``, ``podman://``, ``kubectl://``,
  ...) -> ``transport=SCHEME``; ``vars["testinfra_spec"]`` keeps the spec as written, which
  the ``host`` fixture hands to ``testinfra.get_host()``.
* ``ansible://PATTERN?ansible_inventory=FILE`` -> the hosts of FILE that PATTERN names.

Query keys that change how testinfra would connect and that we cannot honour come back as
warnings (never silently dropped); ``controlpersist`` is one: we keep one connection per
host for the whole run anyway.
"""

from __future__ import annotations

import os
import shlex
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from ..errors import InventoryError
from . import sshargs
from .spec import Address, HostSpec

#: testinfra backends that are SSH: they all go through our connection
SSH_SCHEMES = ("ssh", "paramiko", "safe-ssh")
#: testinfra's other backends (``testinfra.backend.BACKENDS``), run by testinfra itself
OTHER_SCHEMES = (
    "local",
    "docker",
    "podman",
    "kubectl",
    "ansible",
    "salt",
    "winrm",
    "lxc",
    "openshift",
    "chroot",
)
SCHEMES = SSH_SCHEMES + OTHER_SCHEMES
#: ``vars`` keys this module sets
SUDO_VAR = "testinfra_sudo"
SUDO_USER_VAR = "testinfra_sudo_user"
SPEC_VAR = "testinfra_spec"
#: the inventory an ``ansible://PATTERN?ansible_inventory=FILE`` spec named its hosts from
ANSIBLE_INVENTORY_VAR = "testinfra_ansible_inventory"
IGNORED_VAR = "testinfra_ignored"

_TRUE_KEYS = ("sudo", "ssl", "no_ssl", "no_verify_ssl", "force_ansible")
#: query keys testinfra reads (``parse_hostspec``); anything else it ignores, and so we warn
_KNOWN_KEYS = frozenset(
    {
        *_TRUE_KEYS,
        "sudo_user",
        "namespace",
        "container",
        "read_timeout_sec",
        "operation_timeout_sec",
        "timeout",
        "controlpersist",
        "kubeconfig",
        "context",
        "ssh_config",
        "ansible_inventory",
        "ssh_identity_file",
        "ssh_extra_args",
    }
)
_SSH_HONOURED = frozenset(
    {"sudo", "sudo_user", "ssh_config", "ssh_identity_file", "ssh_extra_args", "timeout"}
)


def is_spec(text: str) -> bool:
    """Whether ``text`` is a testinfra host spec (``SCHEME://...``)."""
    return "://" in text


@dataclass(frozen=True)
class Parsed:
    scheme: str
    netloc: str
    query: dict[str, str]


def split_spec(text: str, source: str = "--hosts") -> Parsed:
    """``SCHEME://NETLOC?QUERY`` as testinfra splits it (first value of each query key)."""
    url = urllib.parse.urlparse(text.strip())
    scheme = url.scheme.lower()
    if scheme not in SCHEMES:
        raise InventoryError(
            f"unknown testinfra connection {scheme!r} (known: {', '.join(SCHEMES)})",
            source=source,
            text=text,
        )
    try:
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True, strict_parsing=False)
    except ValueError as exc:  # pragma: no cover - parse_qs is lenient unless strict
        raise InventoryError(f"bad query ({exc})", source=source, text=text) from None
    return Parsed(scheme, url.netloc, {k: v[0] for k, v in query.items()})


def _true(value: str) -> bool:
    # testinfra: query.get(key, ["false"])[0].lower() == "true"
    return value.lower() == "true"


def _ssh_spec(parsed: Parsed, text: str, source: str) -> HostSpec:
    try:
        address = Address.parse(parsed.netloc)
    except ValueError as exc:
        raise InventoryError(str(exc), source=source, text=text) from None
    query = parsed.query
    ssh_args: list[str] = []
    if "ssh_config" in query:
        ssh_args += ["-F", os.path.expanduser(query["ssh_config"])]
    if "timeout" in query:
        timeout = query["timeout"]
        if not timeout.isdigit() or int(timeout) < 1:
            raise InventoryError(
                f"timeout={timeout!r} is not a whole number of seconds", source=source, text=text
            )
        ssh_args += ["-o", f"ConnectTimeout={timeout}"]
    if "ssh_extra_args" in query:
        try:
            extra = shlex.split(query["ssh_extra_args"])
            sshargs.parse(extra)  # what ssh would refuse (hosts/sshargs.py)
            ssh_args += extra
        except ValueError as exc:
            raise InventoryError(f"ssh_extra_args: {exc}", source=source, text=text) from None
    variables = _sudo_vars(query)
    ignored = sorted(k for k in query if k not in _SSH_HONOURED)
    if ignored:
        variables[IGNORED_VAR] = ",".join(ignored)
    identity = query.get("ssh_identity_file")
    return HostSpec(
        host=address.host,
        port=address.port,
        user=address.user,
        identity_file=os.path.expanduser(identity) if identity else None,
        ssh_args=tuple(ssh_args),
        vars=variables,
        source=source,
    )


def pytest_id(scheme: str, netloc: str) -> str:
    """The test id testinfra gives a host of this backend (``local``, ``docker://c1``)."""
    return "local" if scheme == "local" else f"{scheme}://{netloc}"


def backend_spec(
    transport: str, host: str, user: str | None = None, query: dict[str, str] | None = None
) -> str:
    """The testinfra spec for a host reached by a non-SSH ``transport`` (for ``get_host``)."""
    netloc = "" if transport == "local" else (f"{user}@{host}" if user else host)
    text = f"{transport}://{netloc}"
    if query:
        text += "?" + urllib.parse.urlencode(query)
    return text


def _backend_spec(parsed: Parsed, text: str, source: str) -> HostSpec:
    user, _, name = parsed.netloc.rpartition("@")
    variables = {SPEC_VAR: text.strip(), **_sudo_vars(parsed.query)}
    unknown = sorted(k for k in parsed.query if k not in _KNOWN_KEYS)
    if unknown:
        variables[IGNORED_VAR] = ",".join(unknown)
    return HostSpec(
        host=name or parsed.scheme,
        user=user or None,
        alias=pytest_id(parsed.scheme, parsed.netloc),
        transport=parsed.scheme,
        vars=variables,
        source=source,
    )


def parse_spec(
    text: str,
    source: str = "--hosts",
    load_inventory: Callable[[str], Sequence[HostSpec]] | None = None,
    select: Callable[[Sequence[HostSpec], str], list[HostSpec]] | None = None,
) -> list[HostSpec]:
    """One testinfra host spec as host specs (several for ``ansible://PATTERN``).

    ``load_inventory`` / ``select`` read ``?ansible_inventory=FILE`` and pick the hosts
    ``PATTERN`` names (given by the caller: this module does not read inventories).
    """
    parsed = split_spec(text, source)
    if parsed.scheme in SSH_SCHEMES:
        return [_ssh_spec(parsed, text, source)]
    if parsed.scheme == "ansible":
        inventory = parsed.query.get("ansible_inventory")
        if not inventory or load_inventory is None or select is None:
            raise InventoryError(
                "ansible://PATTERN in --hosts needs ?ansible_inventory=FILE "
                "(or name the hosts of --hosts=INVENTORY in the module's testinfra_hosts)",
                source=source,
                text=text,
            )
        pattern = parsed.netloc or "all"
        chosen = select(load_inventory(os.path.expanduser(inventory)), pattern)
        if not chosen:
            raise InventoryError(
                f"{pattern!r} names no host of {inventory}", source=source, text=text
            )
        chosen = [replace(s, vars={**s.vars, ANSIBLE_INVENTORY_VAR: inventory}) for s in chosen]
        return apply_sudo(chosen, parsed.query)
    return [_backend_spec(parsed, text, source)]


@dataclass(frozen=True)
class AnsibleName:
    """How testinfra's ansible backend names a host: its inventory source (``None``:
    Ansible's default inventory) and its name there."""

    inventory: str | None
    name: str


def ansible_name(spec: HostSpec, ansible_mode: bool, inventory: str | None) -> AnsibleName | None:
    """The Ansible name of an SSH host where testinfra would run it through its ansible
    backend (``host.ansible(...)``, ``host.ansible.get_variables()``), else ``None``.

    testinfra uses that backend for ``ansible://`` specs and under ``--connection=ansible``
    (Molecule): ``ansible_mode``. ``inventory``: the run's inventory (``--ansible-inventory``,
    else an inventory file given as ``--hosts``; ``None``: Ansible's default); an
    ``ansible://PATTERN?ansible_inventory=FILE`` spec's own FILE wins.
    """
    own = spec.vars.get(ANSIBLE_INVENTORY_VAR)
    if spec.transport != "ssh" or not (own or ansible_mode):
        return None
    return AnsibleName(own or inventory, spec.alias or spec.host)


def _sudo_vars(query: dict[str, str]) -> dict[str, str]:
    """The host vars a spec's ``?sudo=true&sudo_user=U`` sets."""
    variables: dict[str, str] = {}
    if _true(query.get("sudo", "false")):
        variables[SUDO_VAR] = "true"
    if query.get("sudo_user"):
        variables[SUDO_USER_VAR] = query["sudo_user"]
    return variables


def apply_sudo(specs: Iterable[HostSpec], query: dict[str, str]) -> list[HostSpec]:
    """``?sudo=true&sudo_user=U`` of an ``ansible://`` spec onto the hosts it names."""
    extra = _sudo_vars(query)
    return [replace(s, vars={**s.vars, **extra}) if extra else s for s in specs]


def with_connection(specs: Iterable[HostSpec], connection: str | None) -> list[HostSpec]:
    """testinfra's ``--connection=NAME`` for hosts written without a scheme.

    SSH names (and ``ansible``: the inventory says how) leave the hosts alone; another
    backend (``docker``, ``local``, ...) makes every SSH host a host of that backend.
    """
    out = list(specs)
    if connection is None or connection in SSH_SCHEMES or connection == "ansible":
        return out
    result = []
    for spec in out:
        if spec.transport != "ssh" or SPEC_VAR in spec.vars:
            result.append(spec)
            continue
        text = backend_spec(connection, spec.host, spec.user)
        result.append(
            replace(
                spec,
                transport=connection,
                alias=spec.alias or pytest_id(connection, spec.host),
                vars={**spec.vars, SPEC_VAR: text},
            )
        )
    return result


def testinfra_spec(spec: HostSpec) -> str:
    """What ``testinfra.get_host()`` gets for a host that is not SSH."""
    written = spec.vars.get(SPEC_VAR)
    if written:
        return written
    return backend_spec(spec.transport, spec.host, spec.user)


def ignored_keys(spec: HostSpec) -> list[str]:
    """Query keys of the spec that we do not honour (for a warning naming host and key)."""
    raw = spec.vars.get(IGNORED_VAR, "")
    return [k for k in raw.split(",") if k]


def sudo_of(
    spec: HostSpec, sudo: bool = False, sudo_user: str | None = None
) -> tuple[bool, str | None]:
    """testinfra's ``sudo`` / ``sudo_user`` for this host: the spec's, else the options'."""
    user = spec.vars.get(SUDO_USER_VAR) or sudo_user
    on = spec.vars.get(SUDO_VAR) == "true" or sudo
    return on, user


#: the host of a testinfra suite run without any host: the local machine (``local://``)
LOCAL = HostSpec(
    host="local",
    alias="local",
    transport="local",
    vars={SPEC_VAR: "local://"},
    source="testinfra default",
    id="local",
)


class ModuleHosts:
    """A module's ``testinfra_hosts`` as host specs, as testinfra reads that list.

    Each entry is ``None`` (the local machine), an inventory name, alias or group (the
    inventory's hosts, as far as ``--hosts-limit``/``--hosts-shard`` selected them), an
    ``ansible://PATTERN`` (the same, by pattern), or a testinfra spec / ``[user@]host[:port]``
    of a host the inventory does not list (then tested as given, like testinfra does).
    Hosts made from entries get one id each for the whole run (one connection per host).
    """

    def __init__(self) -> None:
        self._made: dict[tuple[object, ...], HostSpec] = {}

    def made(self) -> list[HostSpec]:
        return list(self._made.values())

    def resolve(
        self,
        entries: object,
        where: str,
        inventory: Sequence[HostSpec],
        selected: Sequence[HostSpec],
        select: Callable[[Sequence[HostSpec], str], list[HostSpec]],
        connection: str | None = None,
        load_inventory: Callable[[str], Sequence[HostSpec]] | None = None,
    ) -> list[HostSpec]:
        if isinstance(entries, (str, bytes)) or not isinstance(entries, Iterable):
            raise InventoryError(
                f"testinfra_hosts must be a list of host names or specs, got {entries!r}",
                source=where,
            )
        chosen: dict[str, HostSpec] = {}
        picked = {s.id for s in selected}
        for entry in list(entries):
            if entry is None:
                found = [LOCAL]
            elif not isinstance(entry, str) or not entry.strip():
                raise InventoryError(
                    f"testinfra_hosts entry {entry!r} is not a host name or spec", source=where
                )
            else:
                found = self._entry(
                    entry.strip(), where, inventory, select, connection, load_inventory
                )
            for spec in found:
                if spec.id in {s.id for s in inventory} and spec.id not in picked:
                    continue  # in the inventory, left out by --hosts-limit / --hosts-shard
                chosen.setdefault(spec.id, spec)
        return sorted(chosen.values(), key=lambda s: s.id)

    def _entry(
        self,
        entry: str,
        where: str,
        inventory: Sequence[HostSpec],
        select: Callable[[Sequence[HostSpec], str], list[HostSpec]],
        connection: str | None,
        load_inventory: Callable[[str], Sequence[HostSpec]] | None,
    ) -> list[HostSpec]:
        if is_spec(entry):
            parsed = split_spec(entry, where)
            if parsed.scheme == "ansible" and "ansible_inventory" not in parsed.query:
                matched = select(inventory, parsed.netloc or "all")
                if not matched:
                    raise InventoryError(f"{entry!r} names no host of the inventory", source=where)
                return apply_sudo(matched, parsed.query)
            specs = parse_spec(entry, where, load_inventory, select)
        else:
            matched = select(inventory, entry) if inventory else []
            if matched:
                return matched
            try:
                address = Address.parse(entry)
            except ValueError as exc:
                raise InventoryError(
                    f"testinfra_hosts entry {entry!r}: {exc}", source=where
                ) from None
            specs = with_connection(
                [HostSpec(host=address.host, port=address.port, user=address.user, source=where)],
                connection,
            )
        return [self._known(spec, inventory) for spec in specs]

    def _known(self, spec: HostSpec, inventory: Sequence[HostSpec]) -> HostSpec:
        """The inventory's entry for this host if it has one, else one id for the run."""
        for known in inventory:  # the same address and options: the inventory's host
            if _reach(known) == _reach(spec) and _testinfra_vars(known) == _testinfra_vars(spec):
                return known
        key = (*_reach(spec), tuple(sorted(spec.vars.items())))
        made = self._made.get(key)
        if made is not None:
            return made
        taken = {s.id for s in inventory} | {s.id for s in self._made.values()}
        ident = spec.alias or (spec.host if spec.host not in taken else str(spec.address))
        base, n = ident, 2
        while ident in taken:  # same address, other options (sudo=, ssh_config=, ...)
            ident = f"{base}~{n}"
            n += 1
        made = replace(spec, id=ident)
        self._made[key] = made
        return made


def _reach(spec: HostSpec) -> tuple[object, ...]:
    return (spec.host, spec.port, spec.user, spec.transport, spec.ssh_args, spec.identity_file)


def _testinfra_vars(spec: HostSpec) -> dict[str, str]:
    return {k: v for k, v in spec.vars.items() if k.startswith("testinfra_")}
