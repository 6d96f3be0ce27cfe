"""One ``host_pool`` check over N connections: the direct channel path vs invoke's runner.

Opens N connections (``--hosts``, default 20) to one local sshd (testing/sshd.py, needs
root), then times ``HostPool.run("true")`` (``connection.run``'s direct channel path) against
``pool.map(lambda c: c.run("true", hide=True, warn=True, pty=False))`` (``pty=`` routes the
call through invoke's runner), medians of ``--n`` checks. On one machine the sshd side (a fork/exec per command) shares the CPU, so this
shows where a check's time goes rather than what a real fleet would see.

Usage: python bench/pool_check.py [--hosts 20] [--n 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # run as ``python bench/NAME.py`` (bench/README.md): the repo root's
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench, testing packages
from pytest_fabricplus import (
    ConnectionRegistry,
    Connector,
    HostPool,
    HostSpec,
    Settings,
    assign_ids,
    preflight,
)
from testing.sshd import LOGIN_USER, SshdServer, ensure_user


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--n", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        user = ensure_user(LOGIN_USER, work / "keys")
        server = SshdServer(work / "sshd", [user]).start()
        try:
            known = work / "known_hosts"
            known.write_text(server.known_hosts_line + "\n")
            specs = assign_ids(
                [
                    HostSpec("127.0.0.1", server.port, LOGIN_USER, alias=f"h{i}")
                    for i in range(args.hosts)
                ]
            )
            settings = Settings(known_hosts=str(known), ssh_identity_file=str(user.key_path))
            registry = ConnectionRegistry(Connector(settings))
            print(preflight(registry, specs, 32).summary())
            pool = HostPool(registry, specs)
            for name in ("direct (HostPool.run)", "invoke runner (pty=False)"):
                samples = []
                cpu = time.process_time()
                for _ in range(args.n):
                    start = time.perf_counter()
                    if name.startswith("direct"):
                        result = pool.run("true")
                    else:
                        result = pool.map(lambda c: c.run("true", hide=True, warn=True, pty=False))
                    assert result.ok
                    samples.append(time.perf_counter() - start)
                per_cmd = (time.process_time() - cpu) / args.n / args.hosts * 1000
                print(
                    f"{name:<22} median {statistics.median(samples) * 1000:6.1f} ms per "
                    f"{args.hosts}-host check; client CPU {per_cmd:.2f} ms per command"
                )
            registry.close_all()
        finally:
            server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
