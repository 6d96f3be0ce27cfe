"""Runs that did not finish say so: a crashed xdist worker's test is counted in its host's
row, reads ``crashed (worker gwN)`` in ``--fabricplus-report`` and carries its host in JUnit;
after Ctrl-C the ``--fabricplus-report`` says ``interrupted`` with the exit status and names
the test that was running."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from testing.processes import reaped, wait_for_file
from testing.targets import Target

CRASH = """
import os
import pytest

def test_ok(connection):
    connection.run("true")

@pytest.mark.control("C 1")
def test_crash(connection, host_spec):
    if host_spec.id == "h2":
        os._exit(1)
"""


def _inventory(pytester: pytest.Pytester, sshd: Target, names: tuple[str, ...]) -> str:
    (pytester.path / "inv.ini").write_text(
        "".join(
            f"{n} ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user=fptest\n"
            for n in names
        )
    )
    return "inv.ini"


def test_crashed_worker_is_recorded_per_host(pytester: pytest.Pytester, sshd: Target) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(CRASH)
    hosts = _inventory(pytester, sshd, ("h1", "h2"))
    result = pytester.runpytest_subprocess(
        *sshd.args(
            "-n",
            "2",
            "--fabricplus-report=r.json",
            "--junitxml=j.xml",
            "--compliance-json=c.json",
            hosts=hosts,
        ),
        timeout=300,
    )
    result.assert_outcomes(passed=3, failed=1)
    # the per-host table counts it, in a column of its own
    table = _table(result.stdout.lines)
    assert table["h1"] == {"passed": 2, "failed": 0, "error": 0, "skipped": 0, "crashed": 0}
    assert table["h2"] == {"passed": 1, "failed": 0, "error": 0, "skipped": 0, "crashed": 1}
    doc = json.loads((pytester.path / "r.json").read_text())
    h2 = {t["nodeid"].split("::")[-1]: t for t in doc["hosts"]["h2"]["tests"]}
    crashed = h2["test_crash[h2]"]
    assert crashed["outcome"].startswith("crashed (worker gw")
    assert crashed["outcome"] in ("crashed (worker gw0)", "crashed (worker gw1)")
    assert "crashed while running" in crashed["message"]
    assert doc["hosts"]["h2"]["counts"]["crashed"] == 1
    assert all(t["outcome"] is not None for h in doc["hosts"].values() for t in h["tests"])
    compliance = json.loads((pytester.path / "c.json").read_text())
    assert compliance["hosts"]["h1"]["controls"]["C 1"]["status"] == "passed"
    assert compliance["hosts"]["h2"]["controls"]["C 1"]["status"] == "error"
    cases = {
        c.get("name"): {p.get("name"): p.get("value") for p in c.iter("property")}
        for c in ET.parse(pytester.path / "j.xml").getroot().iter("testcase")
    }
    assert cases["test_crash[h2]"]["fabricplus_host"] == "h2"
    assert (
        cases["test_crash[h2]"]["fabricplus_crashed"] == crashed["outcome"][len("crashed (") : -1]
    )


def _table(lines: list[str]) -> dict[str, dict[str, int]]:
    start = next(i for i, line in enumerate(lines) if "fabricplus: results per host" in line)
    header = lines[start + 1].split()
    rows = {}
    for line in lines[start + 2 :]:
        parts = line.split()
        if len(parts) != len(header) or not all(p.isdigit() for p in parts[1:]):
            break
        rows[parts[0]] = dict(zip(header[1:], map(int, parts[1:]), strict=True))
    return rows


INTERRUPT = """
def test_first(connection):
    connection.run("true")

def test_stops(connection):
    raise KeyboardInterrupt

def test_never(connection):
    pass
