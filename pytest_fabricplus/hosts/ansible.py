"""The meaning of Ansible's connection keys in our terms: ``ansible_ssh_*_args`` (checked by
``hosts/sshargs.py``), ``ansible_connection`` (our SSH or a testinfra backend),
``ansible_become*`` (run as), ansible.cfg / ``ANSIBLE_*`` connection defaults, and the keys we
do not honour (one warning per host).

Where the rest of Ansible's inventory handling lives (all re-exported here, the module's
former contents):

* ``hosts/raw.py``: :class:`RawInventory` (the model every reader returns), host ranges;
* ``hosts/ansible_readers.py``: YAML and JSON readers, ``group_vars/`` and ``host_vars/``;
* ``hosts/ansible_runner.py``: ``ansible-inventory --list`` for any source.
"""

from __future__ import annotations

import configparser
import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InventoryError
from . import sshargs
from .ansible_readers import (
    VAULTED,
    AdjacentVars,
    adjacent_vars,
    parse_json_inventory,
    parse_yaml_inventory,
    read_vars_file,
)
from .ansible_runner import (
    ANSIBLE_INVENTORY_TIMEOUT,
    DEFAULT_INVENTORY,
    ansible_inventory_command,
    run_ansible_inventory,
)
from .raw import (
    MAX_RANGE,
    RawGroup,
    RawHost,
    RawInventory,
    expand_range,
    split_name_port,
    truthy,
    value_text,
)

__all__ = [
    "ANSIBLE_INVENTORY_TIMEOUT",
    "BECOME_METHODS",
    "CONFIG_DEFAULTS",
    "CONNECTIONS",
    "CONNECTION_PREFIXES",
    "DEFAULT_INVENTORY",
    "HARMLESS_KEYS",
    "HONOURED_KEYS",
    "MAX_RANGE",
    "UNHONOURED_KEYS",
    "VAULTED",
    "AdjacentVars",
    "Connection",
    "RawGroup",
    "RawHost",
    "RawInventory",
    "adjacent_vars",
    "ansible_config_file",
    "ansible_defaults",
    "ansible_inventory_command",
    "connection_for",
    "expand_range",
    "host_warnings",
    "parse_json_inventory",
    "parse_yaml_inventory",
    "read_vars_file",
    "run_ansible_inventory",
    "split_name_port",
    "split_ssh_args",
    "truthy",
    "unhonoured_keys",
    "value_text",
]

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
