"""host_pool.run from one thread: every host's command in flight (or --max-connections),
each collected as it ends, the same outcome per host as the threaded map."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.sshd import free_port
from testing.targets import Target


def aliases(path: Path, target: Target, count: int, dead_port: int | None = None) -> Path:
    """``count`` inventory hosts on one sshd (one connection each), and maybe a dead one."""
    lines = [
        f"h{i} ansible_host=127.0.0.1 ansible_port={target.port} ansible_user=fptest"
        for i in range(1, count + 1)
    ]
    if dead_port is not None:
        lines.append(f"dead ansible_host=127.0.0.1 ansible_port={dead_port} ansible_user=fptest")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_run_gives_what_map_gives_without_pool_threads(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    pytester.makepyfile(
        """
        import threading

        from pytest_fabricplus.errors import HostUnreachable

        def pool_threads():
            return [t for t in threading.enumerate() if t.name.startswith("fabricplus-pool")]

        def outcome(o):
            if o.error is not None:
                return type(o.error).__name__
            return (o.ok, o.exited, o.stdout, o.stderr)

        # exit codes, both streams, non-ASCII, and more output than a channel's window
        # (2 MiB): collected while the other hosts' commands run
        COMMANDS = [
            "echo out; echo err >&2; exit 3",
            "printf 'caf\\\\303\\\\251 \\\\342\\\\234\\\\223'",
            "head -c 3000000 /dev/zero | tr '\\\\0' x; echo; echo done >&2",
            "true",
        ]

        def test_run_then_map(host_pool):
            fanned_all = [host_pool.run(command, timeout=60) for command in COMMANDS]
            assert not pool_threads(), "run() used the pool's threads"
            for command, fanned in zip(COMMANDS, fanned_all):
                mapped = host_pool.map(lambda c: c.run(command, warn=True, hide=True, timeout=60))
                assert pool_threads()  # map()'s (kept for the session)
                assert list(fanned) == list(mapped)
                assert sorted(fanned) == ["dead", "h1", "h2", "h3", "h4"]
                assert {h: outcome(o) for h, o in fanned.items()} == {
                    h: outcome(o) for h, o in mapped.items()
                }, command
                assert isinstance(fanned["dead"].error, HostUnreachable)
                assert fanned["h1"].value.command == command
            assert fanned_all[0]["h2"].stdout == "out\\n"
            assert fanned_all[0]["h2"].stderr == "err\\n"
            assert fanned_all[0]["h2"].exited == 3
            big = host_pool.run(COMMANDS[2])
            assert {len(o.stdout) for o in big.values() if o.error is None} == {3000001}
        """
    )
    inv = aliases(pytester.path / "inv.ini", sshd, 4, dead_port=free_port())
    result = pytester.runpytest(*sshd.args(hosts=inv))
    result.assert_outcomes(passed=1, errors=0)


IN_FLIGHT = """
import uuid

def test_in_flight(host_pool, tmp_path):
    # each command counts the commands running while it sleeps (this machine's /tmp is
    # every "host"'s)
    d = f"/tmp/fp-fan-{uuid.uuid4().hex}"
    command = f"mkdir -p {d}; touch {d}/$$; sleep 1.5; n=$(ls {d} | wc -l); rm {d}/$$; echo $n"
    try:
        counts = sorted(int(o.stdout) for o in host_pool.run(command).values())
    finally:
        host_pool.run(f"rm -rf {d}")
    print(f"at most {max(counts)} at once")
