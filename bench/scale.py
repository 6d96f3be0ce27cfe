"""Fleets of 300 (or 500) hosts (issue 15, item 4): wall time against the latency floor, client
CPU per check against bare pytest + raw paramiko, sshd CPU per command, peak memory.

One set of sshd processes (16 ports each: 300 hosts -> 19 processes) behind ONE
bench/delay_proxy.py process adding ``--rtt-ms`` (default 40) round trip, 10 one-command checks
per host (``bench.fleet.CHECKS``). Variants (real pytest subprocesses, own pytest.ini, no
hypothesis plugin, as bench/fleet.py):

  (A)  ours, per-host items (``connection`` fixture), ``-n W`` for each W in ``--workers``
       floor: hosts * 10 / W * RTT (every check one round trip, W in flight)
  (B)  ours, ``host_pool``: one test per check over all hosts, no ``-n``
       floor: 10 * RTT (``host_pool.run`` sends every host's command at once)
  (F)  ours, the (A) suite (per-host items) in fleet mode (``--fleet``), no ``-n``
       floor: 10 * RTT -- each check's bodies run cooperatively, every host's at once;
       (FW) the same with ``-n W``: each worker runs its share of the hosts at once
  (H)  (F) with ``--fleet-bodies=threads``: a pool thread per body, ``max_connections`` at
       once (floor 10 * RTT * ceil(hosts / Settings.max_connections))
  (C)  pytest-testinfra's plugin, paramiko backend, ``-p no:fabricplus``, ``-n W[0]``
  (Z)  bare pytest ``-n W``: hosts * 10 parametrized empty items, ``-p no:fabricplus``
       (the xdist floor, and the CPU baseline per item)
  (R)  raw paramiko, no pytest (bench/raw_fleet.py): the same checks from ``W[0]`` forked
       processes (R8) and from one process with ``max_connections`` threads (RB)
  (N)  the ``-n 0`` set, no proxy: 20 hosts x 50 ``run("true")`` checks, ``-p no:xdist``, ours,
       against (Z0) the same number of empty items in bare pytest (``-p no:fabricplus``)
  (T)  ours, (C)'s testinfra suite (testinfra's module-scoped ``host``) through our drop-in
       (``-p pytest_fabricplus.testinfra_dropin``) in fleet mode, no ``-n``
  (P)  the peers, no pytest (bench/peers.py, ``pip install -e '.[bench]'``): (PA) asyncssh,
       (PP) parallel-ssh, (PF) Fabric ``ThreadingGroup``, (PN) Ansible ad-hoc ``raw`` (only
       the first 2 checks: its wall is extrapolated to 10, and said so)

The "machine's CPU floor" of a run is its client + sshd + proxy CPU over the cores: on a
machine where they share 2 cores it, not the latency floor, bounds the wall time.

plus raw paramiko's ``exec_command("true")`` CPU per command, measured in this process
(``time.process_time`` over ``--raw-n`` commands on one open connection, direct to one sshd
port, no proxy).

Client CPU is the pytest process tree's (RUSAGE_CHILDREN delta: xdist workers are reaped by
their controller). Per check it is printed two ways: total / checks, and the marginal
(cpu_full - cpu_quarter) / (checks_full - checks_quarter), where the "quarter" run has the same
hosts and ceil(checks per host / 4) checks per host (3 of the 10, 13 of the 50): start-up,
collection, connections and xdist set-up cancel out of the marginal. sshd CPU (the listeners'
own plus their reaped children) is read once the run ended and it stopped changing (bounded).
Peak memory: each pytest process writes its ru_maxrss at unconfigure (controller = "main",
workers = gw*).

Every run's passed count is checked (hosts * checks per-host items, or one per check for (B));
a failing run is printed and reported FAILED, and its figures are not used for targets.

Needs root (starts sshd, uses the system user ``fptest``). Raises RLIMIT_NOFILE to the hard
limit (a 300-host controller and the proxy hold one or two sockets per host). Usage::

    .venv/bin/python bench/scale.py                          # 300 hosts, 40 ms, ~4 min
    .venv/bin/python bench/scale.py --hosts 500 --workers 8,16
    .venv/bin/python bench/scale.py --hosts 40 --variants A,B,Z8 --no-marginal   # quick look
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import resource
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if not __package__:  # run as ``python bench/NAME.py`` (bench/README.md): the repo root's
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench, testing packages
from bench.fleet import CHECKS, TIMING_PLUGIN, Setup, _phases, prepared, write_check_files
from bench.targets import (
    LOGIN_USER,
    MAX_PORTS_PER_SSHD,
    Targets,
    as_text,
    children_cpu,
    clean_env,
    python,
    source_state,
    stop_on_sigterm,
    write_pytest_ini,
)
from pytest_fabricplus.settings import Settings

VARIANT_KEYS = ("A", "B", "C", "Z", "N", "R", "F", "H", "S", "T", "P")
RAW_FLEET = Path(__file__).resolve().parent / "raw_fleet.py"
PEERS = Path(__file__).resolve().parent / "peers.py"
#: Ansible ad-hoc runs this many of the checks (a run per check costs seconds); extrapolated
ANSIBLE_CHECKS = 2
#: the peers (bench/peers.py): key -> (tool, label)
PEER_TOOLS = {
    "PA": ("asyncssh", "(PA) asyncssh, one event loop, keys verified"),
    "PP": ("pssh", "(PP) parallel-ssh 2, pool 100, keys NOT checked"),
    "PF": ("fabric", "(PF) Fabric ThreadingGroup, keys verified"),
    "PN": ("ansible", f"(PN) Ansible ad-hoc raw, 50 forks, {ANSIBLE_CHECKS} checks"),
}
N0_HOSTS = 20
N0_CHECKS = 50
MEM_PLUGIN = '''"""Generated by bench/scale.py: peak RSS of each pytest process at unconfigure."""
import json, os, resource


def pytest_unconfigure(config):
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(os.path.join(os.environ["SCALE_MEM_DIR"], worker + ".json"), "w") as f:
        json.dump({"worker": worker, "maxrss_kib": kib}, f)
'''


def quarter(n: int) -> int:
    return max(1, math.ceil(n / 4))


# -- generated test files -----------------------------------------------------------------------
def write_files(directory: Path, nhosts: int, checks: list[str], suffix: str) -> None:
    """bench.fleet's test bodies, for a subset of the checks."""
    write_check_files(directory, nhosts, checks, suffix, origin="scale")


