"""Run-wide settings: one frozen object built from CLI > environment > ini > default.

The environment wins over the ini file as in pytest-django (``DJANGO_SETTINGS_MODULE``) and
as ``PYTEST_ADDOPTS`` wins over ``addopts``: the ini file is the project's checked-in
default, a variable is this shell's or this CI job's choice.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .hosts import sshargs
from .hosts.spec import SU_METHODS, USER_NAME, Address, parse_port
from .hosts.urls import SCHEMES as TESTINFRA_SCHEMES
from .text import ENV_NAME

HOST_KEY_POLICIES = ("reject", "warn", "accept")
#: the shipped container targets (``containers/<kind>/Dockerfile``), for ``--docker-targets``
DOCKER_TARGET_KINDS: tuple[str, ...] = ("ubuntu", "centos7")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


# -- validators: each takes the raw text and returns the value, or raises ValueError ----------
def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{text!r} must be a number of seconds greater than 0")
    return value


def optional_seconds(text: str) -> float | None:
    """Seconds, or ``0``/``none`` for no limit."""
    if text.strip().lower() in ("0", "none", "off"):
        return None
    return seconds(text)


def port(text: str) -> int:
    return parse_port(text.strip())


def env_name(text: str) -> str:
    if not ENV_NAME.match(text):
        raise ValueError(f"{text!r} is not an environment variable name (letters, digits, _)")
    return text


def one_of(choices: Sequence[str]) -> Callable[[str], str]:
    """A validator accepting exactly one of ``choices``."""

    def check(text: str) -> str:
        if text not in choices:
            raise ValueError(f"{text!r} is not one of {', '.join(choices)}")
        return text

    return check


#: how ``run()`` reaches the host: an ``exec`` channel per command, or one persistent shell
REMOTE_SHELLS = ("exec", "persistent")
#: how fleet mode runs a test's bodies at once (--fleet-bodies)
FLEET_BODIES = ("cooperative", "threads")


def boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean (true/false, 1/0, yes/no, on/off)")


def target_kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in DOCKER_TARGET_KINDS]
    if unknown or not kinds:
        raise ValueError(
            f"{text!r}: unknown target kind(s) {', '.join(unknown) or '(none given)'}; "
            f"available: {', '.join(DOCKER_TARGET_KINDS)}"
        )
    return tuple(dict.fromkeys(kinds))


def positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"{text!r} is not a whole number >= 1")
    return int(text)


def shard(text: str) -> tuple[int, int]:
    k, sep, n = text.partition("/")
    if not sep or not k.strip().isdigit() or not n.strip().isdigit():
        raise ValueError(f"{text!r} is not K/N (e.g. 2/5)")
    kk, nn = int(k), int(n)
    if not 1 <= kk <= nn:
        raise ValueError(f"{text!r}: K must be between 1 and N")
    return kk, nn


def address(text: str) -> str:
    Address.parse(text)
    return text


def existing_file(text: str) -> str:
    path = Path(text).expanduser()
    if not path.is_file():
        raise ValueError(f"file {text!r} does not exist")
    return str(path)


def ssh_args(text: str) -> tuple[str, ...]:
    """OpenSSH client arguments, split like a shell would (``shlex``)."""
    try:
        args = tuple(shlex.split(text))
    except ValueError as exc:
        raise ValueError(f"{text!r} cannot be split into arguments: {exc}") from None
    sshargs.parse(args)  # what ssh would refuse, refused now (hosts/sshargs.py)
    return args


def existing_path(text: str) -> str:
    """A file, directory or script that exists (an Ansible inventory source)."""
    path = Path(text).expanduser()
    if not path.exists():
        raise ValueError(f"inventory source {text!r} does not exist")
    return str(path)


def non_empty(text: str) -> str:
    if not text.strip():
        raise ValueError("empty value")
    return text.strip()


def testinfra_connection(text: str) -> str:
    value = text.strip().lower()
    if value not in TESTINFRA_SCHEMES:
        raise ValueError(f"{text!r} is not one of {', '.join(TESTINFRA_SCHEMES)}")
    return value


def percent(text: str) -> float:
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise ValueError(f"{text!r} is not a percentage (0-100)") from None
    if not math.isfinite(value) or not 0 <= value <= 100:
        raise ValueError(f"{text!r} is not a percentage between 0 and 100")
    return value


def user_name(text: str) -> str:
    if not USER_NAME.match(text.strip()):
        raise ValueError(f"{text!r} is not a user name")
    return text.strip()


#: pytest-testinfra's spellings: our aliases where its plugin is not loaded (the testinfra
#: drop-in, ``-p pytest_fabricplus.testinfra_dropin``, blocks it), else its own options
TESTINFRA_FLAGS = (
    "--hosts",
    "--connection",
    "--ssh-config",
    "--ssh-extra-args",
    "--ssh-identity-file",
    "--sudo",
    "--sudo-user",
    "--ansible-inventory",
    "--force-ansible",
    "--nagios",
)
#: the pytest ini types a setting's ini key can have (``parser.addini(type=...)``)
INI_TYPES = ("string", "bool", "paths", "args")


@dataclass(frozen=True)
class OptionSpec:
    """One setting: its CLI flags, ini key, environment variable and validator.

    ``flag`` is the canonical spelling, ``--fabricplus-<name>``: unique, always registered.
    ``alias`` is the short spelling (``--hosts``, ``--connect-timeout``; testinfra's where it
    has one): registered only where no other plugin registered the same flag (theirs wins).
    """

    name: str
    #: the short spelling, or ``None`` (the option has only its canonical ``flag``)
    alias: str | None
    help: str
    parse: Callable[[str], Any]
    default: Any = None
    metavar: str | None = None
    #: a flag without a value (``--skip-unreachable``); ini and environment take a boolean
    switch: bool = False
    #: how pytest reads the ini key: ``bool`` (switches), ``paths`` (one file or directory,
    #: resolved against the ini file's directory), ``args`` (split like a shell), ``string``
    ini_type: str = "string"

    def __post_init__(self) -> None:
        if self.alias == self.flag:
            object.__setattr__(self, "alias", None)
        if self.switch and self.ini_type == "string":
            object.__setattr__(self, "ini_type", "bool")
        if self.ini_type not in INI_TYPES:
            raise ValueError(f"{self.name}: ini_type {self.ini_type!r} not in {INI_TYPES}")

    @property
    def flag(self) -> str:
        """The canonical command-line spelling, ``--fabricplus-<name>``."""
        return "--fabricplus-" + self.name.replace("_", "-")

    @property
    def flags(self) -> tuple[str, ...]:
        """Every spelling: the canonical flag, then the alias (if any)."""
        return (self.flag,) if self.alias is None else (self.flag, self.alias)

    @property
    def dest(self) -> str:
        """The ``config.option`` attribute (``config.getoption(spec.dest)``)."""
        return f"fabricplus_{self.name}"

    @property
    def ini(self) -> str:
        return f"fabricplus_{self.name}"

    @property
    def env(self) -> str:
        return f"FABRICPLUS_{self.name.upper()}"


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "hosts",
        "--hosts",
        "inventory file, or comma list of [user@]host[:port], to run host tests against",
        non_empty,
        metavar="INVENTORY|HOSTS",
    ),
    OptionSpec(
        "hosts_limit",
        "--hosts-limit",
        "run only hosts matching these comma-separated glob patterns on id, alias, host, "
        "group or tag:NAME ('!pattern' excludes); Ansible's patterns too: all, web:&prod, "
        "web:!web2, web:db, ~regex",
        non_empty,
        metavar="PATTERN",
    ),
    OptionSpec(
        "ansible_inventory",
        "--ansible-inventory",
        "Ansible inventory source (INI, YAML, JSON, script, plugin config or directory): its "
        "hosts are the run's hosts; --hosts then selects names or patterns from it",
        existing_path,
        metavar="SRC",
        ini_type="paths",
    ),
    OptionSpec(
        "force_ansible",
        "--force-ansible",
        "always read inventories through ansible-inventory (Ansible's own reading: inventory "
        "plugins, ansible.cfg), even where our parser could",
        boolean,
        False,
        switch=True,
    ),
    OptionSpec(
        "ssh_user", "--ssh-user", "login user for hosts that name none", non_empty, metavar="USER"
    ),
    OptionSpec("ssh_port", "--ssh-port", "SSH port for hosts that name none", port, metavar="PORT"),
    OptionSpec(
        "ssh_identity_file",
        "--ssh-identity-file",
        "private key file to log in with",
        existing_file,
        metavar="FILE",
        ini_type="paths",
    ),
    OptionSpec(
        "ssh_config",
        "--ssh-config",
        "OpenSSH client config file, read as `ssh -F FILE` reads it (default: ~/.ssh/config "
        "and /etc/ssh/ssh_config; Include and Match through `ssh -G`)",
        existing_file,
        metavar="FILE",
        ini_type="paths",
    ),
    OptionSpec(
        "ssh_extra_args",
        "--ssh-extra-args",
        "extra OpenSSH client arguments for every host (e.g. '-o ProxyJump=bastion -J x'), "
        "split like a shell would",
        ssh_args,
        (),
        "ARGS",
        ini_type="args",
    ),
    OptionSpec(
        "ssh_password_env",
        "--ssh-password-env",
        "name of the environment variable holding the login password",
        env_name,
        metavar="NAME",
    ),
    OptionSpec(
        "jump_host",
        "--jump-host",
        "reach every host through this jump host, [user@]host[:port]",
        address,
        metavar="[USER@]HOST[:PORT]",
    ),
    OptionSpec(
        "connect_timeout",
        "--connect-timeout",
        "seconds to wait for a host to connect and authenticate (default 10)",
        seconds,
        10.0,
        "SECONDS",
    ),
    OptionSpec(
        "command_timeout",
        "--command-timeout",
        "seconds a remote command may run before it is interrupted (default 300; 0 = no limit)",
        optional_seconds,
        300.0,
        "SECONDS",
    ),
    OptionSpec(
        "known_hosts",
        "--known-hosts",
        "known_hosts file to verify host keys with (in addition to ~/.ssh/known_hosts)",
        existing_file,
        metavar="FILE",
        ini_type="paths",
    ),
    OptionSpec(
        "host_key_policy",
        "--host-key-policy",
        "what to do with a host key not in known_hosts: reject (default), warn, accept",
        one_of(HOST_KEY_POLICIES),
        "reject",
        "reject|warn|accept",
    ),
    OptionSpec(
        "su_method",
        "--su-method",
        "how su_user switches user: auto (probe su, fall back to sudo; default), su, sudo",
        one_of(SU_METHODS),
        "auto",
        "auto|su|sudo",
    ),
    OptionSpec(
        "su_password_env",
        "--su-password-env",
        "environment variable holding the password of the su_user target user (for su)",
        env_name,
        metavar="NAME",
    ),
    OptionSpec(
        "sudo_password_env",
        "--sudo-password-env",
        "environment variable holding the login user's sudo password (default: the login "
        "password, if any)",
        env_name,
        metavar="NAME",
    ),
    OptionSpec(
        "docker_targets",
        "--docker-targets",
        "start these shipped container targets (comma list: ubuntu, centos7) and add them to "
        "the hosts, removed at the end",
        target_kinds,
        metavar="KINDS",
    ),
    OptionSpec(
        "docker_targets_keep",
        "--docker-targets-keep",
        "keep the --docker-targets containers running after the session (for debugging) "
        "and print how to connect",
        boolean,
        False,
        switch=True,
    ),
    OptionSpec(
        "max_connections",
        "--max-connections",
        "hosts driven at once by host_pool's threads, --fleet-bodies=threads and the calls "
        "a cooperative --fleet body hands to a thread (default 32); when given, it also "
        "bounds host_pool.run and cooperative --fleet bodies (default: every host's at "
        "once, from one thread) and pre-flight (unless --preflight-connections is given)",
        positive_int,
        32,
        "N",
    ),
    OptionSpec(
        "preflight_connections",
        "--preflight-connections",
        "hosts pre-flight opens at once (default 128, or an explicit --max-connections): "
        "handshakes wait for round trips, so more at once than host_pool's threads",
        positive_int,
        128,
        "N",
    ),
    OptionSpec(
        "remote_shell",
        "--remote-shell",
        "how connection.run() reaches a host: exec (an SSH exec channel per command, as ssh "
        "and testinfra; default) or persistent (one POSIX shell per connection, each command "
        "in its own subshell of the login shell; fewer packets and no session fork per "
        "command; falls back to exec where the login shell is not bash, sh, dash or ash, or "
        "no POSIX shell answers)",
        one_of(REMOTE_SHELLS),
        "exec",
        "exec|persistent",
    ),
    OptionSpec(
        "hosts_shard",
        "--hosts-shard",
        "run only share K of N of the selected hosts (deterministic, balanced), to split a "
        "fleet across CI jobs or machines",
        shard,
        metavar="K/N",
    ),
    OptionSpec(
        "report",
        "--fabricplus-report",
        "write a JSON document per host (outcome, duration, message of each test) to FILE",
        non_empty,
        metavar="FILE",
        ini_type="paths",
    ),
    OptionSpec(
        "skip_unreachable",
        "--skip-unreachable",
        "report the tests of hosts that cannot be reached as skipped, not as errors",
        boolean,
        False,
        switch=True,
    ),
    OptionSpec(
        "fleet",
        "--fleet",
        "fleet mode: a test's items on its hosts (test_x[web1], test_x[web2], ...) run at "
        "once (see --fleet-bodies), each host keeping its own result, output and report",
        boolean,
        False,
        switch=True,
    ),
    OptionSpec(
        "fleet_bodies",
        "--fleet-bodies",
        "how --fleet runs a test's bodies at once: cooperative (one thread; a body waiting "
        "for a command lets the others run; default) or threads (a thread per body, up to "
        "--max-connections: for bodies that block outside the connection, e.g. time.sleep)",
        one_of(FLEET_BODIES),
        "cooperative",
        "cooperative|threads",
    ),
    # -- testinfra's options, with its meanings ---------------------------------------
    OptionSpec(
        "connection",
        "--connection",
        "testinfra's backend for hosts written without a scheme: ssh, paramiko, safe-ssh "
        "(all: our SSH connection), ansible (as the inventory says), or local, docker, "
        "podman, kubectl, ... (run by testinfra's own backend)",
        testinfra_connection,
        metavar="BACKEND",
    ),
    OptionSpec(
        "sudo",
        "--sudo",
        "run every command of the host fixture through sudo (testinfra's --sudo)",
        boolean,
        False,
        switch=True,
    ),
    OptionSpec(
        "sudo_user",
        "--sudo-user",
        "with --sudo: the user sudo runs the host fixture's commands as (default root)",
        user_name,
        metavar="USER",
    ),
    OptionSpec(
        "nagios",
        "--nagios",
        "Nagios plugin output: print testinfra's 'TESTINFRA OK|CRITICAL - ...' line first, "
        "exit 0 (OK) or 2 (CRITICAL); 3 (UNKNOWN) when the run cannot start",
        boolean,
        False,
        switch=True,
    ),
    # -- compliance (controls, waivers, scores, reports) ------------------------------
    OptionSpec(
        "waivers",
        "--waivers",
        "YAML file of waivers (control: or test:, hosts:, justification:, expires:, run:)",
        existing_file,
        metavar="FILE",
        ini_type="paths",
    ),
    OptionSpec(
        "compliance_fail_under",
        "--compliance-fail-under",
        "exit 0 only when every selected host was scored, its compliance score (Heimdall's "
        "and saf's: passed / (passed + failed + not reviewed + errors), rounded as saf "
        "threshold rounds) is at least PERCENT and nothing errored, else 1",
        percent,
        metavar="PERCENT",
    ),
    OptionSpec(
        "compliance_json",
        "--compliance-json",
        "write the compliance document (controls, per-host status, scores, waivers) to FILE",
        non_empty,
        metavar="FILE",
        ini_type="paths",
    ),
    OptionSpec(
        "compliance_baseline",
        "--compliance-baseline",
        "a previous --compliance-json: list new failures and fixed controls since then",
        existing_file,
        metavar="FILE",
        ini_type="paths",
    ),
    OptionSpec(
        "inspec_json",
        "--inspec-json",
        "write one InSpec exec-JSON document per host into DIR",
        non_empty,
        metavar="DIR",
        ini_type="paths",
    ),
    OptionSpec(
        "compliance_report",
        "--compliance-report",
        "write the self-contained HTML compliance report (host x control matrix) to FILE",
        non_empty,
        metavar="FILE.html",
        ini_type="paths",
    ),
)


@dataclass(frozen=True)
class Settings:
    """Everything the core needs to know about a run. Holds no secret values."""

    hosts: str | None = None
    hosts_limit: str | None = None
    ansible_inventory: str | None = None
    force_ansible: bool = False
    ssh_user: str | None = None
    ssh_port: int | None = None
    ssh_identity_file: str | None = None
    ssh_config: str | None = None
    ssh_extra_args: tuple[str, ...] = ()
    #: names of the options the user set (command line, ini or environment), not an option:
    #: the ssh client config yields to these (``--host-key-policy``, ``--connect-timeout``)
    explicit: frozenset[str] = frozenset()
    ssh_password_env: str | None = None
    jump_host: str | None = None
    connect_timeout: float = 10.0
    command_timeout: float | None = 300.0
    known_hosts: str | None = None
    host_key_policy: str = "reject"
    su_method: str = "auto"
    su_password_env: str | None = None
    sudo_password_env: str | None = None
    docker_targets: tuple[str, ...] | None = None
    max_connections: int = 32
    preflight_connections: int = 128
    remote_shell: str = "exec"
    hosts_shard: tuple[int, int] | None = None
    report: str | None = None
    skip_unreachable: bool = False
    fleet: bool = False
    fleet_bodies: str = "cooperative"
    docker_targets_keep: bool = False
    connection: str | None = None
    sudo: bool = False
    sudo_user: str | None = None
    nagios: bool = False
    waivers: str | None = None
    compliance_fail_under: float | None = None
    compliance_json: str | None = None
    compliance_baseline: str | None = None
    inspec_json: str | None = None
    compliance_report: str | None = None
    #: known_hosts files the run wrote itself (verified container keys), not an option
    extra_known_hosts: tuple[str, ...] = ()

    @property
    def preflight_limit(self) -> int:
        """Hosts pre-flight opens at once: ``--preflight-connections``; without it, an
        explicit ``--max-connections`` (which bounded pre-flight before the option existed);
        else the default (128)."""
        if "preflight_connections" in self.explicit or "max_connections" not in self.explicit:
            return self.preflight_connections
        return self.max_connections

    def pool_in_flight(self, hosts: int) -> int:
        """Commands ``host_pool.run`` keeps in flight at once: every host's (they go out
        from one thread, no thread each: 300 hosts x 10 checks at 40 ms RTT took 12.5 s
        instead of 14.2 s with 32 at once); an explicit ``--max-connections`` bounds them."""
        if "max_connections" in self.explicit:
            return self.max_connections
        return max(1, hosts)

    @classmethod
    def resolve(
        cls,
        cli: Mapping[str, Any],
        ini: Mapping[str, str],
        env: Mapping[str, str],
    ) -> Settings:
        """Combine the layers: CLI (already parsed) > environment > ini > default.

        ``ini`` and ``env`` hold raw text; they are validated here and a bad value raises
        :class:`ConfigError` naming where it came from.
        """
        values: dict[str, Any] = {}
        explicit: set[str] = set()
        for spec in OPTIONS:
            if cli.get(spec.name) is not None:
                values[spec.name] = cli[spec.name]
                explicit.add(spec.name)
                continue
            for label, raw in (
                (f"environment variable {spec.env}", env.get(spec.env)),
                (f"ini option {spec.ini}", ini.get(spec.ini)),
            ):
                if raw is None or not str(raw).strip():
                    continue
                try:
                    values[spec.name] = spec.parse(str(raw).strip())
                except ValueError as exc:
                    raise ConfigError(f"{label}: {exc}") from None
                explicit.add(spec.name)
                break
            else:
                values[spec.name] = spec.default
        return cls(**values, explicit=frozenset(explicit))


#: the settings naming what the run writes at its end (``inspec_json`` is a directory)
OUTPUT_OPTIONS = ("report", "compliance_json", "inspec_json", "compliance_report")


def check_output_paths(settings: Settings) -> None:
    """Fail at session start, not after the whole run, when a report cannot be written.

    Missing parent directories are created (the writers would create them); a
    :class:`ConfigError` names the option, the path and the fix.
    """
    flags = {spec.name: spec.flag for spec in OPTIONS}
    for name in OUTPUT_OPTIONS:
        value = getattr(settings, name)
        if value:
            _check_writable(flags[name], str(value), directory=name == "inspec_json")


def _check_writable(flag: str, value: str, directory: bool) -> None:
    import tempfile

    path = Path(value).expanduser()
    fix = "give a path in a writable directory"
    if not directory and path.is_dir():
        raise ConfigError(f"{flag} {value}: is a directory, not a file: give a file name")
    if directory and path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {value}: exists and is not a directory: {fix}")
    folder = path if directory else path.parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{flag} {value}: {existing} is not a directory: {fix}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"{flag} {value}: cannot create the directory {folder} ({exc.strerror}): {fix}"
        ) from None
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".fabricplus-check-"):
            pass
        if not directory and path.exists():
            with path.open("a"):
                pass
    except OSError as exc:
        raise ConfigError(
            f"{flag} {value}: cannot write a file in {folder} ({exc.strerror}): {fix}"
        ) from None
