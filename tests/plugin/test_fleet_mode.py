"""``--fleet``: a test's items on its hosts run at once, each host keeping its own verdict.

Every comparison runs the same suite twice, on the item path and in fleet mode, against
real sshd (four hosts: two aliases on each of two servers), and requires the same node ids,
outcomes, messages, captured output and logs per host (JUnit with ``junit_logging=all``,
``--fabricplus-report``, the compliance JSON). Concurrency is proven by counting: the
bodies wait on the remote side until all four have started, which only concurrent bodies
can do.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from testing.targets import PASSWORD_ENV, SU_PASSWORD_ENV, Target

HOSTS = ("web1", "web2", "web3", "web4")


def inventory(path: Path, a: Target, b: Target) -> Path:
    lines = ["[web]"]
    for name, target in zip(HOSTS, (a, a, b, b), strict=True):
        lines.append(
            f"{name} ansible_host=127.0.0.1 ansible_port={target.port} ansible_user=fptest"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def fleet_args(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> list[str]:
    inv = inventory(pytester.path / "inv.ini", sshd, sshd2)
    return sshd.args(hosts=inv, known_hosts=both_known_hosts)


#: log lines of paramiko's own transport threads: not a test body's records, so they land in
#: whichever item captures when they are emitted, on both paths, as the timing falls (seen in
#: CI under load); the comparison is about each body's own output and records
_TRANSPORT_LINE = re.compile(r"^[A-Z]+ +paramiko\.transport:.*\n?", re.M)


_SECTION = re.compile(r"^-+ Captured \w+ -+\n", re.M)


def _own(text: str) -> str:
    """The text without paramiko's transport lines, and without a section they alone filled."""
    text = _TRANSPORT_LINE.sub("", text)
    headers = list(_SECTION.finditer(text))
    kept = []
    for i, header in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        if text[header.end() : end].strip():
            kept.append(text[header.start() : end])
    return text[: headers[0].start()] + "".join(kept) if headers else text


def junit_cases(path: Path) -> dict[str, dict[str, Any]]:
    """Each test case of a JUnit file: outcome element, message, output, properties."""
    cases = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome = [c for c in case if c.tag in ("failure", "error", "skipped")]
        cases[case.get("classname", "") + "::" + case.get("name", "")] = {
            "outcome": [(c.tag, c.get("message")) for c in outcome],
            "text": [c.text for c in outcome],
            "out": _own("".join(c.text or "" for c in case.iter("system-out"))),
            "err": _own("".join(c.text or "" for c in case.iter("system-err"))),
            "properties": sorted((p.get("name"), p.get("value")) for p in case.iter("property")),
        }
    return cases


def host_report(path: Path) -> dict[str, Any]:
    """``--fabricplus-report`` without the run's times, object addresses blanked: pytest
    before 9.2 raises ``xfail(run=False)``'s "[NOTRUN]" in setup with a traceback (9.2:
    without), through our setup hook wrapper, whose ``self`` (one plugin object per run) it
    prints, on both paths."""
    document = json.loads(path.read_text())
    document.pop("finished")
    for host in document["hosts"].values():
        for test in host["tests"]:
            test.pop("duration")
            if "message" in test:
                test["message"] = re.sub(r"\b0x[0-9a-f]+\b", "0x?", test["message"])
    return document


@pytest.fixture
def remote_log() -> Iterator[Path]:
    """A file every host's login user can append to (the hosts are this machine)."""
    directory = Path(tempfile.mkdtemp(prefix="fp-fleet-", dir="/tmp"))
    directory.chmod(0o777)
    log = directory / "events.log"
    log.touch()
    log.chmod(0o666)
    yield log
    shutil.rmtree(directory, ignore_errors=True)


