"""``ssh/shell.py``'s RemoteShell against real OpenSSH: a local sshd (``sh`` = dash, which
takes the ``setsid`` path, and ``bash``, which takes the ``set -m`` path) and the ubuntu and
centos7 container targets. Each semantic of the module docstring has a test that fails
without it; exec channels are the ground truth where bytes are compared.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pytest_fabricplus import CommandTimeout, Connector, HostSpec, Settings, resolve_hosts
from pytest_fabricplus.fleet.capture import ThreadCapture
from pytest_fabricplus.ssh.connection import FabricPlusConnection
from pytest_fabricplus.ssh.cooperative import Hub
from pytest_fabricplus.ssh.shell import RemoteShell, ShellLost, ShellResult, ShellUnavailable
from testing.hubs import run_hub
from testing.need import NEED_SSHD, need
from testing.sshd import SshdServer, User, ensure_user
from testing.targets import Target

#: (where, shell program): sh (dash here: the setsid path) and bash (the set -m path) on each
CASES = [(w, s) for w in ("local", "ubuntu", "centos7") for s in ("sh", "bash")]


def _open(request: pytest.FixtureRequest, where: str) -> FabricPlusConnection:
    """A connection of this test's own (tests here kill shells and transports)."""
    if where == "local":
        sshd: Target = request.getfixturevalue("sshd")
        (spec,) = resolve_hosts(sshd.address)
        settings = Settings(
            known_hosts=str(sshd.known_hosts), ssh_identity_file=str(sshd.user.key_path)
        )
        return Connector(settings).open(spec)
    targets = request.getfixturevalue("privilege_targets")
    spec: HostSpec = targets.spec(where)
    return targets.connector().open(spec)


def exec_bytes(conn: FabricPlusConnection, command: str) -> tuple[bytes, bytes, int]:
    """Ground truth: ``command`` on an exec channel of its own, as bytes."""
    transport = conn.transport
    assert transport is not None
    channel = transport.open_session()
    try:
        channel.exec_command(command)
        out = channel.makefile("rb").read()
        err = channel.makefile_stderr("rb").read()
        return out, err, channel.recv_exit_status()
    finally:
        channel.close()


@pytest.fixture(params=CASES, ids=[f"{w}-{s}" for w, s in CASES])
def case(request: pytest.FixtureRequest) -> Iterator[tuple[FabricPlusConnection, RemoteShell]]:
    where, program = request.param
    conn = _open(request, where)
    try:
        assert conn.transport is not None
        yield conn, RemoteShell(conn.transport, conn.spec.describe(), shell=program)
    finally:
        conn.close()


def test_lazy_start_and_probe(case: tuple[FabricPlusConnection, RemoteShell]) -> None:
    conn, shell = case
    assert not shell.alive
    assert shell.starts == 0
    result = shell.run("echo out; echo err >&2; exit 3", timeout=10)
    assert (result.stdout, result.stderr, result.exited) == (b"out\n", b"err\n", 3)
    assert shell.alive
    assert shell.starts == 1
    assert shell.pid
    assert shell.run("echo again", timeout=10).stdout == b"again\n"
    assert shell.starts == 1  # one shell for both commands
    expected = "set -m" if shell.shell == "bash" else None
    sh = shell.run("readlink -f /bin/sh", timeout=10).stdout.strip().decode()
    print(f"{conn.spec.describe()}: sh is {sh}, process groups by {shell.process_groups}")
    if sh.endswith("bash") or expected:
        assert shell.process_groups == "set -m"
    elif sh.endswith("dash"):
        assert shell.process_groups == "setsid"
    shell.close()
    assert not shell.alive
    assert shell.run("echo reopened", timeout=10).stdout == b"reopened\n"
    assert shell.starts == 2


