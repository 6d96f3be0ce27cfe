"""Ansible inventories as Ansible reads them: YAML, ``ansible-inventory --list`` JSON,
``group_vars/`` and ``host_vars/``, any source through ``ansible-inventory``, and the
meaning of Ansible's connection keys (``ansible_ssh_common_args``, ``ansible_become``, ...).

Readers here return a neutral :class:`RawInventory` (groups, hosts, their variables, each
with the ``line`` it came from); ``hosts/inventory.py`` turns it into ``HostSpec`` the same
way for every format, so an INI file and its YAML twin give the same hosts.

PyYAML is imported on first use (the plugin's import cost stays low).
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InventoryError
from ..text import NotUtf8, read_utf8
from . import sshargs

#: seconds ``ansible-inventory`` may take (a dynamic inventory script can hang)
ANSIBLE_INVENTORY_TIMEOUT = 60.0
#: the ``ansible_connection`` values we run, and the transport each one means
#: (``ssh``: our connection; others: the name of a testinfra backend)
CONNECTIONS: Mapping[str, str] = {
    "ssh": "ssh",
    "smart": "ssh",
    "paramiko": "ssh",
    "paramiko_ssh": "ssh",
    "ansible.builtin.ssh": "ssh",
    "ansible.builtin.paramiko_ssh": "ssh",
    "local": "local",
    "ansible.builtin.local": "local",
    "docker": "docker",
    "community.docker.docker": "docker",
    "podman": "podman",
    "containers.podman.podman": "podman",
    "kubectl": "kubectl",
    "kubernetes.core.kubectl": "kubectl",
    "lxc": "lxc",
    "lxd": "lxc",
    "community.general.lxd": "lxc",
    "chroot": "chroot",
    "community.general.chroot": "chroot",
    "winrm": "winrm",
    "ansible.builtin.winrm": "winrm",
}
#: the ``ansible_become_method`` values our privilege strategies implement
BECOME_METHODS = ("su", "sudo")
#: Ansible keys that change how Ansible would connect and that we do not honour: a warning
UNHONOURED_KEYS = frozenset(
    {
        "ansible_ssh_executable",
        "ansible_timeout",
        "ansible_ssh_timeout",
        "ansible_host_key_checking",
        "ansible_ssh_host_key_checking",
        "ansible_shell_type",
        "ansible_shell_executable",
        "ansible_become_exe",
        "ansible_become_flags",
        "ansible_sudo",
        "ansible_sudo_user",
        "ansible_sudo_exe",
        "ansible_sudo_flags",
        "ansible_su",
        "ansible_su_user",
        "ansible_su_exe",
        "ansible_su_flags",
        "ansible_ssh_retries",
        "ansible_control_path",
        "ansible_control_path_dir",
        "ansible_network_os",
        "ansible_httpapi_port",
    }
)
#: prefixes of Ansible keys that are about connecting (unknown ones among them warn too)
CONNECTION_PREFIXES = ("ansible_ssh_", "ansible_become_", "ansible_paramiko_", "ansible_sftp_")
#: connection keys that change nothing we do (our transfers are SFTP/SCP, no pipelining)
HARMLESS_KEYS = frozenset(
    {
        "ansible_ssh_pipelining",
        "ansible_pipelining",
        "ansible_ssh_transfer_method",
        "ansible_scp_if_ssh",
        "ansible_sftp_batch_mode",
        "ansible_ssh_use_tty",
        "ansible_paramiko_look_for_keys",
        "ansible_paramiko_host_key_auto_add",
        "ansible_paramiko_record_host_keys",
    }
)
#: keys that we honour (mapped onto ``HostSpec`` fields or our ``vars``)
HONOURED_KEYS = frozenset(
    {
        "ansible_host",
        "ansible_ssh_host",
        "ansible_port",
        "ansible_ssh_port",
        "ansible_user",
        "ansible_ssh_user",
        "ansible_ssh_private_key_file",
        "ansible_private_key_file",
        "ansible_ssh_args",
        "ansible_ssh_common_args",
        "ansible_ssh_extra_args",
        "ansible_become",
        "ansible_become_user",
        "ansible_become_method",
        "ansible_connection",
    }
)
_TRUE = ("1", "true", "yes", "on", "y", "t")
_FALSE = ("0", "false", "no", "off", "n", "f", "")


@dataclass
class RawGroup:
    """A group as the source wrote it."""

    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, str] = field(default_factory=dict)
    #: line of each var (0 where unknown), and of the group itself
    var_lines: dict[str, int] = field(default_factory=dict)
    line: int = 0


@dataclass
class RawHost:
    """A host as the source wrote it: its inventory name, vars, and the line defining it."""

    vars: dict[str, str] = field(default_factory=dict)
    var_lines: dict[str, int] = field(default_factory=dict)
    line: int = 0


@dataclass
class RawInventory:
    source: str
    hosts: dict[str, RawHost] = field(default_factory=dict)
    groups: dict[str, RawGroup] = field(default_factory=dict)


def value_text(value: object) -> str:
    """A YAML/JSON value as the text ``HostSpec.vars`` holds (booleans as ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (int, float, str)):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def truthy(value: str) -> bool | None:
    """Ansible's boolean reading of a var's text; ``None`` when it is no boolean."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return None


# -- host names and ranges -------------------------------------------------------------------
_RANGE = re.compile(r"\[([0-9]+|[a-zA-Z]):([0-9]+|[a-zA-Z])(?::([0-9]+))?\]")
MAX_RANGE = 10_000


def expand_range(name: str) -> list[str]:
    """Ansible's host ranges: ``web[01:20].lan``, ``db-[a:c]``, ``h[0:10:2]`` (several ok).

    Raises ``ValueError`` for a range that goes backwards, mixes letters and digits or is huge.
    """
    match = _RANGE.search(name)
    if match is None:
        return [name]
    head, tail = name[: match.start()], name[match.end() :]
    lo, hi, step_text = match.groups()
    step = int(step_text) if step_text else 1
    if step < 1:
        raise ValueError(f"bad range step in {name!r}")
    if lo.isdigit() != hi.isdigit():
        raise ValueError(f"range [{lo}:{hi}] mixes letters and digits in {name!r}")
    if lo.isdigit():
        first, last = int(lo), int(hi)
        width = len(lo) if lo.startswith("0") and len(lo) > 1 else 0
        items = [str(i).zfill(width) for i in range(first, last + 1, step)]
    else:
        first, last = ord(lo), ord(hi)
        items = [chr(i) for i in range(first, last + 1, step)]
    if last < first:
        raise ValueError(f"range [{lo}:{hi}] goes backwards in {name!r}")
    if len(items) > MAX_RANGE:
        raise ValueError(f"range [{lo}:{hi}] in {name!r} is larger than {MAX_RANGE} hosts")
    result: list[str] = []
    for item in items:
        result.extend(expand_range(f"{head}{item}{tail}"))
        if len(result) > MAX_RANGE:
            raise ValueError(f"{name!r} expands to more than {MAX_RANGE} hosts")
    return result


def split_name_port(name: str) -> tuple[str, str | None]:
    """Ansible's ``host:port`` in a YAML host key: the name, and the port text if any.

    ``[::1]:2222`` is an IPv6 host with a port; ``web[01:03]`` is a range, not a port.
    """
    match = re.match(r"^(.+):([0-9]+)$", name)
    if match is None:
        return name, None
    host, port = match.groups()
    if host.startswith("[") and host.endswith("]") and ":" in host:
        return host[1:-1], port
    if ":" in host or host.count("[") != host.count("]"):
        return name, None
    return host, port


# -- YAML ------------------------------------------------------------------------------------
#: what a ``!vault`` value reads as (we cannot decrypt it; Ansible can)
VAULTED = "<vault-encrypted>"


class _Lines(dict[str, Any]):
    """A mapping that remembers the line of each key."""

    lines: dict[str, int]


def _yaml_load(text: str, source: str) -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> _Lines:
        loader.flatten_mapping(node)
        result = _Lines()
        result.lines = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, (str, int, float)) or isinstance(key, bool):
                raise InventoryError(f"a key must be a name, got {key!r}", source=source, line=line)
            result[str(key)] = loader.construct_object(value_node, deep=True)
            result.lines[str(key)] = line
        return result

    def vault(loader: yaml.SafeLoader, node: yaml.Node) -> str:
        # an Ansible Vault value: only Ansible can decrypt it (--force-ansible)
        return VAULTED

    def unsafe(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        return loader.construct_object(node, deep=True)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    Loader.add_constructor("!vault", vault)
    Loader.add_constructor("!unsafe", unsafe)
    try:
        return yaml.load(text, Loader=Loader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = exc.problem or exc.context or "invalid YAML"
        raise InventoryError(f"not valid YAML: {problem}", source=source, line=line) from None
    except yaml.YAMLError as exc:
        raise InventoryError(f"not valid YAML: {exc}", source=source) from None


def _line(mapping: object, key: str) -> int:
    return mapping.lines.get(key, 0) if isinstance(mapping, _Lines) else 0


def _vars(
    data: object, source: str, where: int, what: str
) -> tuple[dict[str, str], dict[str, int]]:
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise InventoryError(f"{what} must be a mapping of variables", source=source, line=where)
    values = {str(k): value_text(v) for k, v in data.items()}
    return values, {k: _line(data, k) or where for k in values}


def parse_yaml_inventory(text: str, source: str) -> RawInventory:
    """Ansible's YAML inventory: ``all:`` (or top groups) with ``hosts``/``children``/``vars``."""
    data = _yaml_load(text, source)
    raw = RawInventory(source)
    if data is None:
        return raw
    if not isinstance(data, dict):
        raise InventoryError("a YAML inventory is a mapping of groups (all: ...)", source=source)
    if "plugin" in data:
        raise InventoryError(
            f"an inventory plugin configuration (plugin: {data['plugin']}); "
            "it needs ansible-inventory (install ansible-core)",
            source=source,
            line=_line(data, "plugin"),
        )
    for name, body in data.items():
        _yaml_group(raw, name, body, _line(data, name), ())
    return raw