def run_both(
    pytester: pytest.Pytester,
    args: list[str],
    *extra: str,
    env: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[pytest.RunResult, pytest.RunResult]:
    """The item path, then fleet mode (``env``: variables for each mode's run)."""
    results = []
    for mode in ("items", "fleet"):
        more = ["--fleet"] if mode == "fleet" else []
        with pytest.MonkeyPatch.context() as patch:
            for name, value in (env or {}).get(mode, {}).items():
                patch.setenv(name, value)
            results.append(
                pytester.runpytest(
                    *args,
                    *extra,
                    *more,
                    "-rA",
                    f"--junitxml={mode}.xml",
                    "-o",
                    "junit_logging=all",
                    f"--fabricplus-report={mode}.json",
                )
            )
    return results[0], results[1]


OUTCOMES = """
import logging
import pytest


@pytest.fixture(scope="module")
def shared():
    return {"setups": 0}


@pytest.fixture
def per_host(host_spec, shared):
    shared["setups"] += 1
    if host_spec.id == "web3":
        raise RuntimeError("fixture broke on web3")
    yield host_spec.id
    print("teardown of", host_spec.id)


def test_pass(connection, per_host):
    print("stdout of", per_host)
    logging.getLogger("fleet.test").warning("log record of %s", per_host)
    assert connection.run("echo remote $((6*7))").stdout == "remote 42\\n"


def test_fail(connection, host_spec):
    print("before failing on", host_spec.id)
    connection.run("echo echoed from " + host_spec.id + " >&2")
    value = {"web2": 2}.get(host_spec.id, 1)
    assert value == 1, f"{host_spec.id} has value {value}"


def test_skip_inside(host_spec):
    if host_spec.id == "web1":
        pytest.skip("not on web1")


@pytest.mark.skipif("True", reason="marked skip")
def test_skip_marker(host_spec):
    pass


@pytest.mark.xfail(reason="only web4 passes")
def test_xfail(host_spec):
    assert host_spec.id == "web4"


@pytest.mark.xfail(run=False, reason="never run")
def test_xfail_not_run(host_spec):
    raise SystemExit("ran")


def test_shared_module_fixture_set_up_once(shared, host_spec):
    assert shared["setups"] == 4  # once per host (web3 raised after counting)


def test_process_wide_fixture(host_spec, capsys):
    print("to capsys", host_spec.id)
    assert capsys.readouterr().out == f"to capsys {host_spec.id}\\n"
"""


def test_same_per_host_results_as_the_item_path(
    pytester: pytest.Pytester, fleet_args: list[str]
) -> None:
    pytester.makepyfile(test_outcomes=OUTCOMES)
    items, fleet = run_both(pytester, fleet_args)
    counts = dict(passed=17, failed=1, errors=1, skipped=5, xfailed=7, xpassed=1)
    items.assert_outcomes(**counts)
    fleet.assert_outcomes(**counts)
    # the same verdict, message, captured output and log lines per host
    a, b = junit_cases(pytester.path / "items.xml"), junit_cases(pytester.path / "fleet.xml")
    assert sorted(a) == sorted(b)
    assert len(a) == 32  # 8 tests x 4 hosts
    for name in a:
        assert a[name] == b[name], name
    assert host_report(pytester.path / "items.json") == host_report(pytester.path / "fleet.json")
    # each host's own output, never another's
    fail2 = b["test_outcomes::test_fail[web2]"]
    assert fail2["outcome"][0][0] == "failure"
    assert "web2 has value 2" in fail2["text"][0]
    assert "before failing on web2" in fail2["out"]
    assert "echoed from web2" in fail2["err"]
    assert "web1" not in fail2["out"] + fail2["err"]
    assert "log record of web4" in b["test_outcomes::test_pass[web4]"]["out"]
    assert "teardown of web4" in b["test_outcomes::test_pass[web4]"]["out"]
    # the terminal: the same short summary lines, in the same order
    summary = [
        line
        for line in items.outlines
        if re.match(r"(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) ", line)
    ]
    assert [
        line
        for line in fleet.outlines
        if re.match(r"(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) ", line)
    ] == summary
    # what ran at once, and one line for the test that could not
    fleet.stdout.fnmatch_lines(
        [
            "fabricplus: fleet mode: 7 tests on 28 host items run each test's hosts at once",
            "fabricplus: fleet mode: test_outcomes.py::test_process_wide_fixture runs host by "
            "host: uses capsys (process-wide)",
        ]
    )
    assert "fleet mode" not in items.stdout.str()


def test_same_per_host_results_with_xdist(pytester: pytest.Pytester, fleet_args: list[str]) -> None:
    """``-n 2 --fleet``: workers get whole hosts and run each test's hosts at once."""
    pytester.makepyfile(test_outcomes=OUTCOMES.replace("== 4  # once per host", ">= 1  #"))
    items, fleet = run_both(pytester, fleet_args, "-n", "2")
    counts = dict(passed=17, failed=1, errors=1, skipped=5, xfailed=7, xpassed=1)
    items.assert_outcomes(**counts)
    fleet.assert_outcomes(**counts)
    a, b = junit_cases(pytester.path / "items.xml"), junit_cases(pytester.path / "fleet.xml")
    assert len(a) == 32
    for name in a:
        assert a[name] == b[name], name
    assert host_report(pytester.path / "items.json") == host_report(pytester.path / "fleet.json")
    fleet.stdout.fnmatch_lines(
        ["*fleet mode: each xdist worker runs its hosts at once (cooperative bodies)"]
    )


CONCURRENT = """
import pytest


def test_all_hosts_at_once(connection, host_spec):
    # each body waits, on its host, until all four have started: only bodies that run at
    # the same time get past this (the item path times out here)
    log = "{log}"
    connection.run(
        f"echo start {{host_spec.id}} >> {{log}}; "
        f"n=0; while [ $(grep -c start {{log}}) -lt 4 ]; do "
        f"n=$((n+1)); [ $n -gt 400 ] && exit 9; sleep 0.05; done; "
        f"echo end {{host_spec.id}} >> {{log}}",
        hide=True,
    )
"""


@pytest.mark.parametrize(
    "xdist",
    [
        [],
        ["-n", "2"],
        ["--remote-shell=persistent"],
        ["--fleet-bodies=threads"],
        ["-n", "2", "--fleet-bodies=threads"],
        ["pty"],
    ],
    ids=["one-process", "xdist", "persistent-shell", "threads", "xdist-threads", "offloaded"],
)
def test_bodies_run_at_the_same_time(
    pytester: pytest.Pytester, fleet_args: list[str], remote_log: Path, xdist: list[str]
) -> None:
    """With ``-n 2`` each worker gets two hosts and runs them at once: four at a time, where
    the item path runs two. The persistent shell and a call invoke's runner serves
    (``pty=True``) block: a cooperative body runs them in a thread, and the others go on."""
    log = remote_log
    source = CONCURRENT.format(log=log)
    if xdist == ["pty"]:
        xdist = []
        source = source.replace("hide=True,", "hide=True, pty=True,")
    pytester.makepyfile(test_concurrent=source)
    result = pytester.runpytest(*fleet_args, "--fleet", "-v", *xdist)
    result.assert_outcomes(passed=4)
    events = log.read_text().split("\n")[:-1]
    assert sorted(events[:4]) == [f"start {h}" for h in HOSTS]  # all started before any ended
    assert sorted(events[4:]) == [f"end {h}" for h in HOSTS]
    # reported in item order, each with its own node id
    if "-n" not in xdist:
        result.stdout.fnmatch_lines([f"*test_all_hosts_at_once[[]{h}[]] PASSED*" for h in HOSTS])
    else:
        for h in HOSTS:  # in the order the workers finish
            result.stdout.fnmatch_lines([f"*PASSED*test_all_hosts_at_once[[]{h}[]]*"])


CONCURRENT_TESTINFRA = """
def test_all_hosts_at_once(host, host_spec):
    log = "{log}"
    assert host.run(
        f"echo start {{host_spec.id}} >> {{log}}; "
        f"n=0; while [ $(grep -c start {{log}}) -lt 4 ]; do "
        f"n=$((n+1)); [ $n -gt 400 ] && exit 9; sleep 0.05; done; "
        f"echo end {{host_spec.id}} >> {{log}}"
    ).rc == 0
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_testinfra_bodies_run_at_the_same_time(
    pytester: pytest.Pytester, fleet_args: list[str], remote_log: Path, xdist: list[str]
) -> None:
    """testinfra's ``host`` too: all four hosts' bodies run at once (two per worker)."""
    pytester.makepyfile(test_concurrent=CONCURRENT_TESTINFRA.format(log=remote_log))
    result = pytester.runpytest(*fleet_args, "--fleet", "-v", *xdist)
    result.assert_outcomes(passed=4)
    events = remote_log.read_text().split("\n")[:-1]
    assert sorted(events[:4]) == [f"start {h}" for h in HOSTS]  # all started before any ended


WHERE = """
import threading


def test_where(connection, host_spec):
    connection.run("true", hide=True)
    print("in", threading.current_thread().name, "main" if threading.current_thread() is threading.main_thread() else "pool")
"""


@pytest.mark.parametrize(
    ("bodies", "where"),
    [([], "main"), (["--fleet-bodies=cooperative"], "main"), (["--fleet-bodies=threads"], "pool")],
    ids=["default", "cooperative", "threads"],
)
def test_cooperative_bodies_run_in_the_main_thread(
    pytester: pytest.Pytester, fleet_args: list[str], bodies: list[str], where: str
) -> None:
    """``--fleet-bodies``: cooperative (default) runs every body in the main thread, each
    switching out where it waits for its command; threads runs each in a pool thread."""
    pytester.makepyfile(test_where=WHERE)
    result = pytester.runpytest(*fleet_args, "--fleet", "-rP", *bodies)
    result.assert_outcomes(passed=4)
    lines = [line for line in result.outlines if line.startswith("in ")]
    assert len(lines) == 4
    assert {line.split()[-1] for line in lines} == {where}


TRANSFER = """
import io
import os
import threading


class Recording(io.BytesIO):
    def read(self, *args):
        self.readers.add(threading.current_thread().name)
        return super().read(*args)


def test_transfer(connection, host_spec, tmp_path):
    remote = f"/tmp/fp-transfer-{host_spec.id}-{os.getpid()}"
    source = Recording(host_spec.id.encode())
    source.readers = set()
    connection.put(source, remote)
    # read in a pool thread while the other bodies went on, not in the main thread
    assert source.readers and all(n.startswith("fabricplus-pool") for n in source.readers)
    connection.get(remote, str(tmp_path / "back"))
    assert (tmp_path / "back").read_text() == host_spec.id
    assert connection.run(f"cat {remote}; rm -f {remote}", hide=True).stdout == host_spec.id
"""


def test_put_and_get_in_cooperative_bodies(
    pytester: pytest.Pytester, fleet_args: list[str]
) -> None:
    """``put``/``get`` block the thread: a cooperative body hands them to a pool thread and
    waits; each host gets its own file back."""
    pytester.makepyfile(test_transfer=TRANSFER)
    result = pytester.runpytest(*fleet_args, "--fleet", "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*(cooperative bodies)*"])


def test_fleet_bodies_is_checked_early(pytester: pytest.Pytester, fleet_args: list[str]) -> None:
    pytester.makepyfile(test_where=WHERE)
    result = pytester.runpytest(*fleet_args, "--fleet", "--fleet-bodies=greenlets")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--fleet-bodies*greenlets*"])


def test_max_connections_bounds_the_bodies_at_once(
    pytester: pytest.Pytester, fleet_args: list[str], remote_log: Path
) -> None:
    log = remote_log
    pytester.makepyfile(
        f"""
        def test_two_at_a_time(connection, host_spec):
            connection.run(
                "echo start >> {log}; sleep 0.3; echo end >> {log}", hide=True
            )
        """
    )
    result = pytester.runpytest(*fleet_args, "--fleet", "--max-connections=2")
    result.assert_outcomes(passed=4)
    running = peak = 0
    for event in log.read_text().split():
        running += 1 if event == "start" else -1
        peak = max(peak, running)
    assert peak == 2  # never more than 2, and 2 did overlap (starts before ends)


SELECTION = """
import pytest


@pytest.fixture(scope="module")
def release():
    return "v1"


def test_a(connection, host_spec, release):
    assert host_spec.id != "web3", "web3 is broken"


def test_b(connection, host_spec):
    assert connection.run("hostname", hide=True).ok
"""


def test_keyword_and_last_failed_select_the_same_items(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    pytester.makepyfile(test_sel=SELECTION)
    inv = inventory(pytester.path / "inv.ini", sshd, sshd2)
    base = [
        f"--hosts={inv}",
        f"--known-hosts={both_known_hosts}",
        f"--ssh-identity-file={sshd.user.key_path}",
        "-v",
    ]
    for mode in ([], ["--fleet"]):
        pytester.runpytest(*base, *mode).assert_outcomes(passed=7, failed=1)
        last = pytester.runpytest(*base, *mode, "--lf")
        last.assert_outcomes(failed=1)
        last.stdout.fnmatch_lines(["*test_sel.py::test_a[[]web3[]] FAILED*"])
        keyword = pytester.runpytest(*base, *mode, "-k", "test_b and (web1 or web4)")
        keyword.assert_outcomes(passed=2, deselected=6)
        keyword.stdout.fnmatch_lines(["*test_b[[]web1[]] PASSED*", "*test_b[[]web4[]] PASSED*"])


SU_USER = f"""
import pytest


@pytest.mark.su_user("fptest2", method="sudo")
def test_as_fptest2(connection, host_spec):
    assert connection.run("id -un", hide=True).stdout == "fptest2\\n"


def test_then_the_login_user(connection, host_spec, run_as):
    assert connection.run("id -un", hide=True).stdout == "fptest\\n"
    with run_as("fptest2", password_env="{SU_PASSWORD_ENV}"):
        assert connection.run("id -un", hide=True).stdout == "fptest2\\n"
    assert connection.run("id -un", hide=True).stdout == "fptest\\n"
"""


@pytest.mark.usefixtures("sudoers", "login_password", "su_password")
def test_su_user_and_run_as_per_host(pytester: pytest.Pytester, fleet_args: list[str]) -> None:
    pytester.makepyfile(test_su=SU_USER)
    items, fleet = run_both(pytester, fleet_args, f"--sudo-password-env={PASSWORD_ENV}", "-v")
    items.assert_outcomes(passed=8)
    fleet.assert_outcomes(passed=8)
    assert host_report(pytester.path / "items.json") == host_report(pytester.path / "fleet.json")
    a, b = junit_cases(pytester.path / "items.xml"), junit_cases(pytester.path / "fleet.xml")
    assert a == b


COMPLIANCE = """
import pytest


@pytest.mark.control("ssh-01", title="root login off", impact=0.7)
def test_root_login(connection, host_spec):
    assert host_spec.id not in ("web2", "web3"), f"root login on {host_spec.id}"


@pytest.mark.control("ssh-02", title="banner", impact=0.3)
def test_banner(connection):
    assert connection.run("true").ok
"""

WAIVERS = """\
- control: ssh-01
  hosts: web2
  justification: legacy box, replaced in Q1
  expires: 2999-12-31
"""


def test_waivers_and_compliance_per_host(pytester: pytest.Pytester, fleet_args: list[str]) -> None:
    pytester.makepyfile(test_controls=COMPLIANCE)
    waivers = pytester.path / "waivers.yml"
    waivers.write_text(WAIVERS)
    documents = []
    for mode in ("items", "fleet"):
        more = ["--fleet"] if mode == "fleet" else []
        result = pytester.runpytest(
            *fleet_args, *more, f"--waivers={waivers}", f"--compliance-json={mode}-c.json"
        )
        result.assert_outcomes(passed=6, failed=1, xfailed=1)
        document = json.loads((pytester.path / f"{mode}-c.json").read_text())
        documents.append(_without_times(document))
    assert documents[0] == documents[1]


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_times(v)
            for k, v in value.items()
            if k not in ("duration", "finished", "started", "generated", "run_time", "start_time")
        }
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


TESTINFRA_SUITE = """
import os
import pytest

EVENTS = os.environ["FP_EVENTS"]


def event(*words):
    with open(EVENTS, "a") as f:
        f.write(" ".join(words) + "\\n")


@pytest.fixture(scope="module")
def kernel(host, host_spec):
    # a module fixture on testinfra's host: once per host and module, as on the item path
    name = host.run("uname -s").stdout.strip()
    event("setup", __name__, name, host_spec.id)
    yield name
    event("teardown", __name__, host_spec.id)


@pytest.fixture(scope="module")
def shared_thing():
    event("setup-shared", __name__)
    yield "shared"
    event("teardown-shared", __name__)


def test_kernel(host, kernel):
    assert kernel == "Linux"


def test_user(host, shared_thing):
    assert host.user().name == "fptest"
    print("user checked")


def test_fails_on_web3(host, kernel, host_spec):
    assert host.run("echo $((1+1))").stdout == "2\\n"
    assert host_spec.id != "web3", "web3 is the odd one"


def test_no_host():
    assert True


class TestGrouped:
    @pytest.fixture(scope="class")
    def home(self, host):
        return host.file("/home/fptest").is_directory

    def test_home(self, host, home):
        assert home
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_testinfra_host_runs_test_by_test_with_per_host_verdicts(
    pytester: pytest.Pytester, fleet_args: list[str], tmp_path: Path, xdist: list[str]
) -> None:
    """testinfra's module-scoped ``host``: in fleet mode the module runs test by test, each
    test's hosts at once, and every host keeps its own module fixtures (set up once, torn
    down once, at the module's end) and its own verdicts, as on the item path; with xdist,
    each worker so for its hosts."""
    pytester.makepyfile(test_ti_a=TESTINFRA_SUITE, test_ti_b=TESTINFRA_SUITE)
    events = {mode: tmp_path / f"{mode}.events" for mode in ("items", "fleet")}
    env = {mode: {"FP_EVENTS": str(path)} for mode, path in events.items()}
    items, fleet = run_both(pytester, fleet_args, *xdist, env=env)
    counts = dict(passed=2 * (4 * 4 + 1) - 2, failed=2)
    items.assert_outcomes(**counts)
    fleet.assert_outcomes(**counts)
    a, b = junit_cases(pytester.path / "items.xml"), junit_cases(pytester.path / "fleet.xml")
    assert len(a) == 2 * (4 * 4 + 1)
    assert a == b
    assert host_report(pytester.path / "items.json") == host_report(pytester.path / "fleet.json")
    if not xdist:  # (the controller collects nothing to announce)
        fleet.stdout.fnmatch_lines(
            ["fabricplus: fleet mode: 8 tests on 32 host items run each test's hosts at once"]
        )
    assert "runs host by host" not in fleet.stdout.str()
    workers = 2 if xdist else 1
    # each host's module fixture: set up once and torn down once per module, on both paths;
    # in fleet mode all hosts' exist at once, and all end before the next module starts
    for mode in ("items", "fleet"):
        lines = events[mode].read_text().splitlines()
        for module in ("test_ti_a", "test_ti_b"):
            setups = [ln.split()[3] for ln in lines if ln.startswith(f"setup {module} ")]
            teardowns = [ln.split()[2] for ln in lines if ln.startswith(f"teardown {module} ")]
            assert sorted(setups) == sorted(teardowns) == list(HOSTS), (mode, lines)
            shared = lines.count(f"setup-shared {module}")
            assert 1 <= shared <= workers, (mode, lines)
            assert lines.count(f"teardown-shared {module}") == shared, (mode, lines)
        if xdist:
            return  # (the workers' events interleave)
        first_b = min(i for i, ln in enumerate(lines) if " test_ti_b" in ln)
        assert all(" test_ti_a" in ln for ln in lines[:first_b]), (mode, lines)
    fleet_lines = events["fleet"].read_text().splitlines()
    a_lines = [ln for ln in fleet_lines if " test_ti_a" in ln and "shared" not in ln]
    assert [ln.split()[0] for ln in a_lines] == ["setup"] * 4 + ["teardown"] * 4
    assert fleet_lines.index("teardown-shared test_ti_a") > fleet_lines.index(a_lines[-1])


def test_a_module_fixture_that_gets_the_host_dynamically_is_per_host(
    pytester: pytest.Pytester, fleet_args: list[str]
) -> None:
    """``request.getfixturevalue("host")`` in a module fixture: not in its arguments, still
    one value per host (else the first host's value would serve all)."""
    pytester.makepyfile(
        test_dyn="""
import pytest

@pytest.fixture(scope="module")
def name(request):
    host = request.getfixturevalue("host")
    return request.getfixturevalue("host_spec").id, host.run("echo $PPID").stdout

def test_first(host, host_spec, name):
    assert name[0] == host_spec.id

def test_second(host, host_spec, name):
    assert name[0] == host_spec.id
"""
    )
    result = pytester.runpytest(*fleet_args, "--fleet")
    result.assert_outcomes(passed=8)
    assert "runs host by host" not in result.stdout.str()


def test_a_module_with_a_process_wide_fixture_runs_host_by_host_with_a_note(
    pytester: pytest.Pytester, fleet_args: list[str]
) -> None:
    pytester.makepyfile(
        test_ti="""
def test_kernel(host):
    assert host.run("uname -s").stdout.strip() == "Linux"

def test_printed(host, capsys):
    print("x")
    assert capsys.readouterr().out == "x\\n"
"""
    )
    result = pytester.runpytest(*fleet_args, "--fleet", "-v")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(
        [
            "fabricplus: fleet mode: test_ti.py::test_kernel runs host by host: its host is "
            "module-scoped and its module cannot run test by test: test_printed uses capsys "
            "(process-wide)",
            "fabricplus: fleet mode: test_ti.py::test_printed runs host by host: uses capsys "
            "(process-wide)",
        ]
    )


def test_fleet_is_an_ini_key_and_a_header_line(
    pytester: pytest.Pytester, fleet_args: list[str]
) -> None:
    pytester.makeini("[pytest]\nfabricplus_fleet = true\n")
    pytester.makepyfile("def test_x(connection):\n    assert connection.run('true').ok\n")
    result = pytester.runpytest(*fleet_args)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "fabricplus: fleet mode: each test's hosts at once (cooperative bodies)",
            "fabricplus: fleet mode: 1 tests on 4 host items run each test's hosts at once",
        ]
    )
    # a bound only where there is one: threads, or an explicit --max-connections
    threads = pytester.runpytest(*fleet_args, "--fleet-bodies=threads")
    threads.stdout.fnmatch_lines(
        ["fabricplus: fleet mode: each test's hosts at once, up to 32 (threads bodies)"]
    )
    bounded = pytester.runpytest(*fleet_args, "--max-connections=3")
    bounded.stdout.fnmatch_lines(
        ["fabricplus: fleet mode: each test's hosts at once, up to 3 (cooperative bodies)"]
    )


