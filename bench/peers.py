"""The same fleet work as bench/scale.py's variants, done by the peers (issue 22): asyncssh,
parallel-ssh, Fabric's ``ThreadingGroup`` and Ansible ad-hoc. No pytest: each tool's own
fan-out, as its users write it, over the hosts of an Ansible-style inventory.

  --tool asyncssh   one event loop: every host connected at once (``asyncio.gather``), then
                    each check on every host at once; host keys verified (known_hosts file)
  --tool pssh       parallel-ssh 2 (libssh2 + gevent): ``ParallelSSHClient.run_command`` per
                    check, ``--pool`` hosts at a time; parallel-ssh does not check host keys
  --tool fabric     Fabric 3 ``ThreadingGroup`` (a thread per host per call); host keys
                    verified (paramiko ``RejectPolicy`` + the known_hosts file)
  --tool ansible    ``ansible all -m raw`` per check, ``--forks`` at a time, OpenSSH with
                    Ansible's default ControlPersist (its own control directory, cleared after)
                    and the known_hosts file; ``--checks K`` runs only the first K checks
                    (an ad-hoc run per check costs seconds: bench/scale.py extrapolates)

Prints ``N passed`` (commands that exited 0), as bench/raw_fleet.py does, so bench/scale.py
counts the run like a pytest run. Needs ``pip install -e '.[bench]'`` (asyncssh,
parallel-ssh); Fabric and Ansible come with the dev extra.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.fleet import CHECKS
from bench.raw_fleet import read_inventory

Host = tuple[str, int, str]


def run_asyncssh(hosts: list[Host], known_hosts: str, key: str, checks: list[str]) -> int:
    import asyncssh

    async def main() -> int:
        conns = await asyncio.gather(
            *(
                asyncssh.connect(
                    address,
                    port=port,
                    username=user,
                    client_keys=[key],
                    known_hosts=known_hosts,
                    agent_path=None,
                    connect_timeout=60,
                )
                for address, port, user in hosts
            )
        )
        passed = 0
        try:
            for check in checks:
                results = await asyncio.gather(*(c.run(check, check=False) for c in conns))
                passed += sum(r.exit_status == 0 for r in results)
        finally:
            for conn in conns:
                conn.close()
            await asyncio.gather(*(c.wait_closed() for c in conns))
        return passed

    return asyncio.run(main())


def run_pssh(hosts: list[Host], key: str, checks: list[str], pool: int) -> int:
    from pssh.clients import ParallelSSHClient
    from pssh.config import HostConfig

    client = ParallelSSHClient(
        [address for address, _port, _user in hosts],
        host_config=[HostConfig(port=port, user=user, private_key=key) for _a, port, user in hosts],
        pool_size=pool,
        timeout=60,
        num_retries=1,
    )
    passed = 0
    for check in checks:
        output = client.run_command(check, stop_on_errors=False)
        client.join(output)
        for host_out in output:
            for _ in host_out.stdout or ():
                pass
            passed += host_out.exception is None and host_out.exit_code == 0
    del client  # (no close call in parallel-ssh 2: its connections end with the client)
    return passed


def run_fabric(hosts: list[Host], known_hosts: str, key: str, checks: list[str]) -> int:
    import paramiko
    from fabric import Connection, ThreadingGroup

    conns = []
    for address, port, user in hosts:
        conn = Connection(
            address, user=user, port=port,
            connect_kwargs={"key_filename": key, "allow_agent": False, "look_for_keys": False},
        )  # fmt: skip
        conn.client.load_host_keys(known_hosts)
        conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        conns.append(conn)
    group = ThreadingGroup.from_connections(conns)
    passed = 0
    try:
        for check in checks:
            results = group.run(check, hide=True, warn=True)
            passed += sum(r.ok for r in results.values())
    finally:
        group.close()
    return passed


def run_ansible(inventory: str, known_hosts: str, key: str, checks: list[str], forks: int) -> int:
    control = Path(tempfile.mkdtemp(prefix="peers-ansible-cp-", dir="/tmp"))
    env = dict(os.environ)
    env.update(
        ANSIBLE_HOST_KEY_CHECKING="True",
        ANSIBLE_SSH_CONTROL_PATH_DIR=str(control),
        ANSIBLE_SSH_ARGS=(
            "-C -o ControlMaster=auto -o ControlPersist=60s "
            f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes"
        ),
        ANSIBLE_LOCAL_TEMP=str(control / "tmp"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="0",
    )
    ansible = shutil.which("ansible") or str(Path(sys.executable).with_name("ansible"))
    passed = 0
    try:
        for check in checks:
            proc = subprocess.run(
                [ansible, "all", "-i", inventory, "-m", "raw", "-a", check,
                 "--private-key", key, "-f", str(forks), "-o"],
                env=env, capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            passed += sum(" | CHANGED | rc=0 " in line for line in proc.stdout.splitlines())
    finally:
        _end_control_masters(control)
        shutil.rmtree(control, ignore_errors=True)
    return passed


def _end_control_masters(control: Path) -> None:
    """The ControlPersist masters Ansible's ssh left (they would live 60 s more): ended."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if str(control).encode() in cmdline and cmdline.startswith(b"ssh"):
            with contextlib.suppress(OSError):
                os.kill(int(entry), signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tool", required=True, choices=("asyncssh", "pssh", "fabric", "ansible"))
    parser.add_argument("--inventory", type=Path, required=True)
    parser.add_argument("--known-hosts", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--checks", type=int, default=len(CHECKS), help="the first K checks")
    parser.add_argument("--pool", type=int, default=100, help="parallel-ssh pool size")
    parser.add_argument("--forks", type=int, default=50, help="Ansible forks")
    args = parser.parse_args(argv)
    if not 1 <= args.checks <= len(CHECKS):
        parser.error(f"--checks: 1..{len(CHECKS)}")
    hosts = read_inventory(args.inventory)
    checks = CHECKS[: args.checks]
    start = time.perf_counter()
    if args.tool == "asyncssh":
        passed = run_asyncssh(hosts, args.known_hosts, args.key, checks)
    elif args.tool == "pssh":
        passed = run_pssh(hosts, args.key, checks, args.pool)
    elif args.tool == "fabric":
        passed = run_fabric(hosts, args.known_hosts, args.key, checks)
    else:
        passed = run_ansible(str(args.inventory), args.known_hosts, args.key, checks, args.forks)
    print(
        f"{args.tool}: {len(hosts)} hosts x {len(checks)} checks in {time.perf_counter() - start:.2f} s"
    )
    print(f"{passed} passed")
    return 0 if passed == len(hosts) * len(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
