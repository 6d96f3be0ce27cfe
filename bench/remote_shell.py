"""A persistent remote shell (ssh/shell.py's RemoteShell) vs an exec channel per command.

Starts its own sshd on 127.0.0.1 (testing/sshd.py; needs root). For ``true`` and
``cat /etc/hostname``, per command:

* wall time (median, p90) and client CPU (``time.process_time``, all threads),
* TARGET CPU: utime+stime+cutime+cstime of the connection's processes on the target (the
  sshd listener's descendants: [priv], user@notty, the persistent shell), read just before
  the connection closes (see :func:`descendants_cpu` for why not after). Each variant runs
  on two connections, one with ``--warmup`` commands and one with ``--warmup`` + ``--n``;
  the difference / n is the per-command cost (connecting, authenticating, starting the
  shell cancel out),

for: raw paramiko ``exec_command`` (TCP_NODELAY), our ``FabricPlusConnection.run``
(``Connector.open``, the direct path with a spare channel), ``RemoteShell.run`` with ``sh``
(dash here: ``setsid sh -c`` per command) and with the default ``auto`` (the login shell is
bash here: bash with ``set -m``, a fork per command).
Then, through bench/delay_proxy.py at ``--rtt-ms`` (40), wall time / RTT = SSH round trips.

Usage: .venv/bin/python bench/remote_shell.py [--n 300] [--rtt-n 20]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko

if not __package__:  # run as ``python bench/NAME.py``: the repo root's bench, testing packages
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.delay_proxy import ProxyProcess
from pytest_fabricplus import Connector, HostSpec, Settings
from pytest_fabricplus.ssh.shell import RemoteShell
from testing.sshd import LOGIN_USER, SshdServer, User, ensure_user

COMMANDS = ("true", "cat /etc/hostname")
VARIANTS = ("raw paramiko exec", "FabricPlusConnection.run", "RemoteShell sh", "RemoteShell auto")


def own_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and of its children it has reaped (utime stime cutime cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def descendants_cpu(pid: int) -> float:
    """CPU seconds of ``pid``'s live descendants, each with what it has reaped.

    Read while the connection is open: its sshd processes ([priv], user@notty) and the
    persistent shell have reaped every finished command by then. After the connection
    closes, the listener's cutime is NOT reliable: at teardown the user@notty process is
    sometimes reparented instead of reaped by [priv], and its whole cutime is lost (seen
    here: the same 200 commands counted 0.66 s or 0.03 s at random).
    """
    total = 0.0
    todo = children(pid)
    while todo:
        child = todo.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += own_cpu(child)
            todo.extend(children(child))
    return total


def settle(pid: int, timeout: float = 10.0) -> None:
    """Until the listener has no connection children left (bounded wait)."""
    deadline = time.monotonic() + timeout
    while children(pid) and time.monotonic() < deadline:
        time.sleep(0.02)


@dataclass
class Endpoint:
    host: str
    port: int
    known_hosts: Path
    user: User


@contextlib.contextmanager
def runner(variant: str, ep: Endpoint) -> Iterator[Callable[[str], bytes]]:
    """A connection for ``variant`` and a function running one command on it."""
    if variant == "FabricPlusConnection.run":
        settings = Settings(
            known_hosts=str(ep.known_hosts), ssh_identity_file=str(ep.user.key_path)
        )
        conn = Connector(settings).open(
            HostSpec(host=ep.host, port=ep.port, user=LOGIN_USER, id="bench")
        )
        try:
            yield lambda cmd: conn.run(cmd, hide=True).stdout.encode()
        finally:
            conn.close()
        return
    sock = socket.create_connection((ep.host, ep.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client = paramiko.SSHClient()
    client.load_host_keys(str(ep.known_hosts))
    client.connect(
        ep.host,
        ep.port,
        LOGIN_USER,
        key_filename=str(ep.user.key_path),
        sock=sock,
        allow_agent=False,
        look_for_keys=False,
    )
    transport = client.get_transport()
    assert transport is not None
    try:
        if variant == "raw paramiko exec":

            def raw(cmd: str) -> bytes:
                _, out, _ = client.exec_command(cmd)
                data: bytes = out.read()
                out.channel.recv_exit_status()
                return data

            yield raw
        else:
            shell = RemoteShell(transport, "bench", shell=variant.split()[-1])
            try:
                yield lambda cmd: shell.run(cmd, timeout=30).stdout
            finally:
                shell.close()
    finally:
        client.close()


@dataclass
class Row:
    variant: str
    command: str
    wall: list[float]
    client_cpu: float  # s per command
    target_cpu: float  # s per command


def measure(variant: str, command: str, ep: Endpoint, pid: int, n: int, warmup: int) -> Row:
    costs = []
    wall: list[float] = []
    client = 0.0
    for count in (warmup, warmup + n):
        settle(pid)
        with runner(variant, ep) as run:
            expected = run(command)
            for _ in range(warmup - 1):
                run(command)
            if count > warmup:
                cpu0 = time.process_time()
                for _ in range(n):
                    start = time.perf_counter()
                    got = run(command)
                    wall.append(time.perf_counter() - start)
                    assert got == expected, (variant, got, expected)
                client = (time.process_time() - cpu0) / n
            costs.append(descendants_cpu(pid))  # before closing (see descendants_cpu)
    return Row(variant, command, wall, client, (costs[1] - costs[0]) / n)


def ratio(a: float, b: float) -> str:
    return f"{a / b:>7.2f}x" if b > 0 else f"{'-':>8}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rtt-ms", type=float, default=40.0)
    parser.add_argument("--rtt-n", type=int, default=20)
    args = parser.parse_args()
    n = max(1, min(args.n, 5000))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        user = ensure_user(LOGIN_USER, work / "keys")
        server = SshdServer(work / "sshd", [user]).start()
        try:
            assert server.proc is not None
            pid = server.proc.pid
            known = work / "known_hosts"
            known.write_text(server.known_hosts_line + "\n")
            ep = Endpoint(server.host, server.port, known, user)
            rows = [measure(v, c, ep, pid, n, args.warmup) for c in COMMANDS for v in VARIANTS]
            rtt_rows: list[Row] = []
            if args.rtt_n > 0:
                with ProxyProcess([(server.host, server.port)], args.rtt_ms / 2) as proxy:
                    port = proxy.ports[(server.host, server.port)]
                    key = server.known_hosts_line.split(" ", 1)[1]
                    pknown = work / "known_hosts_proxy"
                    pknown.write_text(f"[{server.host}]:{port} {key}\n")
                    pep = Endpoint(server.host, port, pknown, user)
                    rtt_n = min(args.rtt_n, 200)
                    rtt_rows = [measure(v, "true", pep, pid, rtt_n, 3) for v in VARIANTS]
        finally:
            server.cleanup()
    print(f"per command, n={n} (local sshd; target = sshd process tree)")
    head = f"{'command':<18} {'method':<26} {'wall ms':>8} {'p90':>6} {'target ms':>9}"
    print(f"{head} {'client ms':>9} {'wall/exec':>9} {'tgt/exec':>8} {'tgt/ours':>8}")
    for command in COMMANDS:
        base = {r.variant: r for r in rows if r.command == command}
        raw, ours = base["raw paramiko exec"], base["FabricPlusConnection.run"]
        for r in base.values():
            med = statistics.median(r.wall)
            p90 = statistics.quantiles(r.wall, n=10)[-1]
            print(
                f"{command:<18} {r.variant:<26} {med * 1e3:>8.2f} {p90 * 1e3:>6.2f} "
                f"{r.target_cpu * 1e3:>9.2f} {r.client_cpu * 1e3:>9.2f} "
                f"{med / statistics.median(raw.wall):>8.2f}x "
                f"{ratio(r.target_cpu, raw.target_cpu)} {ratio(r.target_cpu, ours.target_cpu)}"
            )
    if rtt_rows:
        rtt = args.rtt_ms / 1000
        print(f"\nthrough a {args.rtt_ms:g} ms RTT proxy, 'true', n={rtt_n}: wall / RTT")
        for r in rtt_rows:
            med = statistics.median(r.wall)
            print(f"{r.variant:<26} {med * 1e3:>8.1f} ms {med / rtt:>5.2f} round trips")
    return 0


if __name__ == "__main__":
    sys.exit(main())
