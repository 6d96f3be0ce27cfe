"""Time each fault scenario end to end: how long until the user sees the error, and which.

Starts a real sshd on 127.0.0.1 (testing/sshd.py, needs root) and drives the core
(Connector, ConnectionRegistry, PrivilegeRunner) as the plugin does. Prints one row per
scenario: seconds, the exception type and the first line of its message.

Usage: python bench/faults.py [--connect-timeout 2] [--command-timeout 1]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if not __package__:  # run as ``python bench/NAME.py`` (bench/README.md): the repo root's
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench, testing packages
from pytest_fabricplus import Connector, HostSpec, Settings
from pytest_fabricplus.runas import RunAs
from testing.sshd import LOGIN_USER, OTHER_USER, SshdServer, ensure_user, free_port


def timed(name: str, fn: Callable[[], object]) -> tuple[str, float, str]:
    start = time.monotonic()
    try:
        value = fn()
        outcome = f"ok: {getattr(value, 'stdout', value)!r}"
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {str(exc).splitlines()[0][:110]}"
    return name, time.monotonic() - start, outcome


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connect-timeout", type=float, default=2.0)
    parser.add_argument("--command-timeout", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        user = ensure_user(LOGIN_USER, work / "keys")
        other = ensure_user(OTHER_USER, work / "keys")
        server = SshdServer(work / "sshd", [user, other]).start()
        known = work / "known_hosts"
        known.write_text(server.known_hosts_line + "\n")
        wrong_known = work / "wrong_known_hosts"
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / "k2")], check=True
        )
        fake = (work / "k2.pub").read_text().split()
        wrong_known.write_text(f"[127.0.0.1]:{server.port} {fake[0]} {fake[1]}\n")
        hole = socket.socket()
        hole.bind(("127.0.0.1", 0))
        hole.listen(8)
        env = {**os.environ, "PW": user.password, "BAD": "definitely-wrong", "SU": other.password}

        def settings(**kw: object) -> Settings:
            base: dict[str, object] = {
                "known_hosts": str(known),
                "ssh_identity_file": str(user.key_path),
                "connect_timeout": args.connect_timeout,
                "command_timeout": args.command_timeout,
            }
            base.update(kw)
            return Settings(**base)  # type: ignore[arg-type]

        def spec(port: int, host: str = "127.0.0.1") -> HostSpec:
            return HostSpec(host, port, LOGIN_USER, id="target")

        def open_with(s: Settings, h: HostSpec) -> Callable[[], object]:
            return lambda: Connector(s, env).open(h)

        good = Connector(settings(), env).open(spec(server.port))

        def su_as(password_var: str, method: str) -> Callable[[], object]:
            def run() -> object:
                run_as = RunAs(OTHER_USER, method, su_password=env[password_var])
                with good.as_user(OTHER_USER, method=method):
                    good.set_run_as(run_as)
                    return good.run("id -un", hide=True)

            return run

        rows = [
            timed("port refused", open_with(settings(), spec(free_port()))),
            timed(
                "blackhole (TCP accepted, no SSH)",
                open_with(settings(), spec(hole.getsockname()[1])),
            ),
            timed("name does not resolve", open_with(settings(), spec(22, "no-such-host.invalid"))),
            timed(
                "wrong password, no key",
                open_with(
                    settings(ssh_identity_file=None, ssh_password_env="BAD"), spec(server.port)
                ),
            ),
            timed(
                "unknown host key (reject)",
                open_with(settings(known_hosts=None), spec(server.port)),
            ),
            timed(
                "changed host key",
                open_with(settings(known_hosts=str(wrong_known)), spec(server.port)),
            ),
            timed("command hangs (sleep 600)", lambda: good.run("sleep 600", hide=True, timeout=1)),
            timed("next command on same connection", lambda: good.run("echo fine", hide=True)),
            timed("su, wrong password", su_as("BAD", "su")),
            timed("su, right password", su_as("SU", "su")),
        ]
        good.close()
        hole.close()
        server.cleanup()
    print(f"{'scenario':<36} {'seconds':>8}  outcome")
    for name, seconds, outcome in rows:
        print(f"{name:<36} {seconds:>8.2f}  {outcome}")
    print(f"\nconnect timeout {args.connect_timeout:g}s, command timeout {args.command_timeout:g}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
