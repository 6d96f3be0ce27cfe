"""The same fleet work as bench/scale.py's (A) and (B), in raw paramiko with no pytest at all:
the machine's own floor for "300 hosts x 10 one-command checks" (issue 15).

Not a test runner: no fixtures, reports, xdist, host keys checked once per host by paramiko,
TCP_NODELAY sockets. What it costs on this machine is what any paramiko-based tool pays at
least; the gap between it and the latency floor is the machine's (CPU shared by client, sshd
and proxy), not the plugin's.

  --mode items --workers W   W processes, each opening its share of the hosts (8 at a time,
                             as our xdist workers) and running the checks one after another,
                             check by check over its hosts (the order of per-host items)
  --mode pool --threads T    one process: open every host (T at a time), then each check on
                             every host at once through T threads (as ``host_pool.run``)

Prints ``N passed`` (every command exited 0) so bench/scale.py counts it like a pytest run.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import paramiko

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.fleet import CHECKS

_LINE = re.compile(r"ansible_host=(\S+)\s+ansible_port=(\d+)\s+ansible_user=(\S+)")


def read_inventory(path: Path) -> list[tuple[str, int, str]]:
    hosts = []
    for line in path.read_text().splitlines():
        match = _LINE.search(line)
        if match:
            hosts.append((match.group(1), int(match.group(2)), match.group(3)))
    return hosts


def connect(
    host: tuple[str, int, str], known_hosts: str, key: str, timeout: float
) -> paramiko.SSHClient:
    address, port, user = host
    sock = socket.create_connection((address, port), timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client = paramiko.SSHClient()
    client.load_host_keys(known_hosts)
    client.connect(
        address, port, user, key_filename=key, sock=sock, timeout=timeout,
        allow_agent=False, look_for_keys=False,
    )  # fmt: skip
    return client


def run(client: paramiko.SSHClient, command: str) -> int:
    _, out, err = client.exec_command(command)
    out.read()
    err.read()
    return out.channel.recv_exit_status()


def part(args: argparse.Namespace, hosts: list[tuple[str, int, str]], checks: list[str]) -> int:
    """One worker's share: open (8 at a time), then check by check over its hosts."""
    with ThreadPoolExecutor(8) as ex:
        clients = list(ex.map(lambda h: connect(h, args.known_hosts, args.key, 30), hosts))
    passed = 0
    for command in checks:
        for client in clients:
            passed += run(client, command) == 0
    for client in clients:
        client.close()
    return passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--known-hosts", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--mode", choices=("items", "pool"), required=True)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--checks", type=int, default=len(CHECKS))
    args = parser.parse_args(argv)
    checks = CHECKS[: args.checks]
    hosts = read_inventory(args.inventory)
    started = time.perf_counter()
    passed = 0
    if args.mode == "pool":
        with ThreadPoolExecutor(args.threads) as ex:
            clients = list(ex.map(lambda h: connect(h, args.known_hosts, args.key, 30), hosts))
            for command in checks:
                codes = ex.map(run, clients, [command] * len(clients))
                passed += sum(code == 0 for code in codes)
        for client in clients:
            client.close()
    else:  # one forked process per worker, hosts dealt round-robin
        pids = []
        read_ends = []
        for w in range(args.workers):
            r, wfd = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker
                os.close(r)
                code = 1
                try:
                    count = part(args, hosts[w :: args.workers], checks)
                    os.write(wfd, f"{count}\n".encode())
                    code = 0
                finally:
                    os._exit(code)
            os.close(wfd)
            pids.append(pid)
            read_ends.append(r)
        for r in read_ends:
            with os.fdopen(r) as f:
                text = f.read().strip()
            passed += int(text or 0)
        for pid in pids:
            os.waitpid(pid, 0)
    print(f"{passed} passed in {time.perf_counter() - started:.2f}s")
    return 0 if passed == len(hosts) * len(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
