"""Median time of one remote command: pytest-fabricplus vs raw paramiko vs plain Fabric.

Starts a real sshd on 127.0.0.1 (testing/sshd.py; needs root), then times, in one run,
``run("true")`` on each of:

* raw paramiko ``exec_command`` on a transport whose socket has TCP_NODELAY (the floor),
* our ``FabricPlusConnection`` (what the ``connection`` fixture gives),
* plain ``fabric.Connection`` as users get it.

Usage: python bench/command_latency.py [--n 200]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import fabric
import paramiko

if not __package__:  # run as ``python bench/NAME.py`` (bench/README.md): the repo root's
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench, testing packages
from pytest_fabricplus import Connector, HostSpec, Settings
from testing.sshd import LOGIN_USER, SshdServer, ensure_user


def timed(fn: Callable[[], object], n: int, warmup: int = 10) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        user = ensure_user(LOGIN_USER, work / "keys")
        server = SshdServer(work / "sshd", [user]).start()
        known = work / "known_hosts"
        known.write_text(server.known_hosts_line + "\n")
        try:
            # raw paramiko, TCP_NODELAY
            sock = socket.create_connection((server.host, server.port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw = paramiko.SSHClient()
            raw.load_host_keys(str(known))
            raw.connect(
                server.host,
                server.port,
                LOGIN_USER,
                key_filename=str(user.key_path),
                sock=sock,
                allow_agent=False,
                look_for_keys=False,
            )

            def raw_run() -> None:
                _, out, _ = raw.exec_command("true")
                out.read()
                out.channel.recv_exit_status()

            settings = Settings(known_hosts=str(known), ssh_identity_file=str(user.key_path))
            ours = Connector(settings).open(
                HostSpec(host=server.host, port=server.port, user=LOGIN_USER, id="bench")
            )
            plain = fabric.Connection(
                server.host,
                user=LOGIN_USER,
                port=server.port,
                connect_kwargs={"key_filename": [str(user.key_path)]},
            )
            plain.open()
            results = {
                "raw paramiko (TCP_NODELAY)": timed(raw_run, args.n),
                "pytest-fabricplus connection.run": timed(
                    lambda: ours.run("true", hide=True), args.n
                ),
                "plain fabric.Connection.run": timed(
                    lambda: plain.run("true", hide=True, in_stream=False), min(args.n, 60)
                ),
            }
            raw.close()
            ours.close()
            plain.close()
        finally:
            server.cleanup()
    base = statistics.median(results["raw paramiko (TCP_NODELAY)"])
    ourm = statistics.median(results["pytest-fabricplus connection.run"])
    print(f"{'method':<36} {'median ms':>10} {'p90 ms':>8} {'vs raw':>7}")
    for name, samples in results.items():
        med = statistics.median(samples)
        p90 = statistics.quantiles(samples, n=10)[-1]
        print(f"{name:<36} {med * 1000:>10.2f} {p90 * 1000:>8.2f} {med / base:>6.2f}x")
    plainm = statistics.median(results["plain fabric.Connection.run"])
    print(f"\nours / raw paramiko: {ourm / base:.2f}x (target <= 1.3x)")
    print(f"plain Fabric / ours: {plainm / ourm:.2f}x faster (target >= 4x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