def write_empty(directory: Path, name: str, items: int) -> None:
    (directory / name).write_text(
        '"""Generated by bench/scale.py: empty items, no plugin use."""\nimport pytest\n\n\n'
        f"@pytest.mark.parametrize('i', range({items}))\ndef test_item(i):\n    pass\n"
    )


def write_true(directory: Path, name: str, checks: int) -> None:
    body = ['"""Generated by bench/scale.py."""\n\n']
    for i in range(checks):
        body.append(f"def test_true{i:02d}(connection):\n    connection.run('true', hide=True)\n\n")
    (directory / name).write_text("".join(body))


# -- one pytest run -------------------------------------------------------------------------------
@dataclass
class Spec:
    key: str  # "A8", "A8q", "B", "C8", "Z8", "N0", "Z0", ... ("q": the quarter run)
    label: str
    setup: Setup
    args: list[str]
    expected: int  # passing tests
    checks: int  # remote commands (or empty items) in the run
    ports: list[int]  # sshd ports whose connections are counted
    command: list[str] | None = None  # not pytest: (R) raw paramiko (bench/raw_fleet.py)

    def argv(self) -> list[str]:
        if self.command is not None:
            return self.command
        s = self.setup
        base = [python(), "-m", "pytest", "-q", "-c", str(s.ini), "--rootdir", str(s.work)]
        base += ["-p", "fleet_timing", "-p", "scale_mem"]
        for name in s.plugins_off:
            base += ["-p", f"no:{name}"]
        return base + self.args


@dataclass
class Run:
    wall: float
    cpu: float
    server_cpu: float
    conns: int
    ok: bool
    note: str
    mem_main_mib: float | None
    mem_worker_mib: float | None
    phases: tuple[float, float, float] | None
    proxy_cpu: float | None = None  # the run's delay proxy (run_fresh)


_PASSED = re.compile(r"(\d+) passed")


class OrphanReaper:
    """Make this process the child subreaper (prctl PR_SET_CHILD_SUBREAPER) and collect the CPU
    of orphaned sshd processes.

    An sshd connection's monitor sometimes exits before the session process it forked (a
    race at close); that process is then reparented, and its CPU (its commands' included) never
    reaches the listener's cutime, so Targets.server_cpu misses whole connections at random
    (seen: 100 commands + close counted 0.02 s one time, 0.5 s the next). As subreaper we
    get those orphans and wait4() them: their rusage is added here. Only called between
    runs, so it never lands inside a run's RUSAGE_CHILDREN window.
    """

    def __init__(self) -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        self.enabled = libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
        self.cpu = 0.0  # seconds, sshd orphans reaped so far
        self.reaped = 0
        self.known: set[int] = set()  # our own children (sshd listeners, proxy, ...)

    def _orphans(self) -> list[tuple[int, str, str]]:
        me, out = os.getpid(), []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in self.known:
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                name = stat[stat.index("(") + 1 : stat.rindex(")")]
                fields = stat.rsplit(")", 1)[1].split()
                if int(fields[1]) == me:
                    out.append((int(entry), fields[0], name))
        return out

    def live(self) -> int:
        """Orphaned sshd processes still running."""
        return sum(1 for _p, state, name in self._orphans() if name == "sshd" and state != "Z")

    def reap(self) -> None:
        for pid, state, name in self._orphans():
            if state != "Z":
                continue
            with contextlib.suppress(ChildProcessError):
                got, _status, usage = os.wait4(pid, os.WNOHANG)
                if got and name == "sshd":
                    self.cpu += usage.ru_utime + usage.ru_stime
                    self.reaped += 1


REAPER: OrphanReaper | None = None


def stable_server_cpu(targets: Targets, limit: float = 15.0) -> float:
    """sshd CPU once every connection's processes are gone (no listener child, no orphaned
    sshd left: their CPU is counted at reaping) and it stopped changing; waits at most
    ``limit`` s and says so if sessions were still open then."""
    reaper = REAPER
    if reaper is not None:
        reaper.known.update(s.proc.pid for s in targets.servers if s.proc is not None)

    def read() -> float:
        if reaper is None:
            return targets.server_cpu()
        reaper.reap()
        return targets.server_cpu() + reaper.cpu

    def busy() -> int:
        return targets.live_sessions() + (reaper.live() if reaper is not None else 0)

    deadline = time.monotonic() + limit
    last = read()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = read()
        if now == last and busy() == 0:
            return now
        last = now
    alive = (
        [p for p, state, name in reaper._orphans() if name == "sshd" and state != "Z"]
        if reaper
        else []
    )
    kids = []
    for server in targets.servers:
        if server.proc is not None:
            with contextlib.suppress(OSError):
                t = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text()
                kids += [int(k) for k in t.split()]
    titles = []
    for pid in (kids + alive)[:3]:
        with contextlib.suppress(OSError):
            titles.append(
                Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:60]
            )
    print(
        f"  (sshd CPU read with {targets.live_sessions()} sessions and {len(alive)} orphaned "
        f"sshd processes still running: {titles})",
        flush=True,
    )
    return last