def _yaml_group(
    raw: RawInventory, name: str, body: object, line: int, path: tuple[str, ...]
) -> None:
    source = raw.source
    if name in path:
        raise InventoryError(f"group cycle: {' -> '.join((*path, name))}", source=source, line=line)
    group = raw.groups.setdefault(name, RawGroup(line=line))
    group.line = group.line or line
    if body is None:
        return
    if not isinstance(body, dict):
        raise InventoryError(
            f"group {name!r} must be a mapping with hosts, children or vars",
            source=source,
            line=line,
        )
    for key in body:
        if key not in ("hosts", "children", "vars"):
            raise InventoryError(
                f"group {name!r}: unknown section {key!r} (expected hosts, children or vars)",
                source=source,
                line=_line(body, key),
            )
    values, lines = _vars(body.get("vars"), source, _line(body, "vars"), f"{name}: vars")
    group.vars.update(values)
    group.var_lines.update(lines)
    hosts = body.get("hosts")
    if hosts is not None:
        if not isinstance(hosts, dict):
            raise InventoryError(
                f"{name}: hosts must be a mapping of host names (add ':' after each)",
                source=source,
                line=_line(body, "hosts"),
            )
        for host_name, host_vars in hosts.items():
            _yaml_host(raw, group, host_name, host_vars, _line(hosts, host_name))
    children = body.get("children")
    if children is not None:
        if not isinstance(children, dict):
            raise InventoryError(
                f"{name}: children must be a mapping of groups",
                source=source,
                line=_line(body, "children"),
            )
        for child, child_body in children.items():
            if child not in group.children:
                group.children.append(child)
            _yaml_group(raw, child, child_body, _line(children, child), (*path, name))


