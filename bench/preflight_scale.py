"""Pre-flight of 200 hosts: time, memory, file descriptors, threads (issue 6).

Starts 200 sshd endpoints on 127.0.0.1 (13 sshd processes x up to 16 ports: OpenSSH listens
on at most 16 sockets per process), optionally behind bench/delay_proxy.py, then in one run,
for each ``--rtt-ms`` (default 0 and 40):

* one handshake: median of ``Connector.open`` on a few hosts, one after another;
* ``--reps`` times: a fresh ``ConnectionRegistry`` and ``preflight()`` (pytest_fabricplus'
  own, as each xdist worker runs it) of all 200 hosts with ``--max-connections`` threads;
  then ``close_all()``.

Target: pre-flight < 3 x one handshake x ceil(200 / max_connections). Prints peak memory
(ru_maxrss of this process, which is what a pytest controller/worker would hold), file
descriptors (/proc/self/fd) and threads (/proc/self/task) before, while open, and after
close, plus the sshd connections per port (exactly 1 each) and CPU spent on both sides.

With an ssh config that says something we honour, one more pre-flight resolves every host
through ``ssh -G`` (issue 13), and the lookups alone are timed in pre-flight's threads; without
one (no ~/.ssh/config, a system config with nothing we honour) the lookup is skipped.

Needs root (starts sshd, uses the system user ``fptest``). Usage::

    .venv/bin/python bench/preflight_scale.py [--hosts 200] [--max-connections 32] [--reps 3]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if not __package__:  # run as ``python bench/NAME.py`` (bench/README.md): the repo root's
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench, testing packages
from bench.delay_proxy import ProxyProcess
from bench.targets import (
    LOGIN_USER,
    MAX_PORTS_PER_SSHD,
    Targets,
    settle,
    source_state,
    stop_on_sigterm,
)
from pytest_fabricplus import ConnectionRegistry, Connector, HostSpec, Settings
from pytest_fabricplus.fleet.preflight import preflight
from pytest_fabricplus.ssh.sshconfig import HostQuery, SshConfigResolver


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def tasks() -> int:
    return len(os.listdir("/proc/self/task"))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def wait_back(target_fds: int, target_tasks: int, timeout: float = 10.0) -> tuple[int, int, float]:
    """fds/threads once they are back to the baseline (closing threads exit asynchronously)."""
    start = time.monotonic()
    for _ in range(int(timeout / 0.05)):
        if fds() <= target_fds and tasks() <= target_tasks:
            break
        time.sleep(0.05)
    return fds(), tasks(), time.monotonic() - start


def one_handshake(connector: Connector, specs: list[HostSpec], n: int = 5) -> float:
    """Median time of ``Connector.open`` on ``n`` hosts, one after another (then closed)."""
    samples = []
    for spec in specs[:n]:
        t = time.perf_counter()
        conn = connector.open(spec)
        samples.append(time.perf_counter() - t)
        conn.close()
    return statistics.median(samples)


def run_rtt(
    targets: Targets, rtt_ms: float, args: argparse.Namespace, work: Path
) -> dict[str, object]:
    with contextlib.ExitStack() as stack:
        if rtt_ms > 0:
            proxy = stack.enter_context(ProxyProcess(targets.endpoints, rtt_ms / 2, lifetime=600))
            mapping = {t: ("127.0.0.1", proxy.ports[t]) for t in targets.endpoints}
        else:
            mapping = {t: t for t in targets.endpoints}
        known = targets.known_hosts(work / f"known_hosts-{rtt_ms:g}", mapping)
        assert targets.user is not None
        settings = Settings(
            known_hosts=str(known),
            ssh_identity_file=str(targets.user.key_path),
            connect_timeout=args.connect_timeout,
            max_connections=args.max_connections,
        )
        addrs = [mapping[t] for t in targets.endpoints]
        specs = [
            HostSpec(host=h, port=p, user=LOGIN_USER, id=f"h{i:03d}")
            for i, (h, p) in enumerate(addrs)
        ]
        connector = Connector(settings, env={})
        # warm up (imports, lazy initialisation), then the baseline
        connector.open(specs[-1]).close()
        base_fds, base_tasks = wait_back_baseline()
        waves = math.ceil(len(specs) / args.max_connections)
        print(
            f"\n--- added RTT {rtt_ms:g} ms: {len(specs)} hosts, --max-connections "
            f"{args.max_connections} -> {waves} waves; target: pre-flight < 3 x {waves} x one "
            f"handshake (measured just before each pre-flight, median of 5 sequential)",
            flush=True,
        )
        print(f"    baseline: {base_fds} fds, {base_tasks} threads, RSS {rss_mb():.0f} MB")
        ratios, walls, floors = [], [], []
        ok = True
        # a fresh Connector per pre-flight, as each pytest session (or xdist worker) has its own
        runs = [("verify", Connector(settings, env={})) for _ in range(args.reps)]
        if args.diagnose:
            # same hosts without any known_hosts file: shows what parsing known_hosts costs
            bare = Connector(
                Settings(
                    ssh_identity_file=str(targets.user.key_path),
                    connect_timeout=args.connect_timeout,
                    host_key_policy="accept",
                ),
                env={},
            )
            runs.append(("no known_hosts (diagnostic)", bare))
        # an ssh config that says something we honour (so ``ssh -G`` runs for every host;
        # without one -- as above, no ~/.ssh/config -- the lookup is skipped)
        ssh_config = work / f"ssh_config-{rtt_ms:g}"
        ssh_config.write_text(f"Host *\n  ConnectTimeout {args.connect_timeout:g}\n")
        if args.ssh_g:
            runs += [
                (
                    "ssh -G per host",
                    Connector(dataclasses.replace(settings, ssh_config=str(ssh_config)), env={}),
                )
                for _ in range(2)
            ]
        for rep, (label, conn_maker) in enumerate(runs):
            handshake = one_handshake(conn_maker, specs[rep * 5 % len(specs) :])
            wait_back(base_fds, base_tasks)
            budget = 3 * handshake * waves
            registry = ConnectionRegistry(conn_maker, {})
            conns_before = targets.connection_counts()
            server0 = targets.server_cpu()
            cpu0 = time.process_time()
            t = time.perf_counter()
            report = preflight(registry, specs, args.max_connections)
            elapsed = time.perf_counter() - t
            cpu = time.process_time() - cpu0
            open_fds, open_tasks, open_rss = fds(), tasks(), rss_mb()
            # Fabric's Config.clone() re-parses the ssh_config files into the *original* config
            # (self.load_ssh_config(), not new.): the Connector's base config grows per host
            base_cfg = getattr(getattr(conn_maker, "_config", None), "base_ssh_config", None)
            ssh_entries = len(getattr(base_cfg, "_config", []))
            t = time.perf_counter()
            registry.close_all()
            close_s = time.perf_counter() - t
            after_fds, after_tasks, waited = wait_back(base_fds, base_tasks)
            settle(0.5)
            server_cpu = targets.server_cpu() - server0
            conns = targets.connection_counts()
            per_port = [conns[p] - conns_before[p] for _h, p in targets.endpoints]
            good = (
                not report.unreachable
                and registry.opened_count == len(specs)
                and set(per_port) == {1}
            )
            # here the 200 "hosts" (sshd) and this client share os.cpu_count() cores, and the
            # client's Python work is serialised by the GIL: with this much CPU spent, the wall
            # time can't be below ``floor``; ``sshd_floor`` remains even with a free client
            ncpu = os.cpu_count() or 1
            floor = max(cpu, (cpu + server_cpu) / ncpu)
            sshd_floor = server_cpu / ncpu
            ratio = elapsed / (handshake * waves)
            if label == "verify":
                ok &= good
                ratios.append(ratio)
                walls.append(elapsed)
                floors.append(floor)
            print(
                f"    {label} rep {rep + 1}: {report.summary()}; handshake "
                f"{handshake * 1000:.0f} ms, budget {budget:.2f} s -> {ratio:.2f}x handshake x "
                f"waves (target < 3x)\n"
                f"        CPU: client {cpu:.2f} s ({cpu / len(specs) * 1000:.1f} ms/host), sshd "
                f"{server_cpu:.2f} s ({server_cpu / len(specs) * 1000:.1f} ms/host) on {ncpu} "
                f"CPUs -> wall >= {floor:.2f} s (sshd alone: >= {sshd_floor:.2f} s)\n"
                f"        open: {open_fds} fds, {open_tasks} threads, RSS {open_rss:.0f} MB | "
                f"close_all {close_s:.2f} s, then {after_fds} fds, {after_tasks} threads "
                f"(after {waited:.2f} s more) | "
                f"sshd TCP connections per port {min(per_port)}-{max(per_port)} | "
                f"ssh_config entries in the Connector's base Config: {ssh_entries}"
                + ("" if good else f"  PROBLEM: {len(report.unreachable)} unreachable"),
                flush=True,
            )
            for host, exc in sorted(report.unreachable.items())[:5]:
                print(f"      {host}: {exc}")
            lookups = conn_maker.resolver.lookups
            print(f"        ssh client config: {lookups} `ssh -G` lookups for {len(specs)} hosts")
        if args.ssh_g:
            print("    " + resolution_cost(str(ssh_config), specs, args.max_connections))
            wait_back(base_fds, base_tasks)  # the lookup threads' exit
        ratio = statistics.median(ratios)
        met = ratio < 3
        leak = fds() > base_fds or tasks() > base_tasks
        print(
            f"    median: pre-flight {statistics.median(walls):.2f} s = {ratio:.2f}x handshake x "
            f"waves (target < 3x): {'met' if met else 'MISSED'}; CPU-bound lower limit "
            f"{statistics.median(floors):.2f} s; peak RSS so far {peak_mb():.0f} MB; "
            f"leak after close: {'YES' if leak else 'none'} ({fds()} fds, {tasks()} threads)"
        )
        return {"rtt_ms": rtt_ms, "ratio": ratio, "met": met, "leak": leak, "ok": ok}


def resolution_cost(config: str, specs: list[HostSpec], threads: int) -> str:
    """The ssh client config lookups alone (``ssh -G`` per host), in pre-flight's threads."""
    resolver = SshConfigResolver(config)
    queries = [HostQuery(s.host, s.port, s.user, name=s.id) for s in specs]
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = time.process_time()
    t = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(resolver.resolve, queries))
    wall = time.perf_counter() - t
    cpu = time.process_time() - cpu0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (children.ru_utime - children0.ru_utime) + (children.ru_stime - children0.ru_stime)
    t = time.perf_counter()
    for query in queries:  # again: all cached
        resolver.resolve(query)
    cached = time.perf_counter() - t
    n = len(specs)
    return (
        f"ssh -G alone: {n} hosts in {wall:.2f} s with {threads} threads "
        f"({wall / n * 1000:.1f} ms/host wall; CPU {cpu / n * 1000:.1f} ms/host here + "
        f"{child_cpu / n * 1000:.1f} ms/host in ssh); cached again: "
        f"{cached / n * 1e6:.0f} us/host; {resolver.lookups} processes"
    )


