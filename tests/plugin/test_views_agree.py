"""One run, every view, one story: runs over real sshd hosts covering every status -- pass,
fail, error, skip (Not Reviewed), not applicable, a waived failure, a waiver not needed, an
expired waiver, a ``run: false`` waiver, an unreachable host, a crashed xdist worker and an
interrupted run -- read back from the terminal (``-v`` lines, per-host table, compliance
section, gate), ``--fabricplus-report``, JUnit XML, ``--compliance-json``, InSpec JSON (scored
by MITRE's inspecjs), the HTML report (its data and what Chromium shows) and two
``--hosts-shard`` runs merged. Every pair of views that shows a thing must say the same
(``testing/views.py`` reads each view into one shape), and the story is the one expected.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from testing import views
from testing.processes import reaped, wait_for_file
from testing.sshd import free_port
from testing.targets import Target

#: one test per control, so each host x test outcome is the host x control status
SUITE = """
import os
import pathlib
import pytest
from pytest_fabricplus import not_applicable

@pytest.fixture
def broken(host_spec):
    if host_spec.id == "db1":
        raise RuntimeError("the fixture broke on db1")

@pytest.mark.control("V-01", title="passes", severity="high")
def test_pass(connection):
    assert connection.run("true", hide=True).ok

@pytest.mark.control("V-02", title="fails on web2", severity="medium")
def test_fail_on_web2(connection, host_spec):
    assert host_spec.id != "web2", "web2 is out of line"

@pytest.mark.control("V-03", title="errors on db1", severity="critical")
def test_error_on_db1(connection, broken):
    pass

@pytest.mark.control("V-04", title="manual on web1", severity="low")
def test_skip_on_web1(connection, host_spec):
    if host_spec.id == "web1":
        pytest.skip("to be reviewed by hand on web1")

@pytest.mark.control("V-05", title="not applicable on web2")
def test_na_on_web2(connection, host_spec):
    if host_spec.id == "web2":
        not_applicable("web2 serves no web pages")

@pytest.mark.control("V-06", title="waived on web*", severity="high")
def test_waived_failure(connection):
    assert False, "never compliant"

@pytest.mark.control("V-07", title="waiver not needed")
def test_waiver_not_needed(connection):
    pass

@pytest.mark.control("V-08", title="expired waiver", severity="medium")
def test_expired_waiver(connection, host_spec):
    assert host_spec.id != "web1", "web1 still fails"

@pytest.mark.control("V-09", title="not run", severity="low")
def test_run_false(connection):
    raise AssertionError("a run: false check ran")
"""

WAIVERS = """\
- control: V-06
  hosts: "web*"
  justification: the web tier is accepted until the migration
  expires: 2999-12-31
- control: V-07
  justification: no longer needed
- control: V-08
  justification: lapsed exception
  expires: 2020-01-01
- control: V-09
  justification: too disruptive to run
  run: false