def _yaml_host(raw: RawInventory, group: RawGroup, name: str, body: object, line: int) -> None:
    values, lines = _vars(body, raw.source, line, f"host {name!r}")
    base, port = split_name_port(name)
    if port is not None:
        values.setdefault("ansible_port", port)
        lines.setdefault("ansible_port", line)
    try:
        names = expand_range(base)
    except ValueError as exc:
        raise InventoryError(str(exc), source=raw.source, line=line) from None
    for host_name in names:
        host = raw.hosts.setdefault(host_name, RawHost(line=line))
        host.vars.update(values)  # Ansible: the later definition of a var wins
        host.var_lines.update(lines)
        if host_name not in group.hosts:
            group.hosts.append(host_name)


# -- ansible-inventory --list JSON (and dynamic inventory scripts' output) -------------------
def _names(value: object, source: str, what: str) -> list[str]:
    """A JSON list of names (hosts, children); a mapping's keys are accepted too."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = list(value)
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise InventoryError(f"{what} must be a list of names", source=source)
    return [str(v) for v in value]


def parse_json_inventory(text: str, source: str) -> RawInventory:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InventoryError(f"not valid JSON: {exc.msg}", source=source, line=exc.lineno) from None
    if not isinstance(data, dict):
        raise InventoryError("an inventory in JSON is an object of groups", source=source)
    raw = RawInventory(source)
    meta = data.get("_meta") or {}
    if not isinstance(meta, dict):
        raise InventoryError("_meta must be an object", source=source)
    hostvars = meta.get("hostvars") or {}
    if not isinstance(hostvars, dict):
        raise InventoryError("_meta.hostvars must be an object", source=source)
    for name, body in data.items():
        if name == "_meta":
            continue
        group = raw.groups.setdefault(name, RawGroup())
        if isinstance(body, list):  # old script format: a group is a list of hosts
            body = {"hosts": body}
        if body is None:
            continue
        if not isinstance(body, dict):
            raise InventoryError(f"group {name!r} must be an object or a list", source=source)
        group.vars.update(_vars(body.get("vars"), source, 0, f"{name}: vars")[0])
        for child in _names(body.get("children"), source, f"{name}: children"):
            if child not in group.children:
                group.children.append(child)
        for host_name in _names(body.get("hosts"), source, f"{name}: hosts"):
            raw.hosts.setdefault(host_name, RawHost())
            if host_name not in group.hosts:
                group.hosts.append(host_name)
    for host_name, values in hostvars.items():
        host = raw.hosts.setdefault(str(host_name), RawHost())
        host.vars.update(_vars(values, source, 0, f"_meta.hostvars.{host_name}")[0])
    for child_group in [c for g in raw.groups.values() for c in g.children]:
        raw.groups.setdefault(child_group, RawGroup())
    return raw


# -- group_vars/ and host_vars/ --------------------------------------------------------------
@dataclass
class AdjacentVars:
    """Variables from ``group_vars/`` and ``host_vars/`` next to an inventory."""

    groups: dict[str, dict[str, str]] = field(default_factory=dict)
    hosts: dict[str, dict[str, str]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


_VARS_SUFFIXES = ("", ".yml", ".yaml", ".json")


def _vars_files(directory: Path, name: str) -> list[Path]:
    """Ansible's host_group_vars: ``NAME``, ``NAME.yml``/``.yaml``/``.json``, ``NAME/*``."""
    found: list[Path] = []
    for suffix in _VARS_SUFFIXES:
        path = directory / f"{name}{suffix}"
        if path.is_file():
            found.append(path)
        elif suffix == "" and path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix in _VARS_SUFFIXES and not p.name.startswith(".")
            )
    return found


