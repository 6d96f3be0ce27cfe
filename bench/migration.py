"""Migration benchmark (issue 13): one testinfra suite, one command line, two plugins.

A plain testinfra suite (``def test_x(host)``, module-scoped fixtures using ``host``, three
modules) runs against ``--hosts`` real sshd targets with testinfra's own command line::

    pytest --hosts=paramiko://fptest@127.0.0.1:P1,... --ssh-identity-file=KEY [-n 2]

once under pytest-testinfra 10.2.2's own plugin (``-p testinfra -p no:fabricplus``) and once
under ours (the same arguments; the targets' host keys are in ``~/.ssh/known_hosts`` of a
HOME made for the run, which ours verifies and testinfra's paramiko backend does not read).
Rounds are interleaved; medians of wall time, and logins per host from the sshd logs.
Every run must give the same outcome counts (the suite has failures on purpose).

Needs root (starts sshd, uses the system user ``fptest``)::

    .venv/bin/python bench/migration.py                 # 4 hosts, 3 rounds, ~1-2 min
    .venv/bin/python bench/migration.py --hosts 8 --reps 5
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # run as ``python bench/NAME.py`` (bench/README.md): the repo root's
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench, testing packages
from bench.targets import (
    LOGIN_USER,
    Targets,
    as_text,
    clean_env,
    python,
    settle,
    source_state,
    stop_on_sigterm,
    write_pytest_ini,
)

MODULE = """
import pytest

@pytest.fixture(scope="module")
def passwd(host):
    return host.file("/etc/passwd")

def test_passwd(passwd):
    assert passwd.exists and passwd.user == "root" and passwd.mode == 0o644

def test_login_user(host):
    assert host.user().name == "fptest" and host.user("root").uid == 0

def test_group(host):
    assert host.group("root").gid == 0

def test_dirs(host):
    assert host.file("/etc").is_directory and host.file("/tmp").is_directory

def test_command(host):
    assert host.run("uname -s").stdout.strip() == "Linux"
    assert host.check_output("echo {n}") == "{n}"

def test_exists(host):
    assert host.exists("sh")

def test_fails_on_purpose(host):
    assert host.file("/nonexistent/{n}").exists
"""
MODULES = 3
TESTS_PER_MODULE = 7  # one of them fails
_COUNTS = re.compile(r"(\d+) (passed|failed|error|errors|skipped)")


def outcome(stdout: str) -> dict[str, int]:
    last = [line for line in stdout.splitlines() if " in " in line and "passed" in line]
    found = _COUNTS.findall(last[-1]) if last else []
    return {kind.rstrip("s"): int(n) for n, kind in found}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0, help="per pytest run")
    args = parser.parse_args(argv)
    stop_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="fp-migration-") as tmp:
        work = Path(tmp)
        targets = Targets(work / "targets", args.hosts).start()
        try:
            return _run(work, targets, args)
        finally:
            targets.cleanup()


def _run(work: Path, targets: Targets, args: argparse.Namespace) -> int:
    assert targets.user is not None
    suite = work / "suite"
    suite.mkdir()
    for n in range(MODULES):
        (suite / f"test_migrate_{n}.py").write_text(MODULE.replace("{n}", str(n)))
    ini = write_pytest_ini(suite)
    home = work / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    targets.known_hosts(home / ".ssh" / "known_hosts")
    env = clean_env({"HOME": str(home)})
    hosts = ",".join(f"paramiko://{LOGIN_USER}@{h}:{p}" for h, p in targets.endpoints)
    common = [
        python(), "-m", "pytest", "-q", "-c", str(ini), "--rootdir", str(suite),
        "-p", "no:hypothesispytest",
        f"--hosts={hosts}", f"--ssh-identity-file={targets.user.key_path}",
    ]  # fmt: skip
    variants = {
        "testinfra 10.2.2": ["-p", "testinfra", "-p", "no:fabricplus", "-p", "no:xdist"],
        # testinfra's command line, unchanged: the drop-in makes its spellings ours
        "fabricplus": ["-p", "pytest_fabricplus.testinfra_dropin", "-p", "no:xdist"],
        "testinfra 10.2.2, -n 2": ["-p", "testinfra", "-p", "no:fabricplus", "-n", "2"],
        "fabricplus, -n 2": ["-n", "2"],
    }
    expected = {
        "passed": args.hosts * MODULES * (TESTS_PER_MODULE - 1),
        "failed": args.hosts * MODULES,
    }
    walls: dict[str, list[float]] = {name: [] for name in variants}
    logins: dict[str, list[int]] = {name: [] for name in variants}
    for extra in variants.values():  # warm-up: bytecode and assertion-rewrite caches
        subprocess.run([*common, *extra], env=env, cwd=suite, capture_output=True, check=False)
    for _round in range(args.reps):
        for name, extra in variants.items():
            before = targets.connection_counts()
            started = time.perf_counter()
            done = subprocess.run(
                [*common, *extra],
                env=env,
                cwd=suite,
                capture_output=True,
                timeout=args.timeout,
                check=False,
            )
            walls[name].append(time.perf_counter() - started)
            settle()
            after = targets.connection_counts()
            logins[name].append(max(after[p] - before[p] for _, p in targets.endpoints))
            got = outcome(as_text(done.stdout))
            if got != expected:
                print(f"{name}: outcome {got}, expected {expected}", file=sys.stderr)
                print(as_text(done.stdout)[-3000:], file=sys.stderr)
                return 1
    print(f"migration benchmark: {args.hosts} sshd hosts, {MODULES} modules x "
          f"{TESTS_PER_MODULE} tests (one failing each), {args.reps} rounds; {source_state()}")  # fmt: skip
    base = {
        "": statistics.median(walls["testinfra 10.2.2"]),
        "-n 2": statistics.median(walls["testinfra 10.2.2, -n 2"]),
    }
    print(f"{'variant':<26}{'wall s (median)':>16}{'vs testinfra':>14}{'max logins/host':>17}")
    for name in variants:
        wall = statistics.median(walls[name])
        ratio = base["-n 2" if "-n 2" in name else ""] / wall
        print(f"{name:<26}{wall:>16.2f}{ratio:>13.2f}x{max(logins[name]):>17}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