def run_spec(spec: Spec, timeout: float, server: bool = True) -> Run:
    """One pytest run; without ``server`` the caller reads sshd CPU (see run_fresh)."""
    setup = spec.setup
    targets = setup.targets
    before = targets.connection_counts()
    server0 = stable_server_cpu(targets) if server else 0.0
    cpu0 = children_cpu()
    timing, mem = setup.work / "timing", setup.work / "mem"
    for d in (timing, mem):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
    env = clean_env(
        {"PYTHONPATH": str(setup.work), "FLEET_TIMING_DIR": str(timing), "SCALE_MEM_DIR": str(mem)}
    )
    epoch = time.time()
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            spec.argv(), cwd=setup.work, env=env, capture_output=True, text=True, timeout=timeout
        )
        out, rc = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out, rc = f"TIMEOUT after {timeout}s\n{as_text(exc.stdout)}", -1
    wall = time.perf_counter() - start
    cpu = children_cpu() - cpu0
    server_cpu = stable_server_cpu(targets) - server0 if server else 0.0
    after = targets.connection_counts()
    conns = sum(after[p] - before[p] for p in spec.ports)
    match = _PASSED.findall(out)
    passed = int(match[-1]) if match else 0
    ok = rc == 0 and passed == spec.expected
    note = "" if ok else f"rc={rc}, {passed}/{spec.expected} passed:\n" + out[-3000:]
    main_kib, worker_kib = None, []
    for path in mem.glob("*.json"):
        with contextlib.suppress(ValueError, OSError, KeyError):
            doc = json.loads(path.read_text())
            if doc["worker"] == "main":
                main_kib = doc["maxrss_kib"]
            else:
                worker_kib.append(doc["maxrss_kib"])
    phases, _preflight = _phases(timing, epoch, wall)
    return Run(
        wall,
        cpu,
        server_cpu,
        conns,
        ok,
        note,
        main_kib / 1024 if main_kib is not None else None,
        max(worker_kib) / 1024 if worker_kib else None,
        phases,
    )


@dataclass
class Result:
    spec: Spec
    runs: list[Run] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.ok for r in self.runs)

    def median(self, attr: str) -> float | None:
        got = [getattr(r, attr) for r in self.runs if getattr(r, attr) is not None]
        return statistics.median(got) if got else None


@contextlib.contextmanager
def open_big(
    targets: Targets, rtt_ms: float, work: Path, plugins_off: tuple[str, ...]
) -> Iterator[Setup]:
    """The fleet set-up (bench.fleet.prepared: one ProxyProcess in front of every endpoint,
    known_hosts, inventory, fleet's test files) plus this bench's files."""
    with prepared(targets, rtt_ms, work, plugins_off) as big:
        hosts = len(big.addrs)
        (big.work / "scale_mem.py").write_text(MEM_PLUGIN)
        write_files(big.work, hosts, CHECKS[: quarter(len(CHECKS))], "q")
        for suffix, k in (("", len(CHECKS)), ("q", quarter(len(CHECKS)))):
            write_empty(big.work, f"test_z{suffix}.py", hosts * k)
        yield big


def run_fresh(
    key: str,
    targets: Targets,
    opener: Callable[[], contextlib.AbstractContextManager[Setup]],
    make: Callable[[Setup], dict[str, Spec]],
    timeout: float,
) -> Run:
    """``key``'s run behind a proxy of its own, stopped before sshd CPU is read.

    A connection's sshd CPU is reaped only when it closes: a fresh proxy per run, closed after
    it, ends every connection the run left (delay_proxy.py before 8d492aa kept the sshd side
    open when a client exited with unread data: a reset), so the CPU read afterwards is the
    run's whole; its ports, known_hosts and inventory are new.
    """
    server0 = stable_server_cpu(targets)
    with opener() as setup:
        run = run_spec(make(setup)[key], timeout, server=False)
        before_proxy = children_cpu()
    run.proxy_cpu = children_cpu() - before_proxy  # the proxy was reaped on leaving
    run.server_cpu = stable_server_cpu(targets) - server0
    return run


# -- raw paramiko CPU per command --------------------------------------------------------------
def raw_paramiko_cpu(targets: Targets, known_hosts: Path, n: int) -> tuple[float, float]:
    """(CPU s, wall s) per ``exec_command("true")`` on one open connection, direct to sshd."""
    import paramiko

    assert targets.user is not None
    host, port = targets.endpoints[0]
    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        host, port, LOGIN_USER, key_filename=str(targets.user.key_path), sock=sock,
        allow_agent=False, look_for_keys=False, timeout=10,
    )  # fmt: skip

    def one() -> None:
        _, stdout, _ = client.exec_command("true", timeout=30)
        stdout.read()
        if stdout.channel.recv_exit_status() != 0:
            raise RuntimeError("raw paramiko: `true` failed")

    try:
        for _ in range(5):
            one()
        cpu0, t0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            one()
        return (time.process_time() - cpu0) / n, (time.perf_counter() - t0) / n
    finally:
        client.close()


# -- building the variants -------------------------------------------------------------------
def raise_nofile() -> str:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return f"RLIMIT_NOFILE raised from {soft} to {target} (hard limit {hard})"
    return f"RLIMIT_NOFILE {soft} (already the hard limit)"


#: extra pytest arguments for our variants (A, B, N): ``--ours-args``
OURS_EXTRA: list[str] = []


