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
import re
import shlex
import urllib.parse
from collections.abc import Iterable
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


#: ``user:password@`` in a spec's address part (testinfra's form of a login password)
_USERINFO_PASSWORD = re.compile(r"(^|//|,)([^/@:,?]*):[^@/?,]*@")


def _without_password(text: str) -> str:
    """The spec as an error may show it: a ``user:password@`` password left out."""
    return _USERINFO_PASSWORD.sub(r"\1\2:<password left out>@", text)


def split_spec(text: str, source: str = "--hosts") -> Parsed:
    """``SCHEME://NETLOC?QUERY`` as testinfra splits it (first value of each query key)."""
    url = urllib.parse.urlparse(text.strip())
    scheme = url.scheme.lower()
    if scheme not in SCHEMES:
        raise InventoryError(
            f"unknown testinfra connection {scheme!r} (known: {', '.join(SCHEMES)})",
            source=source,
            text=_without_password(text),
        )
    try:
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True, strict_parsing=False)
    except ValueError as exc:  # pragma: no cover - parse_qs is lenient unless strict
        raise InventoryError(
            f"bad query ({exc})", source=source, text=_without_password(text)
        ) from None
    return Parsed(scheme, url.netloc, {k: v[0] for k, v in query.items()})


def _true(value: str) -> bool:
    # testinfra: query.get(key, ["false"])[0].lower() == "true"
    return value.lower() == "true"


def _ssh_spec(parsed: Parsed, text: str, source: str) -> HostSpec:
    user, at, _ = parsed.netloc.rpartition("@")
    if at and ":" in user:
        raise InventoryError(
            "a password in the host's address is not accepted (it would show in process "
            "lists, logs and reports): put it in an environment variable and name it with "
            "--fabricplus-ssh-password-env=VARIABLE (or password_env=VARIABLE in an inventory)",
            source=source,
            text=_without_password(text),
        )
    try:
        address = Address.parse(parsed.netloc)
    except ValueError as exc:
        raise InventoryError(str(exc), source=source, text=_without_password(text)) from None
    query = parsed.query
    ssh_args: list[str] = []
    if "ssh_config" in query:
        ssh_args += ["-F", os.path.expanduser(query["ssh_config"])]
    if "timeout" in query:
        timeout = query["timeout"]
        if not timeout.isdigit() or int(timeout) < 1:
            raise InventoryError(
                f"timeout={timeout!r} is not a whole number of seconds",
                source=source,
                text=_without_password(text),
            )
        ssh_args += ["-o", f"ConnectTimeout={timeout}"]
    if "ssh_extra_args" in query:
        try:
            extra = shlex.split(query["ssh_extra_args"])
            sshargs.parse(extra)  # what ssh would refuse (hosts/sshargs.py)
            ssh_args += extra
        except ValueError as exc:
            raise InventoryError(
                f"ssh_extra_args: {exc}", source=source, text=_without_password(text)
            ) from None
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


def parse_spec(text: str, source: str = "--hosts") -> list[HostSpec]:
    """One testinfra host spec as host specs.

    ``ansible://PATTERN?ansible_inventory=FILE`` names hosts of an inventory, which this
    module does not read: ``hosts/sources.py`` (``parse_testinfra_spec``) does, with
    :func:`ansible_source`; here it is refused.
    """
    parsed = split_spec(text, source)
    if parsed.scheme in SSH_SCHEMES:
        return [_ssh_spec(parsed, text, source)]
    if parsed.scheme == "ansible":
        inventory, _ = ansible_source(parsed, text, source)
        raise InventoryError(
            f"ansible:// names hosts of {inventory}: read it with the inventory "
            "(hosts.sources.parse_testinfra_spec)",
            source=source,
            text=_without_password(text),
        )
    return [_backend_spec(parsed, text, source)]


def ansible_source(parsed: Parsed, text: str, source: str) -> tuple[str, str]:
    """The inventory (as written) and the pattern of ``ansible://PATTERN?ansible_inventory=FILE``."""
    inventory = parsed.query.get("ansible_inventory")
    if not inventory:
        raise InventoryError(
            "ansible://PATTERN in --hosts needs ?ansible_inventory=FILE "
            "(or name the hosts of --hosts=INVENTORY in the module's testinfra_hosts)",
            source=source,
            text=_without_password(text),
        )
    return inventory, parsed.netloc or "all"


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