def read_vars_file(path: Path) -> dict[str, str]:
    source = os.fspath(path)
    try:
        text = read_utf8(path)
    except NotUtf8 as exc:
        raise InventoryError(str(exc), source=source, line=exc.line) from None
    except OSError as exc:
        raise InventoryError(f"cannot read variables file ({exc})", source=source) from None
    if text.lstrip().startswith("$ANSIBLE_VAULT"):
        raise InventoryError(
            "an Ansible Vault file: read the inventory through ansible-inventory "
            "(--force-ansible) or keep secrets in environment variables",
            source=source,
        )
    data = _yaml_load(text, source)
    values, _ = _vars(data, source, 1, "a variables file")
    return values


def adjacent_vars(inventory: Path, groups: list[str], hosts: list[str]) -> AdjacentVars:
    """``group_vars/`` and ``host_vars/`` in the inventory's directory (as Ansible reads them)."""
    found = AdjacentVars()
    base = inventory.parent if not inventory.is_dir() else inventory
    for kind, names, target in (
        ("group_vars", groups, found.groups),
        ("host_vars", hosts, found.hosts),
    ):
        directory = base / kind
        if not directory.is_dir():
            continue
        for name in names:
            for path in _vars_files(directory, name):
                target.setdefault(name, {}).update(read_vars_file(path))
                found.files.append(os.fspath(path))
    return found


# -- any source, through ansible-inventory ---------------------------------------------------
def ansible_inventory_command() -> str | None:
    """``ansible-inventory`` on PATH, or next to this Python (a virtualenv not activated)."""
    return shutil.which("ansible-inventory") or shutil.which(
        "ansible-inventory", path=os.path.dirname(sys.executable)
    )