"""


def test_interrupted_run_says_so(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile(INTERRUPT)
    hosts = _inventory(pytester, sshd, ("h1",))
    result = pytester.runpytest_subprocess(
        *sshd.args("--fabricplus-report=r.json", hosts=hosts), timeout=300
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    doc = json.loads((pytester.path / "r.json").read_text())
    assert doc["interrupted"] is True
    assert doc["exit_status"] == 2
    tests = {t["nodeid"].split("::")[-1]: t["outcome"] for t in doc["hosts"]["h1"]["tests"]}
    assert tests == {"test_first[h1]": "passed", "test_stops[h1]": "interrupted"}
    assert doc["hosts"]["h1"]["counts"]["interrupted"] == 1
    result.stdout.fnmatch_lines(["h1 * 1 * 0 * 0 * 0 * 1"])


def test_finished_run_says_so(pytester: pytest.Pytester, sshd: Target) -> None:
    pytester.makepyfile("def test_a(connection):\n    pass\n")
    hosts = _inventory(pytester, sshd, ("h1",))
    result = pytester.runpytest(*sshd.args("--fabricplus-report=r.json", hosts=hosts))
    assert result.ret == 0
    doc = json.loads((pytester.path / "r.json").read_text())
    assert doc["interrupted"] is False
    assert doc["exit_status"] == 0
    assert "crashed" not in doc["hosts"]["h1"]["counts"]


SLOW = """
import pathlib, time

def test_first(connection):
    connection.run("true")

def test_slow(connection):
    pathlib.Path("started").touch()
    connection.run("sleep 60")
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["no-xdist", "xdist"])
def test_ctrl_c_is_recorded(pytester: pytest.Pytester, sshd: Target, workers: list[str]) -> None:
    """A real SIGINT (what Ctrl-C sends) while a test runs a remote command."""
    import signal
    import subprocess
    import sys
    import time

    if workers:
        pytest.importorskip("xdist")
    pytester.makepyfile(SLOW)
    hosts = _inventory(pytester, sshd, ("h1",))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            *workers,
            *sshd.args("--fabricplus-report=r.json", hosts=hosts),
        ],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with reaped(proc):
        wait_for_file(pytester.path / "started", proc, lambda: proc.communicate()[0])
        time.sleep(0.5)  # inside the remote command
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    doc = json.loads((pytester.path / "r.json").read_text())
    assert doc["interrupted"] is True
    assert doc["exit_status"] == 2
    tests = {t["nodeid"].split("::")[-1]: t["outcome"] for t in doc["hosts"]["h1"]["tests"]}
    assert tests == {"test_first[h1]": "passed", "test_slow[h1]": "interrupted"}


NOISY = """
import os
import pathlib
import time

import pytest

@pytest.fixture
def noisy_setup(connection, capfd):
    # once the controller has begun this test's -v line, a worker writes to the stderr it
    # shares with the controller (as a library's warning, a log record can), then sleeps
    out = pathlib.Path("out.txt")
    for _ in range(600):
        if "test_slow[h1] " in out.read_text():
            break
        time.sleep(0.1)
    with capfd.disabled():
        os.write(2, b"a worker writes to its stderr\\n")
    pathlib.Path("started").touch()
    connection.run("sleep 60")

def test_first(connection):
    connection.run("true")

def test_slow(noisy_setup):
    pass
"""


def test_interrupted_line_is_whole_when_a_worker_wrote(
    pytester: pytest.Pytester, sshd: Target
) -> None:
    """Ctrl-C while a test's setup runs on an xdist worker: the controller began the test's
    ``-v`` line at its start (``test_slow[h1] ``) and a worker wrote to the terminal since;
    the ``INTERRUPTED`` word comes on a line of its own, with the test's name."""
    import re
    import signal
    import subprocess
    import sys
    import time

    pytest.importorskip("xdist")
    pytester.makepyfile(test_noisy=NOISY)
    hosts = _inventory(pytester, sshd, ("h1",))
    output = pytester.path / "out.txt"
    with output.open("w") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-v",
                "-n",
                "2",
                *sshd.args("--fabricplus-report=r.json", hosts=hosts),
            ],
            cwd=pytester.path,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        with reaped(proc):
            wait_for_file(pytester.path / "started", proc, output.read_text)
            time.sleep(0.5)  # inside the remote command
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=120)
    text = output.read_text()
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, text
    assert "a worker writes to its stderr" in text
    assert re.search(r"^test_noisy\.py::test_slow\[h1\] INTERRUPTED\b", text, re.M), text
    doc = json.loads((pytester.path / "r.json").read_text())
    tests = {t["nodeid"].split("::")[-1]: t["outcome"] for t in doc["hosts"]["h1"]["tests"]}
    assert tests == {"test_first[h1]": "passed", "test_slow[h1]": "interrupted"}
