"""Per-command cost of running as another user: plain vs su vs sudo, on a container target.

Moved out of the test suite (it was a latency median with a `< 2 s` bound inside
tests/integration/test_privilege_matrix.py). Starts the ``ubuntu`` container target of
``containers/`` (needs a Docker daemon; see containers/README.md), opens one connection as
``fpuser`` and times ``id -un`` ``--rounds`` times each: plain, ``as_user("fpsu",
method="su")`` and ``method="sudo"``. Prints medians and the ratio to the plain command
measured in the same run; removes the container at the end (also on Ctrl-C).

    .venv/bin/python bench/privilege_latency.py            # --rounds 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

if not __package__:  # run as ``python bench/NAME.py`` (bench/README.md): the repo root's
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench, testing packages
from bench.targets import source_state, stop_on_sigterm
from pytest_fabricplus import Connector, Settings
from pytest_fabricplus.integrations.docker import DockerTargets, DockerTargetsConfig
from pytest_fabricplus.plugin.docker import host_spec, password_env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    stop_on_sigterm()
    print(source_state())
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    with DockerTargets(DockerTargetsConfig()) as docker:
        target = docker.start(["ubuntu"])["ubuntu"]
        env = {password_env(user): target.password(user) for user in target.users}
        settings = Settings(known_hosts=str(docker.known_hosts_path))
        conn = Connector(settings, env=env).open(host_spec(target))
        try:

            def once(method: str | None) -> float:
                started = time.perf_counter()
                if method is None:
                    conn.run("id -un", hide=True)
                else:
                    with conn.as_user("fpsu", method=method):
                        conn.run("id -un", hide=True)
                return time.perf_counter() - started

            for method in (None, "su", "sudo"):  # warm-up: auto probes, sudo's first lecture
                once(method)
            samples: dict[str | None, list[float]] = {None: [], "su": [], "sudo": []}
            for _ in range(args.rounds):  # interleaved: a load change hits every variant
                for method, times in samples.items():
                    times.append(once(method))
        finally:
            conn.close()
    plain = statistics.median(samples[None])
    print(f"median of {args.rounds}, one 'id -un' on an open connection:")
    for method, times in samples.items():
        median = statistics.median(times)
        print(f"  {method or 'plain':<6} {median * 1000:7.1f} ms  {median / plain:5.2f}x plain")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