#: how the source reads in messages when Ansible's configured default inventory is used
DEFAULT_INVENTORY = "Ansible's default inventory"


def run_ansible_inventory(source: str, timeout: float = ANSIBLE_INVENTORY_TIMEOUT) -> RawInventory:
    """Read any inventory source Ansible can (scripts, plugins, directories) as Ansible does.

    ``source`` :data:`DEFAULT_INVENTORY`: no ``-i`` (ansible.cfg's ``inventory``,
    ``$ANSIBLE_INVENTORY``, ``/etc/ansible/hosts``), as testinfra's ``ansible://`` without
    ``--ansible-inventory``.
    """
    command = ansible_inventory_command()
    if command is None:
        raise InventoryError(
            "reading this inventory needs ansible-inventory: pip install ansible-core",
            source=source,
        )
    env = {
        **os.environ,
        "ANSIBLE_VERBOSITY": "0",  # testinfra does the same (ansible/ansible#59973)
        # an unparsable source is only a warning to Ansible, and an empty inventory: fail
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1",
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "1",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    try:
        done = subprocess.run(
            [command, *(() if source == DEFAULT_INVENTORY else ("-i", source)), "--list"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InventoryError(
            f"ansible-inventory did not finish within {timeout:g}s", source=source
        ) from None
    except OSError as exc:
        raise InventoryError(f"cannot run ansible-inventory ({exc})", source=source) from None
    if done.returncode != 0:
        raise InventoryError(
            f"ansible-inventory failed (exit {done.returncode}): {_stderr_tail(done.stderr)}",
            source=source,
        )
    raw = parse_json_inventory(done.stdout, f"{source} (ansible-inventory)")
    raw.source = source
    return raw


def _stderr_tail(stderr: str, limit: int = 1500) -> str:
    text = " ".join(line.strip() for line in stderr.splitlines() if line.strip())
    return text[-limit:] if text else "(no error output)"


# -- ansible.cfg and ANSIBLE_* defaults ------------------------------------------------------
#: host var -> (ansible.cfg section, key, environment variable): Ansible's connection defaults
CONFIG_DEFAULTS: Mapping[str, tuple[str, str, str]] = {
    "ansible_user": ("defaults", "remote_user", "ANSIBLE_REMOTE_USER"),
    "ansible_port": ("defaults", "remote_port", "ANSIBLE_REMOTE_PORT"),
    "ansible_private_key_file": ("defaults", "private_key_file", "ANSIBLE_PRIVATE_KEY_FILE"),
    "ansible_connection": ("defaults", "transport", "ANSIBLE_TRANSPORT"),
    "ansible_become": ("privilege_escalation", "become", "ANSIBLE_BECOME"),
    "ansible_become_user": ("privilege_escalation", "become_user", "ANSIBLE_BECOME_USER"),
    "ansible_become_method": ("privilege_escalation", "become_method", "ANSIBLE_BECOME_METHOD"),
    "ansible_ssh_args": ("ssh_connection", "ssh_args", "ANSIBLE_SSH_ARGS"),
    "ansible_ssh_common_args": ("ssh_connection", "ssh_common_args", "ANSIBLE_SSH_COMMON_ARGS"),
    "ansible_ssh_extra_args": ("ssh_connection", "ssh_extra_args", "ANSIBLE_SSH_EXTRA_ARGS"),
}


def ansible_config_file(env: Mapping[str, str], cwd: Path) -> Path | None:
    """The ansible.cfg Ansible would read: ``$ANSIBLE_CONFIG``, ``./ansible.cfg``,
    ``~/.ansible.cfg``, ``/etc/ansible/ansible.cfg`` (the first that exists)."""
    home = env.get("HOME") or os.path.expanduser("~")
    for candidate in (
        env.get("ANSIBLE_CONFIG", ""),
        os.fspath(cwd / "ansible.cfg"),
        os.path.join(home, ".ansible.cfg"),
        "/etc/ansible/ansible.cfg",
    ):
        if candidate and os.path.isfile(candidate):
            return Path(candidate)
    return None


def ansible_defaults(env: Mapping[str, str], cwd: Path) -> tuple[dict[str, str], str]:
    """Connection defaults from ansible.cfg and ``ANSIBLE_*`` variables (variables win), as
    host vars; and where they came from. They apply below every inventory variable."""
    values: dict[str, str] = {}
    where: list[str] = []
    path = ansible_config_file(env, cwd)
    if path is not None:
        config = configparser.ConfigParser(interpolation=None)
        try:
            config.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError) as exc:
            raise InventoryError(
                f"cannot read ansible.cfg ({exc})", source=os.fspath(path)
            ) from None
        for var, (section, key, _) in CONFIG_DEFAULTS.items():
            if config.has_option(section, key):
                values[var] = config.get(section, key).strip()
        if values:
            where.append(os.fspath(path))
    for var, (_, _, name) in CONFIG_DEFAULTS.items():
        if env.get(name, "").strip():
            values[var] = env[name].strip()
            where.append(f"${name}")
    return {k: v for k, v in values.items() if v}, ", ".join(dict.fromkeys(where))


# -- what the connection keys mean -----------------------------------------------------------
@dataclass
class Connection:
    """What Ansible's keys say about reaching one host, in our terms."""

    ssh_args: tuple[str, ...] = ()
    transport: str = "ssh"
    #: our vars set from Ansible's (``su_method``, ``become_user``)
    vars: dict[str, str] = field(default_factory=dict)


def split_ssh_args(key: str, value: str) -> tuple[str, ...]:
    """``ansible_ssh_common_args``/``_extra_args`` split as a shell would, and checked.

    Checked by the one policy of ``hosts/sshargs.py`` (what ssh refuses is an error here, at
    load, naming ``key``; what we cannot honour is kept and warned about per host when it
    connects). Returns every argument, normalised (``-p2222`` -> ``-p 2222``). Raises
    ``ValueError`` naming the bad token.
    """
    try:
        tokens = shlex.split(value)
    except ValueError as exc:
        raise ValueError(f"{key}: cannot split {value!r} ({exc})") from None
    try:
        parsed = sshargs.parse(tokens)
    except sshargs.SshArgError as exc:
        raise ValueError(f"{key}: {exc}") from None
    return tuple(token for arg in parsed for token in arg.tokens)


def connection_for(values: Mapping[str, str]) -> Connection:
    """Map a host's merged Ansible vars onto ssh arguments, transport and become settings.

    Raises ``ValueError`` for a value that cannot be honoured (bad ssh args, unknown
    ``ansible_become``); unhonoured keys are not errors (see :func:`unhonoured_keys`).
    """
    result = Connection()
    args: list[str] = []
    for key in ("ansible_ssh_args", "ansible_ssh_common_args", "ansible_ssh_extra_args"):
        if values.get(key, "").strip():
            args.extend(split_ssh_args(key, values[key]))
    result.ssh_args = tuple(args)
    connection = values.get("ansible_connection", "").strip()
    if connection:
        result.transport = CONNECTIONS.get(connection, "ssh")
    method = values.get("ansible_become_method", "").strip()
    if method in BECOME_METHODS:
        result.vars["su_method"] = method
    become_text = values.get("ansible_become", "")
    become = truthy(become_text) if become_text else False
    if become is None:
        raise ValueError(f"ansible_become={become_text!r} is not a boolean")
    if become and (not method or method in BECOME_METHODS):
        result.vars["become_user"] = values.get("ansible_become_user", "").strip() or "root"
        result.vars.setdefault("su_method", "sudo")  # Ansible's default become_method
    return result


def unhonoured_keys(values: Mapping[str, str]) -> list[str]:
    """The keys of a host's vars that would change how Ansible connects, and that we ignore."""
    found: list[str] = []
    for key in sorted(values):
        if key in HONOURED_KEYS or key in HARMLESS_KEYS:
            continue
        if key in UNHONOURED_KEYS or key.startswith(CONNECTION_PREFIXES):
            found.append(key)
    method = values.get("ansible_become_method", "").strip()
    if method and method not in BECOME_METHODS:
        found.append(f"ansible_become_method={method}")
    connection = values.get("ansible_connection", "").strip()
    if connection and connection not in CONNECTIONS:
        found.append(f"ansible_connection={connection}")
    return found


def host_warnings(name: str, values: Mapping[str, str]) -> list[str]:
    """One line per host naming the Ansible keys we do not honour for it (empty: none)."""
    keys = unhonoured_keys(values)
    if not keys:
        return []
    return [
        f"host {name}: Ansible key(s) not honoured (they would change how Ansible connects): "
        + ", ".join(keys)
    ]