"""

CONTROL_OF = {
    "test_pass": "V-01",
    "test_fail_on_web2": "V-02",
    "test_error_on_db1": "V-03",
    "test_skip_on_web1": "V-04",
    "test_na_on_web2": "V-05",
    "test_waived_failure": "V-06",
    "test_waiver_not_needed": "V-07",
    "test_expired_waiver": "V-08",
    "test_run_false": "V-09",
}
_REACHED = {
    "V-01": "passed",
    "V-02": "passed",
    "V-03": "passed",
    "V-04": "passed",
    "V-05": "passed",
    "V-06": "waived",
    "V-07": "passed",
    "V-08": "passed",
    "V-09": "waived",
}
EXPECTED = {
    "web1": {**_REACHED, "V-04": "skipped", "V-08": "failed"},
    "web2": {**_REACHED, "V-02": "failed", "V-05": "not-applicable"},
    "db1": {**_REACHED, "V-03": "error", "V-06": "failed"},
    # a run: false check is not run on an unreachable host either
    "down1": {**dict.fromkeys(_REACHED, "error"), "V-09": "waived"},
}
#: Heimdall: Passed / (Passed + Failed + Not Reviewed + Profile Error); V-09 (run: false)
#: and web2's V-05 are Not Applicable; a waived failure counts as Failed
EXPECTED_SCORES = {"web1": 62.5, "web2": 71.43, "db1": 75.0, "down1": None}
#: control status -> the test outcome the test-level views show
TEST_OUTCOME: dict[str, str] = {}


def _inventory(path: Path, sshd: Target, sshd2: Target, down: int) -> Path:
    user = sshd.user.name
    inv = path / "inv.ini"
    inv.write_text(
        f"web1 ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user={user}\n"
        f"web2 ansible_host=127.0.0.1 ansible_port={sshd2.port} ansible_user={user}\n"
        f"db1 ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user={user}\n"
        f"down1 ansible_host=127.0.0.1 ansible_port={down} ansible_user={user}\n"
    )
    return inv


REPORTS = (
    "--fabricplus-report=out/r.json",
    "--junitxml=out/j.xml",
    "--compliance-json=out/c.json",
    "--inspec-json=out/inspec",
    "--compliance-report=out/report.html",
)


def _run(
    pytester: pytest.Pytester, target: Target, inv: Path, known: Path, *extra: str
) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        *target.args("-v", *extra, hosts=inv, known_hosts=known), timeout=300
    )


def read_all(
    out: Path, lines: list[str], hosts: list[str], chromium: str, inspecjs: str, shots: Path
) -> list[views.View]:
    return [
        views.read_terminal(lines, hosts),
        views.read_fabricplus_report(out / "r.json"),
        views.read_junit(out / "j.xml"),
        views.read_compliance(out / "c.json"),
        views.read_inspec(out / "inspec", inspecjs),
        views.read_html_data(out / "report.html"),
        views.read_html_dom(out / "report.html", chromium, shots),
    ]


#: the terminal and the HTML page show scores to one decimal
PLACES = {"terminal": 1, "html dom": 1}


def bridge(tests: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    """Test outcomes as control statuses (one test per control): a crashed or interrupted
    test's control is ``error`` (it was not checked)."""
    out = {}
    for (host, nodeid), outcome in tests.items():
        name = nodeid.split("::")[-1].split("[")[0]
        word = "error" if outcome in ("crashed", "interrupted") else outcome
        out[(host, CONTROL_OF.get(name, name))] = word
    return out


def test_every_status_every_view(
    pytester: pytest.Pytester,
    sshd: Target,
    sshd2: Target,
    both_known_hosts: Path,
    chromium: str,
    inspecjs: str,
    shots: Path,
) -> None:
    pytester.makepyfile(test_views=SUITE)
    (pytester.path / "waivers.yml").write_text(WAIVERS)
    inv = _inventory(pytester.path, sshd, sshd2, free_port())
    result = _run(
        pytester,
        sshd,
        inv,
        both_known_hosts,
        "-n",
        "2",
        "--waivers=waivers.yml",
        "--compliance-fail-under=50",
        *REPORTS,
    )
    out = pytester.path / "out"
    hosts = ["web1", "web2", "db1", "down1"]
    got = read_all(out, result.stdout.lines, hosts, chromium, inspecjs, shots / "views-run.png")
    assert views.disagreements(got, PLACES) == []
    by = {v.name: v for v in got}
    # the story itself
    expected = {(h, c): s for h, cs in EXPECTED.items() for c, s in cs.items()}
    assert by["compliance-json"].controls == expected
    assert by["compliance-json"].scores == EXPECTED_SCORES
    assert by["inspec-json (inspecjs)"].hdf == {
        k: "Not Applicable" if k[1] == "V-09" else views.HDF_OF.get(s, "Failed")
        for k, s in expected.items()
    }
    tests = by["fabricplus-report"].tests
    assert tests is not None
    assert bridge(tests) == {k: TEST_OUTCOME.get(s, s) for k, s in expected.items()}
    assert by["terminal"].extra["unreachable"].keys() == {"down1"}
    # the gate: db1 errored, down1 unreachable; the process agrees with every view
    assert by["terminal"].verdict is False
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["db1: 1 control(s) errored (Profile Error)", "down1: unreachable*"]
    )
    # waiver words (V-07: not needed where it passed, but down1 errored: not applied)
    words = {w["control"]: w["status"] for w in by["compliance-json"].extra["document"]["waivers"]}
    assert words == {"V-06": "applied", "V-07": "not-applied", "V-08": "expired", "V-09": "applied"}