def test_state_does_not_leak(case: tuple[FabricPlusConnection, RemoteShell]) -> None:
    _conn, shell = case
    before = shell.run('pwd; umask; echo "[$FPX][$fpv]"; trap', timeout=10)
    leaky = "cd /tmp && export FPX=1 && fpv=2 && umask 077 && trap 'echo T' EXIT && exit 7"
    assert shell.run(leaky, timeout=10).exited == 7
    assert shell.run("set -e; false; echo unreachable", timeout=10).exited == 1
    after = shell.run('pwd; umask; echo "[$FPX][$fpv]"; trap', timeout=10)
    assert after == before
    assert b"[][]" in after.stdout
    assert b"/tmp" not in after.stdout
    assert shell.starts == 1  # exit ended the command, not the shell


def test_stdin_is_dev_null(case: tuple[FabricPlusConnection, RemoteShell]) -> None:
    _conn, shell = case
    # cat would otherwise read the control stream (the next command) or hang
    assert shell.run("cat; echo done", timeout=10).stdout == b"done\n"
    assert shell.run("readlink /proc/self/fd/0", timeout=10).stdout == b"/dev/null\n"
    assert shell.run("read line; echo $?", timeout=10).stdout == b"1\n"


def test_output_is_exact_and_binary_safe(case: tuple[FabricPlusConnection, RemoteShell]) -> None:
    conn, shell = case
    assert shell.run("printf abc", timeout=10).stdout == b"abc"  # no trailing newline
    assert shell.run("printf 'a\\000b' >&2", timeout=10).stderr == b"a\x00b"
    assert shell.run("printf ''", timeout=10).stdout == b""
    # marker-shaped text of the command's own passes through (another nonce)
    fake = "0123456789abcdef0123456789abcdef E 0"
    assert shell.run(f"echo '{fake}'; echo '{fake}' >&2", timeout=10).stdout == f"{fake}\n".encode()
    # 3 MB of random bytes (every byte value, NULs) on both streams at once
    path = f"/tmp/fpsh-{time.monotonic_ns()}"
    made = exec_bytes(conn, f"head -c 3000000 /dev/urandom > {path}; printf x")
    assert made[2] == 0
    try:
        truth, _, _ = exec_bytes(conn, f"cat {path}")
        assert len(truth) == 3000000
        chunks: list[bytes] = []
        result = shell.run(
            f"cat {path} & cat {path} >&2; wait", timeout=60, on_stdout=chunks.append
        )
        assert result.exited == 0
        assert hashlib.sha256(result.stdout).digest() == hashlib.sha256(truth).digest()
        assert hashlib.sha256(result.stderr).digest() == hashlib.sha256(truth).digest()
        assert b"".join(chunks) == truth  # the callback saw exactly the same bytes
    finally:
        exec_bytes(conn, f"rm -f {path}")
    assert shell.run("echo next", timeout=10).stdout == b"next\n"


@pytest.mark.parametrize(
    ("command", "exited"),
    [
        ("true", 0),
        ("false", 1),
        ("exit 2", 2),
        ("exit 42", 42),
        ("exit 255", 255),
        ("fp-no-such-command-x", 127),
        ("sh -c 'kill -KILL $$'", 128 + 9),
        ("sh -c 'kill -TERM $$'", 128 + 15),
    ],
)
def test_exit_codes(
    case: tuple[FabricPlusConnection, RemoteShell], command: str, exited: int
) -> None:
    _conn, shell = case
    assert shell.run(command, timeout=10).exited == exited
    assert shell.run("echo ok", timeout=10).exited == 0


def test_syntax_error_is_the_commands_not_the_shells(
    case: tuple[FabricPlusConnection, RemoteShell],
) -> None:
    _conn, shell = case
    result = shell.run("if then fi )", timeout=10)
    assert result.exited == 2
    assert result.stderr
    assert shell.run("echo ok", timeout=10).stdout == b"ok\n"
    assert shell.starts == 1


def gone_within(pattern: str, tries: int = 50) -> str:
    """A remote command printing the pids still matching ``pattern`` after at most ``tries``
    checks 0.1 s apart (nothing once they are gone): killed processes end a moment after
    the signal on a loaded target."""
    probe = f"pgrep -f '{pattern}'"
    return (
        f"for i in $(seq {tries}); do {probe} >/dev/null || exit 0; sleep 0.1; done; "
        f"{probe} || true"
    )