"""


@pytest.mark.parametrize(
    ("args", "ini", "expected"),
    [
        # never more than an explicit --max-connections at once, and that many at first
        (["--max-connections=3"], "", 3),
        # from the ini file too
        ([], "[pytest]\nfabricplus_max_connections = 4\n", 4),
        # without one, every host's command at once: more than the threads (32) would be
        ([], "", 40),
    ],
    ids=["option", "ini", "default-every-host"],
)
def test_run_keeps_every_command_in_flight_unless_max_connections_bounds_it(
    pytester: pytest.Pytester, sshd: Target, args: list[str], ini: str, expected: int
) -> None:
    pytester.makepyfile(IN_FLIGHT)
    if ini:
        pytester.makefile(".ini", pytest=ini)
    hosts = 40 if expected == 40 else 6
    inv = aliases(pytester.path / "inv.ini", sshd, hosts)
    result = pytester.runpytest(*sshd.args("-s", *args, hosts=inv))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*at most {expected} at once*"])


def test_timed_out_commands_are_killed_on_every_host(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    pytester.makepyfile(
        """
        import uuid

        from pytest_fabricplus.errors import CommandTimeout

        def test_timeout(host_pool):
            marker = uuid.uuid4().hex[:12]
            results = host_pool.run(f"sleep 30; echo {marker}", timeout=1)
            assert {type(o.error) for o in results.values()} == {CommandTimeout}
            assert sorted(o.error.host.split()[0] for o in results.values()) == [
                "h1", "h2", "h3", "h4", "h5"
            ]
            # killed, not left running (the signal request, as on the item path); a loaded
            # machine may take a moment to end a SIGKILLed process: poll, bounded
            probe = f"pgrep -f '[s]leep 30; echo {marker}'"
            left = host_pool.run(
                f"for i in $(seq 50); do {probe} >/dev/null || exit 0; sleep 0.1; done; {probe}",
                timeout=10,
            )
            assert {o.stdout for o in left.values()} == {""}
            assert host_pool.run("echo again").ok  # the connections are still usable
        """
    )
    inv = aliases(pytester.path / "inv.ini", sshd, 5)
    result = pytester.runpytest(*sshd.args(hosts=inv))
    result.assert_outcomes(passed=1)


def test_a_host_holding_its_output_open_stalls_no_other(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    """A command that leaves a process holding its stdout gets its exit status before its
    end of output (exec waits for that end, as ``ssh`` does); meanwhile the other hosts'
    commands, each writing more than a channel's window, end on time with their output."""
    pytester.makepyfile(
        """
        import uuid

        def test_holder(host_pool):
            lock = f"/tmp/fp-hold-{uuid.uuid4().hex}"
            # the first command to take the lock leaves a process holding stdout for 8 s
            # (exit status now, end of output in 8 s: past its timeout, as with exec);
            # the others print 3 MB each
            command = (
                f"if mkdir {lock} 2>/dev/null; then (sleep 8) & echo holder; "
                "else head -c 3000000 /dev/zero | tr '\\\\0' x; fi"
            )
            try:
                results = host_pool.run(command, timeout=3.5, warn=True)
            finally:
                host_pool.run(f"rmdir {lock}")
            holders = [h for h, o in results.items() if o.error is None and o.stdout == "holder\\n"]
            assert holders == [], "the holder ended before its output did"
            errors = {h: type(o.error).__name__ for h, o in results.items() if o.error is not None}
            assert list(errors.values()) == ["CommandTimeout"], results
            big = [h for h, o in results.items() if o.error is None]
            assert len(big) == 3
            assert {len(results[h].stdout) for h in big} == {3000000}
        """
    )
    inv = aliases(pytester.path / "inv.ini", sshd, 4)
    result = pytester.runpytest(*sshd.args("--max-connections=2", hosts=inv))
    result.assert_outcomes(passed=1)


def test_what_reading_one_host_raises_stays_that_hosts(
    pytester: pytest.Pytester, sshd: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Output shown as it arrives (``hide=False``) that the terminal cannot encode: each
    host's own error, as with map(), not one exception for the whole pool."""
    pytester.makepyfile(
        """
        def test_unencodable(host_pool):
            command = "printf 'caf\\\\303\\\\251'; sleep 1"
            fanned = host_pool.run(command, hide=False)
            mapped = host_pool.map(lambda c: c.run(command, hide=False, warn=True))
            for results in (fanned, mapped):
                assert {type(o.error).__name__ for o in results.values()} == {
                    "UnicodeEncodeError"
                }, results
            assert list(fanned) == list(mapped)
        """
    )
    inv = aliases(pytester.path / "inv.ini", sshd, 3)
    monkeypatch.setenv("PYTHONIOENCODING", "ascii")  # for the inner pytest process only
    result = pytester.runpytest_subprocess(*sshd.args("-s", hosts=inv))
    result.assert_outcomes(passed=1)


def test_a_host_to_reopen_runs_beside_the_others(pytester: pytest.Pytester, sshd: Target) -> None:
    """A host whose connection must be opened (here: it dropped) runs in a thread at the
    same time as the other hosts' commands, not after them."""
    pytester.makepyfile(
        """
        import uuid

        def test_reopen(host_pool, fabricplus_registry):
            fabricplus_registry.get(host_pool.hosts[0]).close()  # reopened by its next use
            d = f"/tmp/fp-fan-{uuid.uuid4().hex}"
            # each counts the commands started before its own sleep ended
            command = f"mkdir -p {d}; touch {d}/$$; sleep 1.5; ls {d} | wc -l"
            try:
                counts = {h: int(o.stdout) for h, o in host_pool.run(command).items()}
            finally:
                host_pool.run(f"rm -rf {d}")
            assert counts == {"h1": 4, "h2": 4, "h3": 4, "h4": 4}
            assert fabricplus_registry.opened_count == 5  # h1 reopened once
        """
    )
    inv = aliases(pytester.path / "inv.ini", sshd, 4)
    result = pytester.runpytest(*sshd.args(hosts=inv))
    result.assert_outcomes(passed=1)