def test_exitfirst_stops_at_the_same_report(
    pytester: pytest.Pytester, fleet_args: list[str]
) -> None:
    """``-x``: the first failure ends the run after the same reports (the group's other
    hosts ran, their results are not shown, as the item path never ran them)."""
    pytester.makepyfile(
        """
        def test_a(host_spec):
            assert host_spec.id != "web2"

        def test_b(host_spec):
            pass
        """
    )
    for mode in ([], ["--fleet"]):
        result = pytester.runpytest(*fleet_args, "-x", "-v", *mode)
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(
            [
                "*test_a[[]web1[]] PASSED*",
                "*test_a[[]web2[]] FAILED*",
                "*stopping after 1 failures*",
            ]
        )
        assert "test_b" not in result.stdout.str()


PARAMETRIZED = """
import pytest


@pytest.mark.parametrize("package", ["openssh-server", "no-such-package"])
def test_package(connection, host_spec, package):
    print("checking", package, "on", host_spec.id)
    assert package != "no-such-package" or host_spec.id == "web3", f"{package} on {host_spec.id}"
"""


def test_another_parametrization_keeps_each_values_hosts_together(
    pytester: pytest.Pytester, fleet_args: list[str]
) -> None:
    """pytest orders ``test_package[web1-a]``, ``[web1-b]``, ``[web2-a]``...; fleet mode puts
    each value's hosts together (and runs them at once), with the same results per item."""
    pytester.makepyfile(test_param=PARAMETRIZED)
    items, fleet = run_both(pytester, fleet_args, "-v")
    items.assert_outcomes(passed=5, failed=3)
    fleet.assert_outcomes(passed=5, failed=3)
    a, b = junit_cases(pytester.path / "items.xml"), junit_cases(pytester.path / "fleet.xml")
    assert a == b
    fleet.stdout.fnmatch_lines(
        [
            "fabricplus: fleet mode: 2 tests on 8 host items run each test's hosts at once",
            *(f"*test_package[[]{h}-openssh-server[]] PASSED*" for h in HOSTS),
        ]
    )
    assert "runs host by host" not in fleet.stdout.str()