def test_shards_merged_tell_the_unsharded_story(
    pytester: pytest.Pytester,
    sshd: Target,
    sshd2: Target,
    both_known_hosts: Path,
    chromium: str,
    inspecjs: str,
    shots: Path,
) -> None:
    pytester.makepyfile(test_views=SUITE)
    (pytester.path / "waivers.yml").write_text(WAIVERS)
    inv = _inventory(pytester.path, sshd, sshd2, free_port())
    common = ("--waivers=waivers.yml", "--compliance-fail-under=50")
    whole = _run(pytester, sshd, inv, both_known_hosts, *common, "--compliance-json=all.json")
    assert whole.ret == 1
    for k in (1, 2):
        shard = _run(
            pytester,
            sshd,
            inv,
            both_known_hosts,
            *common,
            f"--hosts-shard={k}/2",
            f"--compliance-json=shard{k}.json",
        )
        assert shard.ret == 1  # each shard has a host that fails the gate
    (pytester.path / "m").mkdir()
    merged = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest_fabricplus",
            "merge-reports",
            "shard1.json",
            "shard2.json",
            "--json=m/c.json",
            "--html=m/report.html",
            "--inspec-json=m/inspec",
        ],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert merged.returncode == 1, merged.stdout + merged.stderr
    got = [
        views.read_compliance(pytester.path / "all.json", "unsharded compliance-json"),
        views.read_compliance(pytester.path / "m" / "c.json", "merged compliance-json"),
        views.read_inspec(pytester.path / "m" / "inspec", inspecjs),
        views.read_html_data(pytester.path / "m" / "report.html"),
        views.read_html_dom(pytester.path / "m" / "report.html", chromium, shots / "merged.png"),
    ]
    assert views.disagreements(got, PLACES) == []
    assert got[0].controls == {(h, c): s for h, cs in EXPECTED.items() for c, s in cs.items()}
    merged_doc = got[1].extra["document"]
    unsharded_doc = got[0].extra["document"]
    waivers = {w["control"]: (w["status"], w["on_hosts"]) for w in merged_doc["waivers"]}
    assert waivers == {w["control"]: (w["status"], w["on_hosts"]) for w in unsharded_doc["waivers"]}
    assert merged_doc["problems"] == []


CRASH_SUITE = """
import os
import pytest

@pytest.mark.control("K-01")
def test_ok(connection):
    assert connection.run("true", hide=True).ok

@pytest.mark.control("K-02")
def test_crash(connection, host_spec):
    if host_spec.id == "web2":
        os._exit(1)
"""


def test_crashed_worker_every_view(
    pytester: pytest.Pytester,
    sshd: Target,
    sshd2: Target,
    both_known_hosts: Path,
    chromium: str,
    inspecjs: str,
    shots: Path,
) -> None:
    pytester.makepyfile(test_views=CRASH_SUITE)
    inv = pytester.path / "inv.ini"
    inv.write_text(
        f"web1 ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user={sshd.user.name}\n"
        f"web2 ansible_host=127.0.0.1 ansible_port={sshd2.port} ansible_user={sshd.user.name}\n"
    )
    result = _run(pytester, sshd, inv, both_known_hosts, "-n", "2", *REPORTS)
    assert result.ret == 1
    out = pytester.path / "out"
    got = read_all(out, result.stdout.lines, ["web1", "web2"], chromium, inspecjs, shots / "c.png")
    problems = views.disagreements(got, PLACES)
    assert problems == []
    by = {v.name: v for v in got}
    crash_id = "test_views.py::test_crash[web2]"
    assert by["fabricplus-report"].tests == {
        ("web1", "test_views.py::test_ok[web1]"): "passed",
        ("web1", "test_views.py::test_crash[web1]"): "passed",
        ("web2", "test_views.py::test_ok[web2]"): "passed",
        ("web2", crash_id): "crashed",
    }
    # the marker names host and worker, the same in every view that records it
    markers = [v.unfinished for v in got if v.unfinished is not None]
    assert len(markers) == 3  # --fabricplus-report, JUnit, compliance JSON
    assert all(m.keys() == {("web2", crash_id)} for m in markers), markers
    assert len({m[("web2", crash_id)] for m in markers}) == 1, markers
    assert markers[0][("web2", crash_id)] in ("crashed (worker gw0)", "crashed (worker gw1)")
    assert by["compliance-json"].controls == {
        ("web1", "K-01"): "passed",
        ("web1", "K-02"): "passed",
        ("web2", "K-01"): "passed",
        ("web2", "K-02"): "error",
    }


