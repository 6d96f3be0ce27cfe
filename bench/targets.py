"""Real sshd targets on 127.0.0.1 for the fleet benchmarks (shared by bench/*.py).

Wraps testing/sshd.py: one ``sshd -D`` per :class:`SshdServer`, each listening on up to
16 ports (OpenSSH's MAX_LISTEN_SOCKS), all logging at VERBOSE so that
``Connection from ... on 127.0.0.1 port P`` lines count TCP connections per target port.

The login user is the real system account ``fptest`` with a key generated for this run. An
existing account's password is left alone (the project's test suite may be using it).
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from testing.sshd import (
    LOGIN_USER,
    SshdServer,
    User,
    can_create_users,
    ensure_user,
    run,
    wait_for_banner,
)

ROOT = Path(__file__).resolve().parents[1]

__all__ = [
    "LOGIN_USER",
    "MAX_PORTS_PER_SSHD",
    "Targets",
    "as_text",
    "bench_user",
    "children_cpu",
    "clean_env",
    "distinct_free_ports",
    "free_refusing_ports",
    "python",
    "settle",
    "source_state",
    "stop_on_sigterm",
    "write_pytest_ini",
]

MAX_PORTS_PER_SSHD = 16  # sshd.c MAX_LISTEN_SOCKS
_CONN_RE = re.compile(r"Connection from \S+ port \d+ on (\S+) port (\d+)")
Endpoint = tuple[str, int]


def stop_on_sigterm() -> None:
    """Turn SIGTERM (``kill``, ``timeout``) into SystemExit so cleanup blocks stop every sshd
    and proxy this script started, as they do on Ctrl-C."""

    def _exit(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def bench_user(keydir: Path) -> User:
    """``fptest`` with a fresh key; created (with a random password) only if missing."""
    if not can_create_users():
        raise SystemExit("the benchmarks start real sshd processes: run them as root")
    exists = subprocess.run(["id", "-u", LOGIN_USER], capture_output=True).returncode == 0
    if not exists:
        return ensure_user(LOGIN_USER, keydir)
    keydir.mkdir(parents=True, exist_ok=True)
    key = keydir / f"id_{LOGIN_USER}"
    if not key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", str(key)])
    home = Path(run(["getent", "passwd", LOGIN_USER]).stdout.split(":")[5])
    return User(name=LOGIN_USER, password="", key_path=key, home=home)


@dataclass
class Targets:
    """``count`` sshd endpoints on 127.0.0.1, ``ports_per_sshd`` ports per sshd process."""

    work: Path
    count: int
    ports_per_sshd: int = 1
    user: User | None = None
    servers: list[SshdServer] = field(default_factory=list)
    endpoints: list[Endpoint] = field(default_factory=list)
    _server_of: dict[int, SshdServer] = field(default_factory=dict)

    def start(self, timeout: float = 60.0) -> Targets:
        self.work.mkdir(parents=True, exist_ok=True)
        self.user = bench_user(self.work / "keys")
        per = max(1, min(self.ports_per_sshd, MAX_PORTS_PER_SSHD))
        deadline = time.monotonic() + timeout
        try:
            for index in range((self.count + per - 1) // per):
                n = min(per, self.count - index * per)
                self._start_one(index, n, deadline)
        except BaseException:
            self.cleanup()
            raise
        return self

    def _start_one(self, index: int, nports: int, deadline: float) -> None:
        assert self.user is not None
        for _attempt in range(5):
            if time.monotonic() > deadline:
                raise RuntimeError("starting sshd targets took too long")
            main, *extra = distinct_free_ports(nports)
            server = SshdServer(
                self.work / f"sshd{index:03d}",
                [self.user],
                port=main,
                extra_config="".join(f"Port {p}\n" for p in extra),
            )
            server.start()
            ports = [server.port, *extra]
            if len(set(ports)) != len(ports) or set(ports) & set(self._server_of):
                server.cleanup()  # start() had to pick a new main port: one of ours again
                continue
            try:
                for port in extra:
                    wait_for_banner(server.host, port, timeout=5)
            except Exception:
                server.cleanup()
                continue  # an extra port was taken meanwhile: new ports
            self.servers.append(server)
            for port in ports:
                self.endpoints.append((server.host, port))
                self._server_of[port] = server
            return
        raise RuntimeError(f"could not start sshd #{index}")

    def known_hosts(self, path: Path, mapping: dict[Endpoint, Endpoint] | None = None) -> Path:
        """known_hosts with one line per endpoint (or per proxy endpoint in ``mapping``)."""
        lines = []
        for host, port in self.endpoints:
            key = self._server_of[port].host_key.with_suffix(".pub").read_text().split()
            shown = (mapping or {}).get((host, port), (host, port))
            lines.append(f"[{shown[0]}]:{shown[1]} {key[0]} {key[1]}\n")
        path.write_text("".join(lines))
        return path

    def connection_counts(self) -> Counter[int]:
        """TCP connections accepted so far per target port (from the sshd logs)."""
        counts: Counter[int] = Counter()
        for server in self.servers:
            with contextlib.suppress(FileNotFoundError):
                for match in _CONN_RE.finditer(server.log_path.read_text(errors="replace")):
                    counts[int(match.group(2))] += 1
        return counts

    def server_cpu(self) -> float:
        """CPU seconds of the sshd processes so far, their reaped children included.

        A connection's processes (privsep child, session shell, the command) are reaped by
        the listener when the connection closes, so this counts closed connections.
        """
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for server in self.servers:
            if server.proc is None:
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{server.proc.pid}/stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()
                total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        return total / tick

    def live_sessions(self) -> int:
        """Child processes of the sshd listeners: one per connection not yet closed and reaped
        (its CPU is not in :meth:`server_cpu` until then)."""
        total = 0
        for server in self.servers:
            if server.proc is None:
                continue
            pid = server.proc.pid
            with contextlib.suppress(OSError):
                total += len(Path(f"/proc/{pid}/task/{pid}/children").read_text().split())
        return total

    def cleanup(self) -> None:
        for server in self.servers:
            server.cleanup()
        self.servers.clear()


def settle(seconds: float = 0.3) -> None:
    """Let sshd children write their log lines before counting (bounded)."""
    time.sleep(seconds)


def as_text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for pytest subprocesses: no agent, no FABRICPLUS_* leaking in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k != "SSH_AUTH_SOCK" and not k.startswith(("FABRICPLUS_", "PYTEST_"))
    }
    # Bytecode and pytest's assertion-rewrite caches as on a user's machine: an installed
    # package has them after its first run. With PYTHONDONTWRITEBYTECODE (set on this CI-like
    # machine) every pytest process would recompile and re-rewrite each plugin module it
    # imports. Benches run each variant once, untimed, to write them.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra or {})
    return env


def python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def write_pytest_ini(directory: Path) -> Path:
    """An ini of our own, so the project's (filterwarnings = error, addopts) does not apply."""
    ini = directory / "pytest.ini"
    ini.write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    return ini


def distinct_free_ports(n: int) -> list[int]:
    """``n`` different free ports: all bound at once, then released together. Picking them
    one by one (bind, close, bind...) can hand out the same port twice: the kernel reuses a
    port released a moment ago, and sshd then listens on fewer ports than it was given."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def free_refusing_ports(n: int) -> tuple[list[int], list[socket.socket]]:
    """Ports that refuse connections: bound (so nobody else takes them) but not listening."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    return ports, socks


def source_state() -> str:
    """Which pytest_fabricplus was measured: commit, and a digest of uncommitted changes."""
    import hashlib

    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
        return proc.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "?"
    diff = git("diff", "HEAD", "--", "pytest_fabricplus")
    if not diff:
        return f"pytest_fabricplus at {head} (clean)"
    digest = hashlib.sha256(diff.encode()).hexdigest()[:10]
    files = git("diff", "HEAD", "--stat", "--", "pytest_fabricplus").splitlines()[-1:]
    return f"pytest_fabricplus at {head} + uncommitted changes {digest} ({files[0].strip()})"