def test_timeout_kills_only_that_command(case: tuple[FabricPlusConnection, RemoteShell]) -> None:
    conn, shell = case
    shell.run("true", timeout=10)
    pid = shell.pid
    # killed, not waited out (the kill is an exec channel): waited out, the run would return
    # after 418 s without an error
    with pytest.raises(CommandTimeout, match=r"sleep 417 .* within 0.5s") as info:
        shell.run("sh -c 'sleep 417 & sleep 418; wait'", timeout=0.5)
    assert info.value.host == conn.spec.describe()
    # the command and its children are gone (zombies have no cmdline: pgrep -f skips them);
    # SIGKILL is delivered at once but a loaded target may take a moment to end them
    left = exec_bytes(conn, gone_within("slee[p] 41[78]"))[0]
    assert left == b""
    assert shell.run("echo still usable", timeout=10).stdout == b"still usable\n"
    assert (shell.pid, shell.starts) == (pid, 1)  # the same shell


def test_a_stopped_command_is_waited_for(case: tuple[FabricPlusConnection, RemoteShell]) -> None:
    """bash's wait returns when a job merely stops (job control): we wait on, as exec does."""
    conn, shell = case
    with pytest.raises(CommandTimeout):
        shell.run("kill -STOP 0; echo after; sleep 419", timeout=1.5)
    assert exec_bytes(conn, gone_within("slee[p] 419"))[0] == b""
    assert shell.run("echo next", timeout=10).stdout == b"next\n"


def test_a_dead_shell_is_shelllost_then_replaced(
    case: tuple[FabricPlusConnection, RemoteShell],
) -> None:
    _conn, shell = case
    shell.run("true", timeout=10)
    # noticed, not waited out: the command outlives its timeout, so a shell death noticed
    # only when the command ends would be a CommandTimeout
    with pytest.raises(ShellLost, match="lost while running 'kill -9"):
        shell.run(f"kill -9 {shell.pid}; sleep 40", timeout=20)
    assert not shell.alive
    assert shell.run("echo new shell", timeout=10).stdout == b"new shell\n"
    assert shell.starts == 2


def test_a_closed_channel_is_shelllost(case: tuple[FabricPlusConnection, RemoteShell]) -> None:
    _conn, shell = case
    shell.run("true", timeout=10)
    channel: Any = shell._channel
    timer = threading.Timer(0.3, channel.close)
    timer.start()
    try:
        with pytest.raises(ShellLost):
            shell.run("sleep 5", timeout=20)
    finally:
        timer.cancel()
        # its close may still be sending (a loaded machine): it must not outlive the test,
        # whose connection closes next (else an EOFError in the timer's thread)
        timer.join(10)
    assert shell.run("echo new shell", timeout=10).stdout == b"new shell\n"


@pytest.mark.parametrize("when", ["idle", "running"])
def test_a_dead_transport_is_shelllost(
    case: tuple[FabricPlusConnection, RemoteShell], when: str
) -> None:
    conn, shell = case
    shell.run("true", timeout=10)
    transport: Any = conn.transport
    if when == "idle":
        transport.close()
        with pytest.raises(ShellLost, match="echo x"):
            shell.run("echo x", timeout=10)
    else:
        timer = threading.Timer(0.3, transport.close)
        timer.start()
        try:
            # noticed, not waited out: the command outlives its timeout (else CommandTimeout)
            with pytest.raises(ShellLost, match="sleep 40"):
                shell.run("sleep 40", timeout=20)
        finally:
            timer.cancel()
            timer.join(10)
    with pytest.raises(ShellLost):  # and again: no new shell on a dead transport
        shell.run("echo y", timeout=10)


