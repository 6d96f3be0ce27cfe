"""The OpenSSH client configuration of one host, as ``ssh`` itself reads it.

:class:`SshConfigResolver` asks OpenSSH: ``ssh -G [-F FILE] [-o User=U] [-o Port=P]
[host ssh_args] [--ssh-extra-args] HOST`` prints the effective configuration, with
``Include``, ``Match host/user/exec/originalhost``, wildcards, tokens and first-match-wins all
applied by OpenSSH. Where no ``ssh`` client is installed, paramiko's parser is used instead
(it knows neither ``Include`` nor ``Match``), and :func:`fallback_note` says so once.

The order of the arguments is Ansible's (``ansible_user``/``ansible_port`` before
``ansible_ssh_common_args``/``ansible_ssh_extra_args``): the host's own user and port come
first, and OpenSSH keeps the first value it sees for an option -- except ``-p``, which it
always lets win, and ``-i``, which adds a key.

Upstream behaviour worked around here:

* paramiko's ``SSHConfig`` (what Fabric reads ``~/.ssh/config`` with) ignores ``Include`` and
  ``Match exec``/``Match user`` in practice: we resolve through ``ssh -G`` and hand Fabric an
  empty ``SSHConfig`` (see ``Connector``), so nothing is applied twice.
* ``ssh -G`` prints ``ProxyCommand`` with its tokens unexpanded (OpenSSH expands them only when
  it connects), and Fabric's own expansion (``Connection.open_gateway``) parses the command into
  a dummy config without the port, so ``%p`` becomes 22: :func:`expand_proxy_command`.
* ``ssh -G`` expands ``~`` with the passwd home directory, not ``$HOME`` (which paramiko,
  Fabric and the rest of this plugin use): when the two differ we name the config files with
  ``-F`` ourselves (:meth:`SshConfigResolver.config_args`).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..hosts import sshargs
from ..hosts.spec import DEFAULT_SSH_PORT
from ..hosts.sshargs import HARMLESS_OPTIONS, HONOURED_OPTIONS

#: how long one ``ssh -G`` may take (a ``Match exec`` runs a command of the user's)
SSH_G_TIMEOUT = 15.0

#: what ``ssh -G`` lists when no IdentityFile is configured (OpenSSH's defaults, which
#: paramiko looks for by itself): not an explicit choice
DEFAULT_IDENTITIES = frozenset(
    f"~/.ssh/{name}"
    for name in (
        "id_rsa",
        "id_ecdsa",
        "id_ecdsa_sk",
        "id_ed25519",
        "id_ed25519_sk",
        "id_xmss",
        "id_dsa",
    )
)


@dataclass(frozen=True)
class ResolvedConfig:
    """What the ssh client configuration says about one host (only what we honour)."""

    hostname: str
    port: int
    user: str | None
    #: keys named explicitly (config, ``-i``, ``-o IdentityFile=``) that exist; not the defaults
    identity_files: tuple[str, ...] = ()
    #: ``CertificateFile``s that exist (user certificates, paired with a key by its public key)
    certificate_files: tuple[str, ...] = ()
    proxy_jump: str | None = None
    proxy_command: str | None = None
    #: None: OpenSSH's default (``~/.ssh/known_hosts``, ``~/.ssh/known_hosts2``)
    user_known_hosts: tuple[str, ...] | None = None
    global_known_hosts: tuple[str, ...] = ()
    #: ``yes``, ``no``, ``accept-new``; None: not set (OpenSSH's ``ask``)
    strict_host_key_checking: str | None = None
    #: ``HostKeyAlias``: the name known_hosts and host certificates know the host by
    host_key_alias: str | None = None
    connect_timeout: float | None = None
    #: ``ServerAliveInterval`` / ``ServerAliveCountMax`` where the config or the arguments
    #: set them (0: keepalives off); None: not set, the connector's default applies
    server_alive_interval: int | None = None
    server_alive_count_max: int | None = None
    #: warnings about what this host's configuration asks for and we cannot honour
    warnings: tuple[str, ...] = ()
    #: ``ssh -G``, ``paramiko`` or ``none`` (no config file, no arguments: nothing to read)
    source: str = "ssh -G"

    def known_hosts_files(self) -> list[str]:
        user = self.user_known_hosts
        if user is None:
            user = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
        return [*user, *self.global_known_hosts]


@dataclass(frozen=True)
class HostQuery:
    """One lookup: the host as written, with what the inventory or command line fixed."""

    host: str
    port: int | None = None
    user: str | None = None
    args: tuple[str, ...] = ()
    #: who asked, for messages (``web1 (fptest@10.0.0.1)``)
    name: str = ""
    #: a ProxyJump hop: ``--ssh-extra-args`` are not applied (as ``ssh -J`` does not pass
    #: its command line's ``-o`` options on to the jump hosts)
    hop: bool = False


def ssh_binary() -> str | None:
    return shutil.which("ssh")


def fallback_note(ssh_path: str | None = None, config: str | None = None) -> str | None:
    """The one-time note when ``ssh`` is missing (None when it is there)."""
    if (ssh_path or ssh_binary()) is not None:
        return None
    where = config or "~/.ssh/config"
    return (
        f"ssh client config: no `ssh` client on PATH, so {where} is read with paramiko's "
        "parser, which does not understand Include and only part of Match (install "
        "openssh-client to have it read as ssh reads it)"
    )


def check_args(args: Sequence[str], name: str) -> tuple[list[str], list[str]]:
    """Sort ssh arguments into those for ``ssh -G`` and warnings about the rest.

    Returns ``(kept, warnings)`` by the one policy of ``hosts/sshargs.py``: a warning names
    ``name``, the argument and why; quiet ones are dropped. Raises ``ConfigError`` naming
    ``name`` for what ssh would refuse (a flag missing its value, a host name).
    """
    try:
        parsed = sshargs.parse(args)
    except sshargs.SshArgError as exc:
        raise ConfigError(f"{name}: ssh argument {exc}") from None
    return sshargs.honoured(parsed), sshargs.warnings(parsed, name)


def expand_proxy_command(command: str, host: str, port: int, user: str | None) -> str:
    """OpenSSH's ProxyCommand tokens: ``%h %p %r %n %%`` (``%n``: the host as given)."""
    out: list[str] = []
    i = 0
    values = {"h": host, "p": str(port), "r": user or "", "n": host, "%": "%"}
    while i < len(command):
        ch = command[i]
        if ch == "%" and i + 1 < len(command) and command[i + 1] in values:
            out.append(values[command[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def parse_ssh_g(text: str) -> dict[str, list[str]]:
    """``ssh -G`` output: ``key value`` lines; keys lower case, repeated keys collected."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            found.setdefault(key.lower(), []).append(value.strip())
    return found


def _number(value: str | None) -> float | None:
    if value is None or value.strip().lower() in ("none", "0", ""):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number > 0 else None


_STRICT = {
    "true": "yes",
    "yes": "yes",
    "false": "no",
    "no": "no",
    "off": "no",
    "accept-new": "accept-new",
}


@dataclass
class _ScanResult:
    files: list[str] = field(default_factory=list)
    keywords: set[str] = field(default_factory=set)


class SshConfigResolver:
    """Resolves hosts' ssh client configuration; one per run (per process), thread-safe.

    Results are cached by (host, port, user, arguments) and the config files' mtimes, so a
    host opened again (a reconnect, a jump hop shared by many hosts) costs no process.
    """

    def __init__(
        self,
        config: str | None = None,
        extra_args: Sequence[str] = (),
        ssh: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.extra_args = tuple(extra_args)
        self.ssh = ssh if ssh is not None else ssh_binary()
        #: the environment of ``ssh -G`` (None: this process's, as ``ssh`` would see it)
        self.env = None if env is None else dict(env)
        self._cache: dict[tuple[object, ...], ResolvedConfig] = {}
        self._lock = threading.Lock()
        self._scan: tuple[tuple[tuple[str, float], ...], _ScanResult] | None = None
        self._paramiko: tuple[tuple[tuple[str, float], ...], object] | None = None
        self.lookups = 0  # ssh -G processes run (for tests and the benchmark)
        self._defaults: dict[str, list[str]] | None = None

    # -- which files ssh would read ------------------------------------------------------
    def config_args(self) -> list[str]:
        """``-F FILE`` when we must name the file (``--ssh-config``, or $HOME is not the
        passwd home ``ssh`` would use); nothing when ``ssh`` finds the same files itself."""
        if self.config:
            return ["-F", os.path.expanduser(self.config)]
        home = os.path.expanduser("~")
        try:
            pw_home = pwd.getpwuid(os.getuid()).pw_dir
        except KeyError:
            pw_home = ""
        if os.path.realpath(home) == os.path.realpath(pw_home or "/nonexistent"):
            return []
        # $HOME was redirected (containers, CI, our own tests): ssh would still read the
        # passwd home's config. Name $HOME's (then ssh skips /etc/ssh/ssh_config, as with any
        # -F), else the system file, else none.
        for path in (os.path.join(home, ".ssh", "config"), "/etc/ssh/ssh_config"):
            if os.path.isfile(path):
                return ["-F", path]
        return ["-F", "none"]

    def _files(self) -> list[str]:
        named = self.config_args()
        if named:
            return [] if named[1] == "none" else [named[1]]
        return [
            p
            for p in (os.path.expanduser("~/.ssh/config"), "/etc/ssh/ssh_config")
            if os.path.isfile(p)
        ]

    def scan(self) -> _ScanResult:
        """The config files ssh would read (with their Includes) and the keywords in them.

        Cached by the files' mtimes. Used to skip ``ssh -G`` where no file says anything
        that could change a connection.
        """
        roots = self._files()
        stamp = tuple((p, _mtime(p)) for p in roots)
        cached = self._scan
        if cached is not None and cached[0] == stamp:
            return cached[1]
        result = _ScanResult()
        for root in roots:
            base = (
                "/etc/ssh"
                if os.path.realpath(root) == "/etc/ssh/ssh_config"
                else os.path.expanduser("~/.ssh")
            )
            _scan_file(root, base, result, depth=0)
        self._scan = (stamp, result)
        return result

    def trivial_files(self) -> bool:
        """True when no config file ssh reads (or only keywords that change nothing for us):
        without arguments, ``ssh -G`` could not tell us anything then."""
        keywords = self.scan().keywords
        return not (keywords - HARMLESS_OPTIONS - {"host"})

    # -- resolution ----------------------------------------------------------------------
    def resolve(self, query: HostQuery) -> ResolvedConfig:
        name = query.name or query.host
        kept_host, warn_host = check_args(query.args, name)
        kept_extra, warn_extra = ([], []) if query.hop else check_args(self.extra_args, name)
        args = (*kept_host, *kept_extra)
        files = tuple((p, _mtime(p)) for p in self._files())
        key = (query.host, query.port, query.user, args, self.config, files)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            if self.ssh is None:
                cached = self._resolve_paramiko(query, args, name)
            elif not args and self.trivial_files():
                cached = ResolvedConfig(
                    hostname=query.host,
                    port=query.port or DEFAULT_SSH_PORT,
                    user=query.user,
                    source="none",
                )
            else:
                cached = self._resolve_ssh(query, args, name)
            with self._lock:
                self._cache[key] = cached
        warnings = (*warn_host, *warn_extra, *cached.warnings)
        if warnings != cached.warnings:
            cached = _replace_warnings(cached, warnings)
        return cached

    def command(self, query: HostQuery, args: Sequence[str]) -> list[str]:
        cmd = [self.ssh or "ssh", "-G", *self.config_args()]
        if query.user:
            cmd += ["-o", f"User={query.user}"]
        if query.port:
            cmd += ["-o", f"Port={query.port}"]
        return [*cmd, *args, "--", query.host]

    def _ssh_g(self, cmd: list[str]) -> subprocess.CompletedProcess[str]:
        """Run one ``ssh -G`` (no stdin, bounded, in the resolver's environment)."""
        return subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=SSH_G_TIMEOUT,
            env=self.env,
        )

    def _resolve_ssh(self, query: HostQuery, args: Sequence[str], name: str) -> ResolvedConfig:
        cmd = self.command(query, args)
        self.lookups += 1
        try:
            done = self._ssh_g(cmd)
        except subprocess.TimeoutExpired:
            raise ConfigError(
                f"{name}: `ssh -G` did not finish within {SSH_G_TIMEOUT:g}s (a Match exec "
                "command in the ssh config that hangs?)"
            ) from None
        except OSError as exc:
            raise ConfigError(f"{name}: cannot run {cmd[0]}: {exc}") from None
        if done.returncode != 0:
            errors = [
                line
                for line in done.stderr.splitlines()
                if line.strip() and "Pseudo-terminal" not in line
            ]
            raise ConfigError(
                f"{name}: ssh refuses the client config: "
                + ("; ".join(errors[-3:]) or f"`ssh -G` exited with {done.returncode}")
            )
        options = parse_ssh_g(done.stdout)
        # ssh -G prints OpenSSH's defaults for what nobody set (ServerAliveInterval 0, i.e.
        # off; CountMax 3): only a value the files or the arguments set is the user's choice
        written = self.scan().keywords | set(_args_as_options(args))
        for key in ("serveraliveinterval", "serveralivecountmax"):
            if key not in written:
                options.pop(key, None)
        resolved = from_ssh_g(options, name)
        unhonoured = self.unhonoured(options, name)
        return _replace_warnings(resolved, unhonoured) if unhonoured else resolved

    def unhonoured(self, options: Mapping[str, list[str]], name: str) -> list[str]:
        """Options the config files set for this host that we cannot honour.

        Only keywords written in the files are considered, and only where the host's value
        differs from OpenSSH's default (``ssh -G -F none``, run once): a ``ControlMaster
        auto`` under ``Host *`` is named, a ``ControlMaster no`` is not.
        """
        written = self.scan().keywords - HONOURED_OPTIONS - HARMLESS_OPTIONS
        written -= {"host", "match", "include"}
        if not written:
            return []
        defaults = self._openssh_defaults()
        found: list[str] = []
        for key in sorted(written):
            value = options.get(key)
            if value is not None and value != defaults.get(key):
                found.append(
                    f"{name}: the ssh config sets {key} {' '.join(value)}, which is not "
                    "supported here and is ignored"
                )
        return found

    def _openssh_defaults(self) -> dict[str, list[str]]:
        if self._defaults is None:
            cmd = [self.ssh or "ssh", "-G", "-F", "none", "--", "defaults.invalid"]
            try:
                done = self._ssh_g(cmd)
                self._defaults = parse_ssh_g(done.stdout) if done.returncode == 0 else {}
            except (OSError, subprocess.TimeoutExpired):
                self._defaults = {}
        return self._defaults

    def _resolve_paramiko(self, query: HostQuery, args: Sequence[str], name: str) -> ResolvedConfig:
        import paramiko

        options: dict[str, object] = {}
        # as ssh: the -F file alone, else the user's file, then the system's
        if self.config:
            paths = [os.path.expanduser(self.config)]
        else:
            paths = [os.path.expanduser("~/.ssh/config"), "/etc/ssh/ssh_config"]
        paths = [p for p in paths if os.path.isfile(p)]
        if paths:
            stamp = tuple((p, _mtime(p)) for p in paths)
            cached = self._paramiko
            if cached is None or cached[0] != stamp:
                parsed = paramiko.SSHConfig()
                for path in paths:
                    try:
                        with open(path, encoding="utf-8") as handle:
                            parsed.parse(handle)
                    except Exception as exc:
                        raise ConfigError(f"{name}: cannot read ssh config {path}: {exc}") from None
                self._paramiko = cached = (stamp, parsed)
            config = cached[1]
            assert isinstance(config, paramiko.SSHConfig)
            options = dict(config.lookup(query.host))
        # the command line first, in ssh -G's order: OpenSSH keeps the first value of an
        # option (ssh lets -p win)
        fixed: list[str] = []
        if query.user:
            fixed += ["-o", f"User={query.user}"]
        if query.port:
            fixed += ["-o", f"Port={query.port}"]
        overrides = _args_as_options([*fixed, *args])
        merged: dict[str, list[str]] = {}
        for key, value in options.items():
            merged[key] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        for key, values in overrides.items():
            if key == "identityfile":
                merged[key] = [*values, *merged.get(key, [])]
            else:
                merged[key] = values
        if "proxycommand" in options and "proxycommand" not in overrides:
            # paramiko has expanded the tokens already (with its own view of the port)
            merged["proxycommand"] = [str(options["proxycommand"])]
        merged.setdefault("hostname", [query.host])
        merged.setdefault("port", [str(DEFAULT_SSH_PORT)])
        resolved = from_ssh_g(merged, name, expanded_proxy=True)
        return _replace_warnings(resolved, resolved.warnings, source="paramiko")


def _args_as_options(args: Sequence[str]) -> dict[str, list[str]]:
    """``-o K=V``, ``-J``, ``-i``, ``-p``, ``-l`` as config options (first value wins)."""
    found: dict[str, list[str]] = {}
    names = {"J": "proxyjump", "i": "identityfile", "p": "port", "l": "user"}
    pairs = list(zip(args[::2], args[1::2], strict=False))
    for flag, value in pairs:
        if flag == "-o":
            key, _, val = value.replace("=", " ", 1).partition(" ")
            key, val = key.lower(), val.strip()
        elif flag[1:] in names:
            key, val = names[flag[1:]], value
        else:
            continue
        if key == "identityfile":
            found.setdefault(key, []).append(os.path.expanduser(val))
        elif key == "port" and flag == "-p":
            found[key] = [val]  # ssh lets -p win
        else:
            found.setdefault(key, [val])
    return found


def from_ssh_g(
    options: Mapping[str, list[str]], name: str, expanded_proxy: bool = False
) -> ResolvedConfig:
    """A :class:`ResolvedConfig` from ``ssh -G``'s options (lower-case keys, value lists)."""

    def one(key: str) -> str | None:
        values = options.get(key)
        return values[0] if values else None

    hostname = one("hostname") or name
    port_text = one("port") or str(DEFAULT_SSH_PORT)
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(f"{name}: ssh config port {port_text!r} is not a number") from None
    user = one("user")
    identities = options.get("identityfile", [])
    explicit = [] if set(identities) <= DEFAULT_IDENTITIES else identities
    existing = tuple(
        os.path.expanduser(p) for p in explicit if os.path.isfile(os.path.expanduser(p))
    )
    jump = one("proxyjump")
    if jump is not None and jump.lower() == "none":
        jump = None
    proxy = one("proxycommand")
    if proxy is not None and proxy.lower() == "none":
        proxy = None
    if proxy is not None and not expanded_proxy:
        proxy = expand_proxy_command(proxy, hostname, port, user)
    strict_raw = one("stricthostkeychecking")
    strict = _STRICT.get(strict_raw.lower()) if strict_raw else None
    return ResolvedConfig(
        hostname=hostname,
        port=port,
        user=user,
        identity_files=existing,
        certificate_files=tuple(
            os.path.expanduser(p)
            for p in options.get("certificatefile", [])
            if os.path.isfile(os.path.expanduser(p))
        ),
        proxy_jump=jump,
        proxy_command=proxy,
        user_known_hosts=_known_hosts(one("userknownhostsfile"), user_file=True),
        global_known_hosts=tuple(_known_hosts(one("globalknownhostsfile")) or ()),
        strict_host_key_checking=strict,
        host_key_alias=one("hostkeyalias"),
        connect_timeout=_number(one("connecttimeout")),
        server_alive_interval=_whole(one("serveraliveinterval")),
        server_alive_count_max=_whole(one("serveralivecountmax")),
    )


def _whole(value: str | None) -> int | None:
    """A whole number of an option (None: not set, or not a number, which ssh refuses)."""
    if value is None:
        return None
    try:
        return max(0, int(float(value)))
    except ValueError:
        return None


def _known_hosts(value: str | None, user_file: bool = False) -> tuple[str, ...] | None:
    if not value or value.lower() == "none":
        return None if value is None else ()
    files = tuple(value.split())
    if user_file:
        # OpenSSH's default, expanded with the passwd home: our default (with $HOME)
        try:
            pw_home = pwd.getpwuid(os.getuid()).pw_dir
        except KeyError:
            pw_home = ""
        default = (f"{pw_home}/.ssh/known_hosts", f"{pw_home}/.ssh/known_hosts2")
        if files in (default, ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")):
            return None
    return files


def _replace_warnings(
    resolved: ResolvedConfig, warnings: Iterable[str], source: str | None = None
) -> ResolvedConfig:
    from dataclasses import replace

    return replace(resolved, warnings=tuple(warnings), source=source or resolved.source)


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return -1.0


def _scan_file(path: str, base: str, result: _ScanResult, depth: int) -> None:
    """Keywords of ``path`` and the files it Includes (bounded depth, as ssh's 16)."""
    if depth > 16 or path in result.files:
        return
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return
    result.files.append(path)
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.replace("=", " ", 1).partition(" ")
        keyword = keyword.lower()
        if keyword != "include":
            result.keywords.add(keyword)
            continue
        for pattern in rest.split():
            pattern = os.path.expanduser(pattern)
            if not os.path.isabs(pattern):
                pattern = os.path.join(base, pattern)
            for found in sorted(glob.glob(pattern)):
                _scan_file(found, base, result, depth + 1)