INTERRUPT = """
def test_first(connection):
    connection.run("true")

def test_stops(connection):
    @STOP@

def test_never(connection):
    pass
"""


@pytest.mark.parametrize(
    "stop", ["raise KeyboardInterrupt", "pytest.exit('stop here')"], ids=["ctrl-c", "pytest.exit"]
)
def test_an_interrupted_group_is_recorded_per_host(
    pytester: pytest.Pytester, fleet_args: list[str], stop: str
) -> None:
    """A body that raises KeyboardInterrupt (or calls ``pytest.exit``, whose exception is an
    ``Exception``) stops the run; every host of that test had started (their bodies ran at
    once): each is ``interrupted`` in the report and table."""
    pytester.makepyfile("import pytest\n" + INTERRUPT.replace("@STOP@", stop))
    result = pytester.runpytest_subprocess(
        *fleet_args, "--fleet", "--fabricplus-report=r.json", timeout=300
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    doc = json.loads((pytester.path / "r.json").read_text())
    assert doc["interrupted"] is True
    for host in HOSTS:
        tests = {t["nodeid"].split("::")[-1]: t["outcome"] for t in doc["hosts"][host]["tests"]}
        assert tests == {f"test_first[{host}]": "passed", f"test_stops[{host}]": "interrupted"}