def test_one_command_at_a_time(case: tuple[FabricPlusConnection, RemoteShell]) -> None:
    _conn, shell = case
    lock = f"/tmp/fpsh-lock-{time.monotonic_ns()}"
    command = f"mkdir {lock} || echo overlap; sleep 0.1; rmdir {lock}; echo done"
    results: list[bytes] = []

    def worker() -> None:
        for _ in range(3):
            results.append(shell.run(command, timeout=20).stdout)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [b"done\n"] * 9


@pytest.mark.parametrize("where", ["local", "ubuntu", "centos7"])
def test_auto_runs_the_login_shell_when_it_is_bash(
    request: pytest.FixtureRequest, where: str
) -> None:
    """The default (``auto``): bash, as exec's ``$SHELL -c`` would be, for a bash login."""
    conn = _open(request, where)
    try:
        assert conn.transport is not None
        login = conn.run("echo $SHELL", hide=True).stdout.strip()
        assert login.endswith("/bash")  # the test users' login shell
        shell = RemoteShell(conn.transport, conn.spec.describe())
        result = shell.run('[[ -n "$BASH_VERSION" ]] && echo bash; echo ${0##*/}', timeout=10)
        assert result.stdout == b"bash\nbash\n"
        assert (shell.program, shell.process_groups) == ("bash", "set -m")
        # the rest works on the shell it switched to
        assert shell.run("echo $((6*7))", timeout=10).stdout == b"42\n"
        assert shell.starts == 1
    finally:
        conn.close()


@pytest.mark.parametrize("where", ["local", "ubuntu", "centos7"])
def test_a_command_that_names_its_shell_gets_its_own(
    request: pytest.FixtureRequest, where: str
) -> None:
    """``$$``, ``$0``, ``$BASHPID``, ``$LINENO`` in a command: exec's answers (a shell of the
    command's own), not the persistent shell's; ``kill $$`` ends the command only."""
    conn = _open(request, where)
    try:
        assert conn.transport is not None
        shell = RemoteShell(conn.transport, conn.spec.describe())
        shell.run("true", timeout=10)  # the shell has read some lines: LINENO would show it
        for command in (
            'echo "$0 ${0##*/} $LINENO"',
            '[ "${BASHPID:-$$}" = "$$" ] && echo "BASHPID is the pid"',
            '[ "$(cut -d\' \' -f5 /proc/${$}/stat)" = "$$" ] && echo leads its group',
            "tr '\\0' ' ' < /proc/$$/cmdline | cut -d' ' -f1-2",
        ):
            assert shell.run(command, timeout=10).stdout == exec_bytes(conn, command)[0], command
        first, second = (int(shell.run("echo $$", timeout=10).stdout) for _ in range(2))
        assert len({first, second, shell.pid}) == 3  # each command's own, never the shell's
        killed = shell.run("kill -9 $$", timeout=10)
        assert killed.exited == 128 + 9
        assert shell.run("echo still here", timeout=10).stdout == b"still here\n"
        assert shell.starts == 1  # the persistent shell lived on
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("login", "runs_in"), [("/bin/dash", "dash"), ("/usr/bin/zsh", None)], ids=["dash", "zsh"]
)
def test_auto_runs_commands_where_exec_does(
    tmp_path: Path, ssh_users: tuple[User, User], login: str, runs_in: str | None
) -> None:
    """exec runs a command with the login shell's ``-c``. The default (``auto``) runs it in
    the login shell too when that is bash, sh, dash or ash (dash here); a host whose login
    shell is another one (zsh) is ShellUnavailable, and ``--remote-shell=persistent`` runs
    its commands over exec channels, in zsh, as ``ssh`` does."""
    if not Path(login).exists():
        need(NEED_SSHD, f"{login} is missing (apt-get install {Path(login).name})")
    user = ensure_user(f"fp{Path(login).name}", tmp_path / "keys", shell=login)
    server = SshdServer(tmp_path / "sshd", [user]).start()
    known = tmp_path / "known_hosts"
    known.write_text(server.known_hosts_line + "\n")
    spec = HostSpec(host=server.host, port=server.port, user=user.name)
    settings = {"known_hosts": str(known), "ssh_identity_file": str(user.key_path)}
    # which program runs the command, and is it zsh
    probe = 'readlink /proc/$$/exe; echo "[${ZSH_VERSION:+zsh}]"'
    try:
        conn = Connector(Settings(**settings)).open(spec)
        try:
            assert conn.transport is not None
            truth = exec_bytes(conn, probe)
            assert truth[2] == 0
            assert truth[0].endswith(b"[zsh]\n" if runs_in is None else b"[]\n")
            shell = RemoteShell(conn.transport, conn.spec.describe(), start_timeout=10)
            if runs_in is None:
                with pytest.raises(ShellUnavailable, match="its login shell is 'zsh'"):
                    shell.run(probe, timeout=10)
                assert not shell.alive
            else:
                result = shell.run(probe, timeout=10)
                assert (result.stdout, result.exited) == (truth[0], 0)
                assert shell.program == runs_in
        finally:
            conn.close()
        persistent = Connector(Settings(**settings, remote_shell="persistent")).open(spec)
        try:  # the plugin's connection: exec's answer, on the shell or over exec
            for _ in range(2):
                assert persistent.run(probe, hide=True).stdout.encode() == truth[0]
            assert (persistent._shell is not None) == (runs_in is not None)
        finally:
            persistent.close()
    finally:
        server.cleanup()