def wait_back_baseline() -> tuple[int, int]:
    """Let the warm-up connection's threads end (bounded); the resulting fds and threads."""
    for _ in range(100):
        if threading.active_count() <= 1:
            break
        time.sleep(0.05)
    return fds(), tasks()


def main(argv: list[str] | None = None) -> int:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--max-connections", type=int, default=32)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--rtt-ms", type=float, action="append", help="default 0 and 40")
    parser.add_argument("--connect-timeout", type=float, default=30.0)
    parser.add_argument(
        "--no-ssh-g",
        dest="ssh_g",
        action="store_false",
        help="skip the extra pre-flight with an ssh config (one `ssh -G` per host)",
    )
    parser.add_argument(
        "--no-diagnose",
        dest="diagnose",
        action="store_false",
        help="skip the extra pre-flight without known_hosts (host keys not checked)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.hosts <= 400:
        parser.error("--hosts must be 1..400")
    started = time.monotonic()
    print(source_state())
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="preflight-scale-")))
        targets = Targets(work / "targets", args.hosts, ports_per_sshd=MAX_PORTS_PER_SSHD).start()
        stack.callback(targets.cleanup)
        print(
            f"{len(targets.endpoints)} sshd endpoints on 127.0.0.1 from {len(targets.servers)} sshd "
            f"processes ({time.monotonic() - started:.1f} s); peak RSS {peak_mb():.0f} MB",
            flush=True,
        )
        results = [run_rtt(targets, rtt, args, work) for rtt in (args.rtt_ms or [0.0, 40.0])]
    print(
        f"\npeak RSS of this process (ru_maxrss): {peak_mb():.0f} MB; total bench time "
        f"{time.monotonic() - started:.0f} s; load average at end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)"
    )
    return 0 if all(r["met"] and r["ok"] and not r["leak"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
