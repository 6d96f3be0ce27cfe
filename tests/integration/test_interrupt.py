"""Interrupting a run (SIGINT, SIGTERM) at each phase: pytest exits within a bound and no
command of the run is left running on the targets.

Each case runs pytest in a subprocess (a session of its own, as a terminal job would be)
against real sshd processes on this machine, waits for the phase (the remote command found
by ``pgrep -f`` over a unique marker, or the blackholed host's TCP connection accepted),
sends the signal, and then checks, on the target (here: this machine), that no process with
the marker survives. The bound, :data:`EXIT_BOUND`, is generous on purpose (the documented
one is 5 s); a blackholed host's connect timeout is 30 s, far beyond it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pytest_fabricplus import ConnectionRegistry, Connector, RunInterrupted, Settings, resolve_hosts
from testing.targets import DROPIN_ADDOPTS, Target

#: how long pytest may take to exit after the signal (s); generous: the documented bound is 5 s
EXIT_BOUND = 15.0
#: how long a phase may take to be reached (pytest's start, imports, the handshakes)
PHASE_BOUND = 60.0


def remote_command(marker: str) -> str:
    """A command whose shell carries ``marker`` in its argv (``pgrep -f`` finds it) and
    whose ``sleep`` is a child in the same process group."""
    return f"sh -c 'sleep 300; echo done' {marker}"


def marked(marker: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


def assert_nothing_left(marker: str, context: str = "") -> None:
    for _ in range(50):  # the kill is asynchronous on the target: poll, bounded
        left = marked(marker)
        if not left:
            return
        time.sleep(0.1)
    pytest.fail(f"still running on the target: {left} ({marker})\n{context}")


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    log: Path
    marker: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_commands(self, count: int) -> None:
        deadline = time.monotonic() + PHASE_BOUND
        while len(marked(self.marker)) < count:
            if self.process.poll() is not None:
                pytest.fail(f"pytest ended before its commands ran:\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{count} commands not running after {PHASE_BOUND}s:\n{self.output()}")
            time.sleep(0.1)

    def interrupt(self, sig: int, group: bool = False) -> float:
        """Send ``sig`` (to pytest alone, or to its process group as a terminal's Ctrl-C
        does) and return how long pytest took to exit."""
        start = time.monotonic()
        if group:
            os.killpg(self.process.pid, sig)
        else:
            self.process.send_signal(sig)
        try:
            self.process.wait(EXIT_BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"pytest still running {EXIT_BOUND}s after the signal:\n{self.output()}")
        # pytest's own report of the interruption: it ran its teardown, it did not just die
        assert "KeyboardInterrupt" in self.output(), self.output()
        return time.monotonic() - start

    def assert_nothing_left(self) -> None:
        assert_nothing_left(self.marker, self.output())

    def stop(self) -> None:
        if self.process.poll() is None:
            with_group(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for pid in marked(self.marker):  # never leave a failed case's commands behind
            with_pid(pid, signal.SIGKILL)


def with_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def with_pid(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[object]:
    runs: list[Run] = []

    def start(source: str, *args: str) -> Run:
        marker = f"MARKER-{uuid.uuid4().hex}"
        test_file = tmp_path / "test_interrupted.py"
        test_file.write_text(source.replace("@MARKER@", marker))
        log = tmp_path / f"pytest-{len(runs)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "pytest", str(test_file), "-p", "no:cacheprovider", *args],
                cwd=tmp_path,
                # testinfra's spellings (--hosts) are ours with the drop-in (dev extra installs
                # pytest-testinfra), as in every inner run of the suite
                env={**os.environ, "PYTEST_ADDOPTS": DROPIN_ADDOPTS},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a terminal job
            )
        run = Run(process, log, marker)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.stop()


COMMAND_TEST = f"""
def test_sleeps(connection):
    connection.run({remote_command("@MARKER@")!r})
"""

INVOKE_RUNNER_TEST = f"""
def test_sleeps(connection):
    connection.run({remote_command("@MARKER@")!r}, env={{"FP_VIA": "invoke"}})
"""

POOL_TEST = f"""
def test_pool(host_pool):
    host_pool.run({remote_command("@MARKER@")!r})
"""


def two_hosts(sshd: Target, sshd2: Target, both: Path) -> list[str]:
    return sshd.args(hosts=f"{sshd.address},{sshd2.address}", known_hosts=both)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("shell", ["exec", "persistent"])
def test_running_command(start: object, sshd: Target, sig: int, shell: str) -> None:
    run = start(COMMAND_TEST, *sshd.args(f"--remote-shell={shell}"))  # type: ignore[operator]
    run.wait_for_commands(1)
    run.interrupt(sig)
    run.assert_nothing_left()
    assert run.process.returncode != 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_running_command_invoke_runner(start: object, sshd: Target, sig: int) -> None:
    """A keyword the direct path does not serve (``env``): invoke's runner waits."""
    run = start(INVOKE_RUNNER_TEST, *sshd.args())  # type: ignore[operator]
    run.wait_for_commands(1)
    run.interrupt(sig)
    run.assert_nothing_left()


@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGINT, True), (signal.SIGINT, False), (signal.SIGTERM, False)],
    ids=["Ctrl-C", "SIGINT-controller", "SIGTERM-controller"],
)
def test_running_commands_under_xdist(
    start: object, sshd: Target, sshd2: Target, both_known_hosts: Path, sig: int, group: bool
) -> None:
    run = start(COMMAND_TEST, *two_hosts(sshd, sshd2, both_known_hosts), "-n", "2")  # type: ignore[operator]
    run.wait_for_commands(2)
    run.interrupt(sig, group=group)
    run.assert_nothing_left()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("shell", ["exec", "persistent"])