def build_specs(
    big: Setup, small: Setup | None, variants: set[str], workers: list[int], marginal: bool
) -> list[Spec]:
    hosts = len(big.addrs)
    big_ports = [p for _h, p in big.targets.endpoints]
    ours = [
        f"--fabricplus-hosts={big.inventory}",
        f"--known-hosts={big.known_hosts}",
        f"--fabricplus-ssh-identity-file={big.key}",
        *OURS_EXTRA,
    ]
    ti = [
        "-p", "no:fabricplus", f"--hosts={big.testinfra_hosts}",
        f"--ssh-identity-file={big.key}", "-W", "ignore::UserWarning",
    ]  # fmt: skip
    nq = quarter(len(CHECKS))
    sizes = [("", len(CHECKS))] + ([("q", nq)] if marginal else [])
    specs: list[Spec] = []
    for suffix, k in sizes:
        tag = "" if not suffix else f", {k} checks/host"
        for w in workers:
            if "Z" in variants:
                specs.append(Spec(
                    f"Z{w}{suffix}", f"(Z{w}) bare pytest -n {w}, {hosts * k} empty items",
                    big, ["-p", "no:fabricplus", "-n", str(w), f"test_z{suffix}.py"],
                    hosts * k, hosts * k, [],
                ))  # fmt: skip
            if "F" in variants:
                specs.append(Spec(
                    f"F{w}{suffix}", f"(F{w}) ours per-host items --fleet -n {w}{tag}", big,
                    [*ours, "-n", str(w), "--fleet", f"test_ours{suffix}.py"], hosts * k,
                    hosts * k, big_ports,
                ))  # fmt: skip
            if "A" in variants:
                specs.append(Spec(
                    f"A{w}{suffix}", f"(A{w}) ours per-host items -n {w}{tag}", big,
                    [*ours, "-n", str(w), f"test_ours{suffix}.py"], hosts * k, hosts * k,
                    big_ports,
                ))  # fmt: skip
        if "B" in variants:
            specs.append(Spec(
                f"B{suffix}", f"(B) ours host_pool, no -n{tag}", big,
                [*ours, "-p", "no:xdist", f"test_pool{suffix}.py"], k, hosts * k, big_ports,
            ))  # fmt: skip
        # fleet mode in one process: F as it comes, S on the persistent shell, H with threads
        for key, extra in (
            ("F", []),
            ("S", ["--remote-shell=persistent"]),
            ("H", ["--fleet-bodies=threads"]),
        ):
            if key in variants:
                how = " ".join(["--fleet", *extra]) + (", no -n" if not extra else "")
                specs.append(Spec(
                    f"{key}{suffix}", f"({key}) ours per-host items {how}{tag}", big,
                    [*ours, "-p", "no:xdist", "--fleet", *extra, f"test_ours{suffix}.py"],
                    hosts * k, hosts * k, big_ports,
                ))  # fmt: skip
        if "C" in variants:
            w = workers[0]
            specs.append(Spec(
                f"C{w}{suffix}", f"(C{w}) testinfra paramiko -n {w}{tag}", big,
                [*ti, "-n", str(w), f"test_testinfra{suffix}.py"], hosts * k, hosts * k,
                big_ports,
            ))  # fmt: skip
        if "T" in variants:
            specs.append(Spec(
                f"T{suffix}", f"(T) ours testinfra-style host suite --fleet{tag}", big,
                [*ours, "-p", "pytest_fabricplus.testinfra_dropin", "-p", "no:xdist",
                 "--fleet", f"test_testinfra{suffix}.py"], hosts * k, hosts * k, big_ports,
            ))  # fmt: skip
    if "R" in variants:
        raw = [
            python(),
            str(RAW_FLEET),
            f"--inventory={big.inventory}",
            f"--known-hosts={big.known_hosts}",
            f"--key={big.key}",
        ]
        specs.append(Spec(
            f"R{workers[0]}", f"(R{workers[0]}) raw paramiko, {workers[0]} processes, no pytest",
            big, [], hosts * len(CHECKS), hosts * len(CHECKS), big_ports,
            command=[*raw, "--mode=items", f"--workers={workers[0]}"],
        ))  # fmt: skip
        specs.append(Spec(
            "RB", f"(RB) raw paramiko, {Settings.max_connections} threads, no pytest", big, [],
            hosts * len(CHECKS), hosts * len(CHECKS), big_ports,
            command=[*raw, "--mode=pool", f"--threads={Settings.max_connections}"],
        ))  # fmt: skip
    if "P" in variants:
        for key, (tool, label) in PEER_TOOLS.items():
            k = ANSIBLE_CHECKS if tool == "ansible" else len(CHECKS)
            specs.append(Spec(
                key, label, big, [], hosts * k, hosts * k, big_ports,
                command=[python(), str(PEERS), f"--tool={tool}", f"--inventory={big.inventory}",
                         f"--known-hosts={big.known_hosts}", f"--key={big.key}", f"--checks={k}"],
            ))  # fmt: skip
    if small is not None:
        n = len(small.addrs)
        small_ports = [p for _h, p in small.addrs]
        sizes0 = [("", N0_CHECKS)] + ([("q", quarter(N0_CHECKS))] if marginal else [])
        for suffix, k in sizes0:
            specs.append(Spec(
                f"N0{suffix}", f"(N0) ours -n 0, {n} hosts x {k} run('true'), no proxy", small,
                [f"--fabricplus-hosts={small.inventory}", f"--known-hosts={small.known_hosts}",
                 f"--fabricplus-ssh-identity-file={small.key}", *OURS_EXTRA, "-p", "no:xdist",
                 f"test_true{suffix}.py"],
                n * k, n * k, small_ports,
            ))  # fmt: skip
            specs.append(Spec(
                f"Z0{suffix}", f"(Z0) bare pytest -n 0, {n * k} empty items", small,
                ["-p", "no:fabricplus", "-p", "no:xdist", f"test_z0{suffix}.py"],
                n * k, n * k, [],
            ))  # fmt: skip
    return specs


def make_small(targets: Targets, work: Path, plugins_off: tuple[str, ...]) -> Setup:
    """The ``-n 0`` set: the first 20 endpoints, direct (no proxy)."""
    work.mkdir(parents=True, exist_ok=True)
    ini = write_pytest_ini(work)
    (work / "fleet_timing.py").write_text(TIMING_PLUGIN)
    (work / "scale_mem.py").write_text(MEM_PLUGIN)
    addrs = targets.endpoints[: min(N0_HOSTS, len(targets.endpoints))]
    known = targets.known_hosts(work / "known_hosts")
    inventory = work / "inventory.ini"
    inventory.write_text(
        "[fleet]\n"
        + "".join(
            f"s{i + 1:02d} ansible_host={h} ansible_port={p} ansible_user={LOGIN_USER}\n"
            for i, (h, p) in enumerate(addrs)
        )
    )
    for suffix, k in (("", N0_CHECKS), ("q", quarter(N0_CHECKS))):
        write_true(work, f"test_true{suffix}.py", k)
        write_empty(work, f"test_z0{suffix}.py", len(addrs) * k)
    assert targets.user is not None
    key = str(targets.user.key_path)
    return Setup(0.0, work, targets, addrs, known, inventory, ini, key, plugins_off)