SLOW_SUITE = """
import pathlib
import pytest

@pytest.mark.control("S-01")
def test_first(connection):
    assert connection.run("true", hide=True).ok

@pytest.fixture
def slow_setup(connection):
    if {in_setup}:
        pathlib.Path("started").touch()
        connection.run("sleep 60")

@pytest.mark.control("S-02")
def test_slow(connection, slow_setup):
    pathlib.Path("started").touch()
    connection.run("sleep 60")

@pytest.mark.control("S-03")
def test_never(connection):
    pass
"""


@pytest.mark.parametrize(
    ("workers", "phase"),
    [([], "call"), (["-n", "2"], "call"), ([], "setup"), (["-n", "2"], "setup")],
    ids=["call", "call-xdist", "setup", "setup-xdist"],
)
def test_interrupted_run_every_view(
    pytester: pytest.Pytester,
    sshd: Target,
    both_known_hosts: Path,
    chromium: str,
    inspecjs: str,
    shots: Path,
    workers: list[str],
    phase: str,
) -> None:
    """A real SIGINT while web1's second test runs a remote command in its body or in a
    fixture's setup."""
    pytester.makepyfile(test_views=SLOW_SUITE.format(in_setup=phase == "setup"))
    inv = pytester.path / "inv.ini"
    inv.write_text(
        f"web1 ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user={sshd.user.name}\n"
    )
    args = sshd.args("-v", *workers, *REPORTS, hosts=inv, known_hosts=both_known_hosts)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *args],
        cwd=pytester.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    with reaped(proc):
        # the slow test starts within two minutes
        wait_for_file(pytester.path / "started", proc, lambda: proc.communicate()[0])
        time.sleep(0.5)  # inside the remote command
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, stdout
    out = pytester.path / "out"
    lines = stdout.splitlines()
    got = read_all(out, lines, ["web1"], chromium, inspecjs, shots / "interrupted.png")
    assert views.disagreements(got, PLACES) == []
    by = {v.name: v for v in got}
    slow = "test_views.py::test_slow[web1]"
    assert by["fabricplus-report"].tests == {
        ("web1", "test_views.py::test_first[web1]"): "passed",
        ("web1", slow): "interrupted",
    }
    markers = [v.unfinished for v in got if v.unfinished is not None]
    assert len(markers) == 3
    # known gap: an xdist controller learns a test's control from its setup report, so a
    # test stopped inside its setup on a worker is missing from the compliance reports
    known = 2 if phase == "setup" and workers else 3
    assert markers[known:] == [{}] * (3 - known)
    assert all(m == {("web1", slow): "interrupted"} for m in markers[:known]), markers
    controls = {("web1", "S-01"): "passed", ("web1", "S-02"): "error"}
    if known == 2:
        del controls[("web1", "S-02")]
    assert by["compliance-json"].controls == controls
    assert by["compliance-json"].verdict is False
    # JUnit's marker names the host and test (and the worker under xdist)
    (case,) = [
        c for c in ET.parse(out / "j.xml").getroot().iter("testcase") if "slow" in c.get("name", "")
    ]
    props = {p.get("name"): p.get("value") or "" for p in case.iter("property")}
    marker = props["fabricplus_interrupted"]
    assert f"{slow} was running on web1" in marker, marker
    # the worker, when one of its reports named it (a test stopped in its setup has none)
    assert ("worker gw" in marker) == (bool(workers) and phase == "call"), marker
    # JUnit's element: a failed call is a <failure>, a failed setup an <error>
    element = case.find("failure" if phase == "call" else "error")
    assert element is not None
    assert marker in str(element.get("message"))


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = Path(os.environ.get("FABRICPLUS_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def chromium() -> str:
    from tests.unit.test_html_report import CHROMIUM

    if CHROMIUM is None:
        if os.environ.get("FABRICPLUS_NEED_CHROMIUM") == "1":
            pytest.fail("chromium is not installed and FABRICPLUS_NEED_CHROMIUM=1")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def inspecjs() -> str:
    from testing import inspecjs as ijs

    found = ijs.module()
    if found is None:
        if os.environ.get("FABRICPLUS_NEED_INSPECJS") == "1":
            pytest.fail("node or inspecjs is missing and FABRICPLUS_NEED_INSPECJS=1")
        pytest.skip("inspecjs is not installed (FABRICPLUS_NEED_INSPECJS=1 scripts/setup.sh)")
    return found


def _json(path: Path) -> dict:
    return json.loads(path.read_text())