@pytest.mark.parametrize(
    ("source", "mode"),
    [(POOL_TEST, []), (COMMAND_TEST, ["--fleet"])],
    ids=["host_pool", "fleet-mode"],
)
def test_two_hosts_at_once(
    start: object,
    sshd: Target,
    sshd2: Target,
    both_known_hosts: Path,
    sig: int,
    shell: str,
    source: str,
    mode: list[str],
) -> None:
    """Both hosts' commands run at once: ``host_pool.run``'s fan-out, or fleet mode's
    cooperative bodies (each parked in pytest's main thread); the interrupt kills each."""
    args = [*two_hosts(sshd, sshd2, both_known_hosts), *mode, f"--remote-shell={shell}"]
    run = start(source, *args)  # type: ignore[operator]
    run.wait_for_commands(2)
    run.interrupt(sig)
    run.assert_nothing_left()


@pytest.fixture
def blackhole() -> Iterator[socket.socket]:
    """A port that accepts TCP connections and never says a word of SSH."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)
    hole.settimeout(PHASE_BOUND)
    yield hole
    hole.close()


@pytest.mark.parametrize(
    ("sig", "workers"),
    [(signal.SIGINT, "0"), (signal.SIGTERM, "0"), (signal.SIGINT, "2"), (signal.SIGTERM, "2")],
    ids=["SIGINT", "SIGTERM", "SIGINT-n2", "SIGTERM-n2"],
)
def test_preflight_with_a_blackholed_host(
    start: object, sshd: Target, blackhole: socket.socket, sig: int, workers: str
) -> None:
    port = blackhole.getsockname()[1]
    hosts = f"{sshd.address},fptest@127.0.0.1:{port}"
    run = start(  # type: ignore[operator]
        COMMAND_TEST,
        *sshd.args("--connect-timeout=30", "-n", workers, hosts=hosts),
    )
    accepted, _ = blackhole.accept()  # pre-flight is waiting for this host's SSH banner
    try:
        took = run.interrupt(sig)
    finally:
        accepted.close()
    assert took < EXIT_BOUND  # not the 30 s connect timeout
    run.assert_nothing_left()


# -- the core without the plugin: what the signal handler's stop does ---------------------


def core_settings(target: Target, **kw: object) -> Settings:
    return Settings(
        known_hosts=str(target.known_hosts),
        ssh_identity_file=str(target.user.key_path),
        **kw,  # type: ignore[arg-type]
    )


def test_abort_ends_a_blackholed_handshake_at_once(sshd: Target, blackhole: socket.socket) -> None:
    port = blackhole.getsockname()[1]
    (spec,) = resolve_hosts(f"fptest@127.0.0.1:{port}")
    connector = Connector(core_settings(sshd, connect_timeout=30.0))
    raised: list[BaseException] = []

    def connect() -> None:
        try:
            connector.open(spec)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=connect)
    thread.start()
    accepted, _ = blackhole.accept()  # the handshake waits for the banner now
    try:
        connector.abort()
        thread.join(EXIT_BOUND)
    finally:
        accepted.close()
    assert not thread.is_alive(), "the handshake still waits for its 30 s connect timeout"
    assert len(raised) == 1, raised
    assert isinstance(raised[0], RunInterrupted), raised
    with pytest.raises(RunInterrupted):  # and no new one starts
        connector.open(spec)


@pytest.mark.parametrize("shell", ["exec", "persistent"])
def test_registry_interrupt_kills_commands_other_threads_run(sshd: Target, shell: str) -> None:
    marker = f"MARKER-{uuid.uuid4().hex}"
    (spec,) = resolve_hosts(sshd.address)
    registry = ConnectionRegistry(Connector(core_settings(sshd, remote_shell=shell)))
    conn = registry.get(spec)
    raised: list[BaseException] = []

    def run() -> None:
        try:
            conn.run(remote_command(marker), hide=True)
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + PHASE_BOUND
        while not marked(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marked(marker)
        registry.interrupt()
        thread.join(EXIT_BOUND)
        assert not thread.is_alive()
        assert len(raised) == 1, raised
        assert_nothing_left(marker)
        with pytest.raises(RunInterrupted):  # no new command, no reconnection
            conn.run("true", hide=True)
        with pytest.raises(RunInterrupted):
            registry.get(spec)
    finally:
        registry.close_all()
        for pid in marked(marker):
            with_pid(pid, signal.SIGKILL)


# -- Docker targets: interrupted while the containers start ------------------------------


@pytest.mark.docker
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_docker_start_up(start: object, require_docker: None, sig: int) -> None:
    import docker

    from pytest_fabricplus.integrations.docker.targets import LABEL_OWNER_PID

    client = docker.from_env(timeout=30)
    run = start(COMMAND_TEST, "--docker-targets=ubuntu")  # type: ignore[operator]
    owned = {"label": f"{LABEL_OWNER_PID}={run.process.pid}"}
    try:
        deadline = time.monotonic() + PHASE_BOUND * 3  # an image build on a first run
        while not client.containers.list(ignore_removed=True, all=True, filters=owned):
            if run.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no container started:\n{run.output()}")
            time.sleep(0.05)
        run.interrupt(sig)  # while the container starts (sshd, host keys) or just after
        left = client.containers.list(ignore_removed=True, all=True, filters=owned)
        assert left == [], run.output()
    finally:
        for container in client.containers.list(ignore_removed=True, all=True, filters=owned):
            container.remove(force=True)
        client.close()