def warm_up(small: Setup, workers: int, timeout: float) -> None:
    """Bytecode and assertion-rewrite caches (see targets.clean_env), on 2 hosts: every module
    the timed runs import (pytest, xdist, ours with host_pool, testinfra) gets its cache."""
    two = small.addrs[:2]
    inv = small.work / "warm.ini"
    inv.write_text(
        "[w]\n"
        + "".join(
            f"w{i} ansible_host={h} ansible_port={p} ansible_user={LOGIN_USER}\n"
            for i, (h, p) in enumerate(two)
        )
    )
    write_files(small.work, len(two), CHECKS[:1], "_warm")
    tih = ",".join(f"paramiko://{LOGIN_USER}@{h}:{p}" for h, p in two)
    ours = [
        f"--fabricplus-hosts={inv}",
        f"--known-hosts={small.known_hosts}",
        f"--fabricplus-ssh-identity-file={small.key}",
    ]
    runs = [
        ("ours", [*ours, "-n", "2", "test_ours_warm.py"], 2),
        ("pool", [*ours, "-p", "no:xdist", "test_pool_warm.py"], 1),
        ("testinfra", ["-p", "no:fabricplus", f"--hosts={tih}", f"--ssh-identity-file={small.key}",
                       "-W", "ignore::UserWarning", "-n", "2", "test_testinfra_warm.py"], 2),
    ]  # fmt: skip
    for name, args, expected in runs:
        r = run_spec(Spec(f"warm-{name}", name, small, args, expected, expected, []), timeout)
        print(f"  warm-up {name:<10} {r.wall:6.2f} s{'' if r.ok else '  FAILED'}", flush=True)
        if not r.ok:
            print(r.note, flush=True)


# -- report ----------------------------------------------------------------------------------
def fmt(x: float | None, spec: str = ".2f", unit: str = "") -> str:
    return "-" if x is None else f"{x:{spec}}{unit}"