@pytest.mark.parametrize("program", ["fp-no-such-shell", "false", "cat"])
def test_no_posix_shell_is_shellunavailable(request: pytest.FixtureRequest, program: str) -> None:
    """``sh`` missing (not found), a shell that ends at once, one that does not answer."""
    conn = _open(request, "local")
    try:
        assert conn.transport is not None
        shell = RemoteShell(conn.transport, "local", shell=program, start_timeout=2)
        with pytest.raises(ShellUnavailable, match="no persistent POSIX shell on local"):
            shell.run("true", timeout=10)
        assert not shell.alive
        assert conn.run("echo exec still works", hide=True).stdout == "exec still works\n"
    finally:
        conn.close()


@pytest.mark.parametrize("program", ["sh", "bash"])
def test_past_1024_descriptors(request: pytest.FixtureRequest, program: str) -> None:
    """A process driving hundreds of hosts holds more than 1,024 descriptors: the shell's
    waits must not use ``select.select`` (``ValueError: filedescriptor out of range``), and
    waiting costs no descriptor (paramiko's ``Channel.fileno()`` makes a pipe per channel)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    spare = [os.pipe() for _ in range(550)]  # 1,100 descriptors
    conn = _open(request, "local")
    try:
        assert conn.transport is not None
        shell = RemoteShell(conn.transport, conn.spec.describe(), shell=program)
        before = len(os.listdir("/proc/self/fd"))
        assert shell.run("echo out; echo err >&2; exit 3", timeout=10) == ShellResult(
            b"out\n", b"err\n", 3
        )
        assert shell.run("sleep 1.2; echo late", timeout=10).stdout == b"late\n"
        assert len(os.listdir("/proc/self/fd")) == before
    finally:
        conn.close()
        for r, w in spare:
            os.close(r)
            os.close(w)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# -- in a cooperative fleet body (ssh/cooperative.py's Hub) ---------------------------------


def test_in_a_fleet_body_the_command_parks_its_body(
    case: tuple[FabricPlusConnection, RemoteShell], hub_executor: ThreadPoolExecutor, tmp_path: Any
) -> None:
    """Two bodies, each on a shell of its own, both in this thread: each command waits (on
    the host) until the other has started, so they pass only when the first body parks
    while its command runs; the output is read in this thread, not in a pool thread."""
    conn, first = case
    second = RemoteShell(first.transport, first.describe, shell=first.shell)
    for shell in (first, second):
        shell.start()
    log = f"/tmp/fpsh-hub-{os.getpid()}-{time.monotonic_ns()}"
    hub = Hub(lambda: hub_executor, ThreadCapture())
    results: dict[str, ShellResult] = {}
    readers: set[str] = set()

    def body(name: str, shell: RemoteShell) -> None:
        command = (
            f"echo {name} >> {log}; n=0; "
            f"while [ $(wc -l < {log}) -lt 2 ]; do n=$((n+1)); [ $n -gt 200 ] && exit 9; "
            f"sleep 0.05; done; echo {name} done"
        )
        results[name] = shell.run(
            command,
            timeout=30,
            on_stdout=lambda _data: readers.add(threading.current_thread().name),
            hub=hub,
        )

    try:
        hub.spawn(lambda: body("a", first))
        hub.spawn(lambda: body("b", second))
        assert hub.running == 2  # both parked: their commands run on the host
        run_hub(hub, limit=60.0)
    finally:
        exec_bytes(conn, f"rm -f {log}")
        second.close()
    assert {n: (r.stdout, r.exited) for n, r in results.items()} == {
        "a": (b"a done\n", 0),
        "b": (b"b done\n", 0),
    }
    assert readers == {threading.main_thread().name}
    assert (first.starts, second.starts) == (1, 1)


def test_an_abandoned_fleet_body_leaves_nothing_running(
    case: tuple[FabricPlusConnection, RemoteShell], hub_executor: ThreadPoolExecutor
) -> None:
    """The hub abandons a parked body at once (no round trip): the shell gets a TERM, whose
    trap kills the command's process group (OpenSSH >= 7.9 passes a "signal" request on);
    the run's interrupt (``interrupt()``) kills the group over exec as well."""
    conn, shell = case
    shell.start()
    hub = Hub(lambda: hub_executor, ThreadCapture())
    # a number of this case's own: cases may share a container
    seconds = f"422.{os.getpid()}{time.monotonic_ns() % 10**6}"

    def body() -> None:
        shell.run(f"sh -c 'sleep {seconds}; echo no'", timeout=60, hub=hub)

    hub.spawn(body)
    deadline = time.monotonic() + 20
    while shell._job is None or shell._job.pgid is None:  # the shell said it started it
        assert time.monotonic() < deadline
        hub.step(0.05)
    execs: list[str] = []  # what goes over an exec channel (a round trip each)
    exec_now = shell._exec

    def recorded(line: str, *args: Any, **kwargs: Any) -> int | None:
        execs.append(line)
        return exec_now(line, *args, **kwargs)

    shell._exec = recorded  # type: ignore[method-assign]
    hub.abandon()
    assert execs == []  # no round trip: the hub abandons every body in turn
    assert not hub.busy
    assert not shell.alive
    version = conn.transport.remote_version if conn.transport is not None else ""
    if "OpenSSH_7.4" not in version:  # the trap alone, before the run's interrupt
        assert exec_bytes(conn, gone_within(f"slee[p] {seconds}"))[0] == b""
    assert shell.busy  # until the run's interrupt has killed it over exec
    shell.interrupt()
    assert [line.split()[:2] for line in execs] == [["kill", "-9"]]
    assert not shell.busy
    assert exec_bytes(conn, gone_within(f"slee[p] {seconds}"))[0] == b""


def test_a_background_process_holding_the_output_is_waited_for(
    case: tuple[FabricPlusConnection, RemoteShell],
) -> None:
    """As exec: a process the command leaves running with its stdout or stderr open holds
    the command up, and what it writes is this command's output, not the next one's."""
    conn, shell = case
    command = "(sleep 1; echo late; echo err-late >&2) & echo now"
    assert shell.run(command, timeout=30) == ShellResult(*exec_bytes(conn, command))
    assert shell.run("echo next", timeout=10).stdout == b"next\n"
    # one that closed them does not hold it up (a timeout would say it did)
    quiet = "sleep 30 >/dev/null 2>&1 & echo quick"
    assert shell.run(quiet, timeout=5).stdout == b"quick\n"
    exec_bytes(conn, "pkill -f '^sleep 30$' || true")