def report(
    results: dict[str, Result],
    hosts: int,
    rtt_ms: float,
    workers: list[int],
    raw_cpu: float | None,
    raw_wall: float | None,
) -> dict[str, Any]:
    rtt = rtt_ms / 1000.0
    maxconn = int(Settings.max_connections)
    summary: dict[str, Any] = {
        "hosts": hosts, "rtt_ms": rtt_ms, "checks_per_host": len(CHECKS), "workers": workers,
        "max_connections": maxconn, "raw_paramiko_cpu_ms": raw_cpu and raw_cpu * 1000,
        "raw_paramiko_wall_ms": raw_wall and raw_wall * 1000, "variants": {}, "targets": [],
    }  # fmt: skip
    print(
        f"\n=== {hosts} sshd targets, {len(CHECKS)} checks per host, added RTT {rtt_ms:g} ms "
        f"(medians) ==="
    )
    print(
        f"{'variant':<52} {'wall s':>7} {'cpu s':>7} {'cpu/chk ms':>10} {'sshd s':>7} "
        f"{'sshd/cmd ms':>11} {'conns':>6} {'main MiB':>8} {'wrk MiB':>8}  start+items+end s"
    )
    for key, res in results.items():
        if not res.runs:
            continue
        s = res.spec
        wall, cpu, scpu = res.median("wall"), res.median("cpu"), res.median("server_cpu")
        assert wall is not None
        assert cpu is not None
        assert scpu is not None
        conns = statistics.median(r.conns for r in res.runs)
        remote = bool(s.ports)
        phases = [r.phases for r in res.runs if r.phases]
        ph = "-"
        if phases:
            p = [statistics.median(x[i] for x in phases) for i in range(3)]
            ph = f"{p[0]:.1f}+{p[1]:.1f}+{p[2]:.1f}"
        print(
            f"{s.label:<52} {wall:7.2f} {cpu:7.2f} {cpu / s.checks * 1000:10.2f} "
            f"{fmt(scpu if remote else None):>7} "
            f"{fmt(scpu / s.checks * 1000 if remote else None):>11} "
            f"{fmt(conns if remote else None, 'g'):>6} {fmt(res.median('mem_main_mib'), '.0f'):>8} "
            f"{fmt(res.median('mem_worker_mib'), '.0f'):>8}  {ph}"
            f"{'' if res.ok else '  FAILED'}"
        )
        summary["variants"][key] = {
            "label": s.label, "ok": res.ok, "checks": s.checks, "expected_passed": s.expected,
            "walls": [r.wall for r in res.runs], "wall_median": wall, "client_cpu_median": cpu,
            "client_cpu_per_check_ms": cpu / s.checks * 1000,
            "sshd_cpu_median": scpu if remote else None,
            "sshd_cpu_per_command_ms": scpu / s.checks * 1000 if remote else None,
            "connections": conns if remote else None,
            "controller_peak_mib": res.median("mem_main_mib"),
            "worker_peak_mib": res.median("mem_worker_mib"),
        }  # fmt: skip
    for res in results.values():
        for r in res.runs:
            if not r.ok:
                print(f"\n{res.spec.label} FAILED:\n{r.note}")

    def good(key: str) -> Result | None:
        res = results.get(key)
        return res if res is not None and res.ok else None

    def wall_of(key: str) -> float | None:
        res = good(key)
        return res.median("wall") if res else None

    def per_check(key: str) -> float | None:
        res = good(key)
        cpu = res.median("cpu") if res else None
        return cpu / res.spec.checks if res and cpu is not None else None

    def marginal(key: str, attr: str = "cpu") -> float | None:
        full, part = good(key), good(key + "q")
        if not full or not part:
            return None
        cf, cq = full.median(attr), part.median(attr)
        assert cf is not None
        assert cq is not None
        return (cf - cq) / (full.spec.checks - part.spec.checks)

    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        print(line)

    print("\n-- 1. wall time vs latency floor (every check one round trip) --")
    w0 = workers[0]
    for w in workers:
        a = wall_of(f"A{w}")
        floor = hosts * len(CHECKS) / w * rtt
        z = wall_of(f"Z{w}")
        print(
            f"(A{w}) floor {hosts}*{len(CHECKS)}/{w}*{rtt_ms:g} ms = {floor:.2f} s; wall "
            f"{fmt(a, unit=' s')}; wall/floor {fmt(a / floor if a and floor else None)}x; "
            f"xdist floor (Z{w}, empty items) {fmt(z, unit=' s')}"
        )
        summary.setdefault("floors", {})[f"A{w}"] = floor
        summary["floors"][f"Z{w}"] = z
    b = wall_of("B")
    bfloor = len(CHECKS) * rtt  # host_pool.run: every host's command at once
    summary.setdefault("floors", {})["B"] = bfloor
    print(
        f"(B) floor {len(CHECKS)}*{rtt_ms:g} ms = {bfloor:.2f} s; wall "
        f"{fmt(b, unit=' s')}; wall/floor {fmt(b / bfloor if b and bfloor else None)}x"
    )
    f = wall_of("F")
    ffloor = len(CHECKS) * rtt  # cooperative bodies: every host's at once
    summary["floors"]["F"] = ffloor
    print(
        f"(F) floor {len(CHECKS)}*{rtt_ms:g} ms = {ffloor:.2f} s; wall "
        f"{fmt(f, unit=' s')}; wall/floor {fmt(f / ffloor if f and ffloor else None)}x"
    )
    h = wall_of("H")
    hfloor = len(CHECKS) * rtt * math.ceil(hosts / maxconn)  # max_connections threads at once
    summary["floors"]["H"] = hfloor
    if h:
        print(
            f"(H) floor {len(CHECKS)}*{rtt_ms:g} ms*ceil({hosts}/{maxconn}) = {hfloor:.2f} s; "
            f"wall {h:.2f} s; wall/floor {h / hfloor:.2f}x"
        )
        if f:
            say(f"F/H wall (cooperative / threads): {f / h:.2f}x (F {f:.2f} s, H {h:.2f} s)")
    if f:
        for key in ["B", *(f"A{w}" for w in workers)]:
            other = wall_of(key)
            if other:
                say(f"F/{key} wall: {f / other:.2f}x (F {f:.2f} s, {key} {other:.2f} s)")
        for w in workers:
            fw, aw = wall_of(f"F{w}"), wall_of(f"A{w}")
            if fw and aw:
                say(f"F{w}/A{w} wall: {fw / aw:.2f}x (F{w} {fw:.2f} s, A{w} {aw:.2f} s)")
            if fw:
                say(f"F{w}/F wall: {fw / f:.2f}x (F{w} {fw:.2f} s)")
        fc, bc = per_check("F"), per_check("B")
        if fc and bc:
            say(f"F/B client CPU per check: {fc / bc:.2f}x ({fc * 1000:.2f} / {bc * 1000:.2f} ms)")
    cores = os.cpu_count() or 1
    print(
        f"\n-- 1b. the machine's CPU floor: (client + sshd + proxy CPU) / {cores} cores; every "
        "process of the run shares them --"
    )
    for key in [f"A{w}" for w in workers] + ["B", "F", "H", "S", "T", f"C{w0}", f"R{w0}", "RB"]:
        got = good(key)
        if not got:
            continue
        proxies = [r.proxy_cpu for r in got.runs if r.proxy_cpu is not None]
        cpu, scpu, wall = got.median("cpu"), got.median("server_cpu"), got.median("wall")
        assert cpu is not None
        assert scpu is not None
        assert wall is not None
        pcpu = statistics.median(proxies) if proxies else 0.0
        cfloor = (cpu + scpu + pcpu) / cores
        summary["variants"][key]["proxy_cpu_median"] = pcpu
        summary["variants"][key]["cpu_floor"] = cfloor
        print(
            f"{key:<4} client {cpu:.1f} + sshd {scpu:.1f} + proxy {pcpu:.1f} s CPU = "
            f"{cfloor:.2f} s on {cores} cores; wall {wall:.2f} s = {wall / cfloor:.2f}x of it"
        )
    print(
        "\n-- 1c. the peers (same hosts, same checks; per command: client CPU, sshd CPU; "
        "logins per host) --"
    )
    for key in ["B", "F", "H", "S", "T", *(f"A{w}" for w in workers), f"C{w0}", *PEER_TOOLS]:
        got = good(key)
        if not got:
            continue
        wall, cpu, scpu = got.median("wall"), got.median("cpu"), got.median("server_cpu")
        assert wall is not None
        assert cpu is not None
        assert scpu is not None
        conns = statistics.median(r.conns for r in got.runs)
        per_host_checks = got.spec.checks / hosts
        full = wall * len(CHECKS) / per_host_checks
        extra = f" (extrapolated from {per_host_checks:g} checks)" if full != wall else ""
        summary["variants"][key]["wall_10_checks"] = full
        print(
            f"{key:<4} wall {full:7.2f} s{extra}; client {cpu / got.spec.checks * 1000:.2f} "
            f"ms/cmd; sshd {scpu / got.spec.checks * 1000:.2f} ms/cmd; "
            f"{conns / hosts:.2f} logins/host"
        )
    b_wall, pa_wall = wall_of("B"), wall_of("PA")
    if b_wall and pa_wall:
        verdict = "met" if b_wall <= pa_wall else "MISSED"
        say(f"target B wall <= asyncssh: {b_wall:.2f} / {pa_wall:.2f} s = "
            f"{b_wall / pa_wall:.2f}x: {verdict}")  # fmt: skip
    b_cpu, pa_cpu = per_check("B"), per_check("PA")
    if b_cpu and pa_cpu:
        verdict = "met" if b_cpu <= 1.3 * pa_cpu else "MISSED"
        say(f"target B client CPU/cmd <= 1.3x asyncssh: {b_cpu * 1000:.2f} / {pa_cpu * 1000:.2f}"
            f" ms = {b_cpu / pa_cpu:.2f}x: {verdict}")  # fmt: skip
    for key in ("F", "S", "T"):
        v, base, cv, bc = wall_of(key), wall_of("B"), per_check(key), per_check("B")
        if v and base:
            verdict = "met" if v <= 1.2 * base else "MISSED"
            say(f"target {key} wall <= 1.2x B: {v / base:.2f}x: {verdict}")
        if cv and bc:
            verdict = "met" if cv <= 2 * bc else "MISSED"
            say(f"target {key} client CPU/check <= 2x B: {cv / bc:.2f}x: {verdict}")
        c8 = wall_of(f"C{w0}")
        if v and c8:
            verdict = "met" if c8 / v >= 4 else "MISSED"
            say(f"target {key} >= 4x faster than C{w0}: {c8 / v:.2f}x: {verdict}")
    print("\n-- 2. speed-up vs testinfra and raw paramiko (same work, same targets) --")
    c = wall_of(f"C{w0}")
    print(f"(C{w0}) testinfra wall {fmt(c, unit=' s')}")
    for key in [f"A{w}" for w in workers] + ["B", "F", "S"]:
        v = wall_of(key)
        if v and c:
            say(f"{key}/C{w0} speed-up: {c / v:.2f}x (C {c:.2f} s / {key} {v:.2f} s)")
    for ours, raw in ((f"A{w0}", f"R{w0}"), ("B", "RB")):
        v, base = wall_of(ours), wall_of(raw)
        if v and base:
            say(f"{ours}/{raw} speed-up: {base / v:.2f}x ({raw} {base:.2f} s / {ours} {v:.2f} s)")
    print("\n-- 3. client CPU per check (pytest process tree) --")
    print(f"raw paramiko exec_command('true'), in-process, direct: {fmt(raw_cpu and raw_cpu * 1000)} "
          f"ms CPU ({fmt(raw_wall and raw_wall * 1000)} ms wall) per command")  # fmt: skip
    for key in [f"A{w}" for w in workers] + [
        "B",
        "F",
        f"C{w0}",
        *(f"Z{w}" for w in workers),
        "N0",
        "Z0",
    ]:
        if key in results and results[key].runs:
            m = marginal(key)
            summary["variants"][key]["client_cpu_marginal_ms"] = m and m * 1000
            print(
                f"{key:<4} total/checks {fmt(per_check(key) and per_check(key) * 1000)} ms, "  # type: ignore[operator]
                f"marginal {fmt(marginal(key) and marginal(key) * 1000)} ms"  # type: ignore[operator]
            )

    def target(name: str, ours: str, base: str, slack_ms: float) -> None:
        for how, fn in (("total/checks", per_check), ("marginal", marginal)):
            o, z = fn(ours), fn(base)
            if o is None or z is None or raw_cpu is None:
                continue
            limit = z + raw_cpu + slack_ms / 1000
            verdict = "target met" if o <= limit else "target MISSED"
            say(
                f"target {name} ({how}): {ours} {o * 1000:.2f} ms <= {base} {z * 1000:.2f} + raw "
                f"{raw_cpu * 1000:.2f} + {slack_ms:g} = {limit * 1000:.2f} ms: {verdict}"
            )

    for w in workers:
        target(f"-n {w} CPU/check", f"A{w}", f"Z{w}", 2.0)
    target("-n 0 CPU/check", "N0", "Z0", 0.5)
    for w in workers:
        a, cc = per_check(f"A{w}"), per_check(f"C{w0}")
        if a and cc:
            print(f"C{w0}/A{w} client CPU per check: {cc / a:.2f}x")
    print("\n-- 4. sshd CPU per command (connections' processes included) --")
    for key in [f"A{w}" for w in workers] + ["B", f"C{w0}", "N0"]:
        got = good(key)
        if got:
            scpu = got.median("server_cpu")
            assert scpu is not None
            conns = statistics.median(r.conns for r in got.runs)
            m = marginal(key, "server_cpu")
            print(
                f"{key:<4} {scpu / got.spec.checks * 1000:.2f} ms/command "
                f"({scpu:.1f} s over {got.spec.checks} commands, {conns:g} connections); "
                f"marginal {fmt(m and m * 1000)} ms/command"
            )
            summary["variants"][key]["sshd_cpu_marginal_ms"] = m and m * 1000
    print("\n-- 5. peak memory (ru_maxrss) --")
    for key in [f"A{w}" for w in workers] + ["B", f"C{w0}", *(f"Z{w}" for w in workers)]:
        got = good(key)
        if got:
            print(
                f"{key:<4} controller {fmt(got.median('mem_main_mib'), '.0f')} MiB, "
                f"max worker {fmt(got.median('mem_worker_mib'), '.0f')} MiB"
            )
    summary["targets"] = lines
    return summary


# -- main --------------------------------------------------------------------------------------
def parse_variants(text: str) -> set[str]:
    out = set()
    for item in text.split(","):
        item = item.strip().upper()
        if not item:
            continue
        if item[0] not in VARIANT_KEYS:
            raise ValueError(item)
        out.add(item[0])  # "Z8" -> Z (run for every --workers value), "N0" -> N
    return out


def main(argv: list[str] | None = None) -> int:
    stop_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hosts", type=int, default=300, help="sshd endpoints (16 per sshd)")
    parser.add_argument("--rtt-ms", type=float, default=40.0, help="added round trip")
    parser.add_argument(
        "--workers", default="8", help="comma list of -n values for (A) and (Z); (C) uses the first"
    )
    parser.add_argument(
        "--variants",
        default="A,B,C,Z,N,R",
        help="subset of A,B,C,Z (Z8 = Z),N (the -n 0 set),R (raw paramiko: R8 and RB),"
        "F (fleet mode),H (fleet mode, a thread per body),S (fleet mode on the persistent "
        "shell),T (testinfra-style suite in fleet mode),P (peers: asyncssh, parallel-ssh, "
        "Fabric, Ansible)",
    )
    parser.add_argument("--reps", type=int, default=1, help="rounds (interleaved, medians)")
    parser.add_argument(
        "--budget", type=float, default=600.0, help="seconds; later rounds are skipped past it"
    )
    parser.add_argument(
        "--no-marginal", dest="marginal", action="store_false",
        help="skip the quarter runs (no marginal CPU per check)",
    )  # fmt: skip
    parser.add_argument("--raw-n", type=int, default=200, help="raw paramiko commands")
    parser.add_argument("--run-timeout", type=float, default=600.0, help="per pytest run, s")
    parser.add_argument("--all-plugins", action="store_true", help="keep hypothesis' plugin")
    parser.add_argument(
        "--ours-args",
        default="",
        help="extra arguments for our variants (A, B, N), e.g. '--remote-shell=persistent'",
    )
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    args = parser.parse_args(argv)
    try:
        variants = parse_variants(args.variants)
        workers = [int(w) for w in args.workers.split(",") if w.strip()]
        OURS_EXTRA[:] = shlex.split(args.ours_args)
        if OURS_EXTRA:
            print(f"our variants (A, B, N) also get: {shlex.join(OURS_EXTRA)}")
    except ValueError as exc:
        parser.error(f"bad --variants/--workers: {exc}")
    if not workers or any(w < 1 or w > 64 for w in workers):
        parser.error("--workers: values 1..64")
    if not 1 <= args.hosts <= 1000:
        parser.error("--hosts must be 1..1000")
    if not 1 <= args.raw_n <= 2000 or not 1 <= args.reps <= 20:
        parser.error("--raw-n 1..2000, --reps 1..20")
    plugins_off = () if args.all_plugins else ("hypothesispytest",)
    started = time.monotonic()
    deadline = started + args.budget
    global REAPER
    REAPER = OrphanReaper()
    print(source_state())
    print(raise_nofile())
    print(
        "child subreaper: "
        + (
            "on (orphaned sshd session processes are reaped and counted)"
            if REAPER.enabled
            else "prctl failed; sshd CPU may miss connections"
        )
    )
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    failed = False
    with contextlib.ExitStack() as stack:
        if args.keep:
            work = args.keep
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="scale-bench-")))
        targets = Targets(work / "targets", args.hosts, ports_per_sshd=MAX_PORTS_PER_SSHD)
        stack.callback(targets.cleanup)
        targets.start(timeout=180)
        print(
            f"started {len(targets.servers)} sshd processes, {len(targets.endpoints)} ports on "
            f"127.0.0.1 ({time.monotonic() - started:.1f}s)",
            flush=True,
        )

        def opener() -> contextlib.AbstractContextManager[Setup]:
            return open_big(targets, args.rtt_ms, work / "fleet", plugins_off)

        def make(big: Setup) -> dict[str, Spec]:
            return {s.key: s for s in build_specs(big, None, variants, workers, args.marginal)}

        t0 = time.monotonic()
        with opener() as big:
            pass
        print(
            f"one delay proxy (a fresh one per run), RTT {args.rtt_ms:g} ms, up in "
            f"{time.monotonic() - t0:.1f}s; Settings.max_connections {Settings.max_connections}",
            flush=True,
        )
        small = make_small(targets, work / "n0", plugins_off)
        warm_up(small, 2, args.run_timeout)
        raw_cpu = raw_wall = None
        if variants & {"A", "Z", "N"}:
            raw_cpu, raw_wall = raw_paramiko_cpu(targets, small.known_hosts, args.raw_n)
            print(
                f"raw paramiko: {raw_cpu * 1000:.2f} ms CPU, {raw_wall * 1000:.2f} ms wall per "
                f"exec_command('true') ({args.raw_n} commands)",
                flush=True,
            )
        specs = build_specs(
            big, small if "N" in variants else None, variants, workers, args.marginal
        )
        results = {s.key: Result(s) for s in specs}
        last_round = 0.0
        for rep in range(args.reps):
            if rep > 0 and time.monotonic() + last_round > deadline:
                print(f"  (time budget: rounds {rep + 1}-{args.reps} skipped)", flush=True)
                break
            round_start = time.monotonic()
            for spec in specs if rep % 2 == 0 else list(reversed(specs)):
                if spec.setup is small:  # direct, no proxy
                    run = run_spec(spec, args.run_timeout)
                else:
                    run = run_fresh(spec.key, targets, opener, make, args.run_timeout)
                results[spec.key].runs.append(run)
                failed |= not run.ok
                print(
                    f"  {spec.label:<52} rep {rep + 1}: {run.wall:7.2f} s  cpu {run.cpu:6.2f} s"
                    f"{'' if run.ok else '  FAILED'}",
                    flush=True,
                )
            last_round = time.monotonic() - round_start
        summary = report(results, args.hosts, args.rtt_ms, workers, raw_cpu, raw_wall)
        print(
            f"orphaned sshd processes reaped and counted in sshd CPU: {REAPER.reaped} "
            f"({REAPER.cpu:.1f} s)"
        )
        summary["sshd_orphans_reaped"] = [REAPER.reaped, REAPER.cpu]
        summary["nofile"] = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        summary["sshd_processes"] = len(targets.servers)
        print(
            f"\ntotal bench time {time.monotonic() - started:.0f} s; load average at end: "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)"
        )
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
