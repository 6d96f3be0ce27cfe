"""The compliance core without pytest's runner: severity/impact, control markers' arguments,
waiver files and matching, scores, the baseline diff and the document."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pytest_fabricplus.compliance import baseline, scores
from pytest_fabricplus.compliance.document import ComplianceRun, RawResult
from pytest_fabricplus.compliance.model import (
    Control,
    impact_from_severity,
    os_release_platform,
    severity_from_impact,
)
from pytest_fabricplus.compliance.waivers import WaiverError, describe_status, find, parse
from pytest_fabricplus.hosts.spec import HostSpec

TODAY = dt.date(2026, 12, 1)


@pytest.mark.parametrize(
    ("impact", "severity"),
    [
        (0.0, "none"),
        (0.09, "none"),
        (0.1, "low"),
        (0.39, "low"),
        (0.4, "medium"),
        (0.69, "medium"),
        (0.7, "high"),
        (0.89, "high"),
        (0.9, "critical"),
        (1.0, "critical"),
    ],
)
def test_severity_from_impact_as_inspec(impact: float, severity: str) -> None:
    assert severity_from_impact(impact) == severity


def test_impact_from_severity_as_inspec() -> None:
    assert [impact_from_severity(s) for s in ("none", "low", "medium", "high", "critical")] == [
        0.0,
        0.1,
        0.4,
        0.7,
        0.9,
    ]
    with pytest.raises(ValueError, match="not one of"):
        impact_from_severity("severe")


def test_control_derives_the_missing_half() -> None:
    assert Control.parse(("A",), {"severity": "HIGH"}).resolved() == ("high", 0.7)
    assert Control.parse(("A",), {"impact": 0.95}).resolved() == ("critical", 0.95)
    assert Control.parse(("A",), {}).resolved() == ("medium", 0.5)  # InSpec's default 0.5


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((), {}, "one control id"),
        (("",), {}, "non-empty string"),
        ((3,), {}, "non-empty string"),
        (("A",), {"severity": "urgent"}, "severity='urgent'"),
        (("A",), {"impact": -0.1}, "impact=-0.1"),
        (("A",), {"impact": True}, "impact=True"),
        (("A",), {"impact": "0.5"}, "impact='0.5'"),
        (("A",), {"refs": "x"}, "refs= must be a list of strings"),
        (("A",), {"tags": ["a", 1]}, "tags= must be a list of strings"),
        (("A",), {"owner": "me"}, "unknown keyword"),
        (("A",), {"title": 5}, "title= must be a string"),
    ],
)
def test_bad_control_arguments(
    args: tuple[object, ...], kwargs: dict[str, object], error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        Control.parse(args, kwargs)


def test_merge_metadata_given_once_and_conflicts() -> None:
    first = Control.parse(("A",), {"title": "T", "severity": "low"})
    bare = Control.parse(("A",), {})
    assert bare.merge(first) == first
    assert first.merge(Control.parse(("A",), {"tags": ["x"]})).tags == ("x",)
    with pytest.raises(ValueError, match="severity='low' vs severity='high'"):
        first.merge(Control.parse(("A",), {"severity": "high"}))


WAIVERS = """\
- control: C-1
  hosts: "web*,!web3"
  justification: legacy
  expires: 2026-12-01
- test: "t.py::test_x*"
  justification: flaky
  run: false
- control: C-2
  justification: old
  expires: 2026-11-30
- control: C-2
  hosts: web2
  justification: renewed
"""


def spec(name: str) -> HostSpec:
    return HostSpec(host=name, alias=name)


def test_parse_waivers() -> None:
    w1, w2, _w3, w4 = parse(WAIVERS, "w.yml")
    assert (w1.control, w1.hosts, w1.expires, w1.run, w1.source) == (
        "C-1",
        "web*,!web3",
        dt.date(2026, 12, 1),
        True,
        "w.yml:1",
    )
    assert (w2.test, w2.run, w2.source) == ("t.py::test_x*", False, "w.yml:5")
    assert w4.source == "w.yml:11"
    assert parse("", "w.yml") == []


def test_matching_hosts_and_expiry() -> None:
    waivers = parse(WAIVERS, "w.yml")
    args = ("t.py::test_a[web1]", "t.py::test_a")
    match = find(waivers, "C-1", *args, "web1", spec("web1"), TODAY)
    assert match is not None
    assert not match.expired  # valid through its expiry day
    assert find(waivers, "C-1", *args, "web3", spec("web3"), TODAY) is None
    assert find(waivers, "C-1", *args, "db1", spec("db1"), TODAY) is None
    later = find(waivers, "C-1", *args, "web1", spec("web1"), TODAY + dt.timedelta(days=1))
    assert later is not None
    assert later.expired
    # the expired C-2 waiver gives way to a valid one for web2; web1 has only the expired one
    w2 = find(waivers, "C-2", *args, "web2", spec("web2"), TODAY)
    assert w2 is not None
    assert (w2.waiver.justification, w2.expired) == ("renewed", False)
    w1 = find(waivers, "C-2", *args, "web1", spec("web1"), TODAY)
    assert w1 is not None
    assert (w1.waiver.justification, w1.expired) == ("old", True)
    # test globs match the nodeid with or without the host part
    hit = find(waivers, None, "t.py::test_xy[web1]", "t.py::test_xy", "web1", None, TODAY)
    assert hit is not None
    assert hit.waiver.run is False


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("- control: A\n  justification: [x\n", "w.yml:3: not valid YAML"),
        ("- control: A\n", "w.yml:1: the waiver has no justification"),
        ("- control: A\n  justification: ''\n", "w.yml:2: justification must be a non-empty"),
        ("- control: A\n  justification: j\n  expires: 31.12.2027\n", "w.yml:3: expires:"),
        ("- control: A\n  justification: j\n  expires: 2027-1-5\n", "w.yml:3: expires:"),
        ("- justification: j\n  control: A\n  reason: r\n", "w.yml:3: unknown key 'reason'"),
        ("- justification: j\n", "w.yml:1: a waiver names exactly one of"),
        ("- control: A\n  justification: j\n  run: 0\n", "w.yml:3: run: must be true or false"),
        ("- [a]\n", "w.yml:1: a waiver is a mapping"),
        ("{}\n", "w.yml:1: a waivers file is a YAML list"),
    ],
)
def test_broken_waivers_name_file_and_line(text: str, error: str) -> None:
    with pytest.raises(WaiverError, match=error):
        parse(text, "w.yml")


def test_scores() -> None:
    c = scores.counts(["passed", "passed", "failed", "waived", "skipped", "error"])
    assert c == {
        "passed": 2,
        "failed": 1,
        "error": 1,
        "skipped": 1,
        "waived": 1,
        "not-applicable": 0,
    }
    # Heimdall: Passed / (Passed + Failed + Not Reviewed + Profile Error), N/A left out
    hdf = {"Passed": 2, "Failed": 2, "Not Reviewed": 1, "Profile Error": 1, "Not Applicable": 3}
    assert scores.score(hdf) == 33.33
    assert (
        scores.score({**hdf, "Passed": 0, "Failed": 0, "Not Reviewed": 0, "Profile Error": 0})
        is None
    )
    # saf threshold rounds as JavaScript's Math.round: 79.5 passes 80, 79.49 does not
    assert scores.below({"a": 79.49, "b": 79.5, "c": None, "d": 80.0}, 80.0) == {
        "a": 79.49,
        "c": None,
    }
    assert list(scores.failed_by_severity(["low", "high", "low"]).items()) == [
        ("critical", 0),
        ("high", 1),
        ("medium", 0),
        ("low", 2),
        ("none", 0),
    ]


def test_baseline_diff() -> None:
    old = {
        ("h1", "A"): "passed",
        ("h1", "B"): "failed",
        ("h2", "A"): "error",
        ("h2", "C"): "waived",
    }
    new = {
        ("h1", "A"): "failed",  # new
        ("h1", "B"): "passed",  # fixed
        ("h2", "A"): "failed",  # still failing
        ("h2", "C"): "failed",  # was waived: new
        ("h3", "A"): "error",  # absent before: new
    }
    assert baseline.diff(old, new) == {
        "new_failures": [
            {"host": "h1", "control": "A"},
            {"host": "h2", "control": "C"},
            {"host": "h3", "control": "A"},
        ],
        "fixed": [{"host": "h1", "control": "B"}],
    }


def raw(
    host: str, control: str, outcome: str, test: str = "test_a", message: str = ""
) -> RawResult:
    base = f"t.py::{test}"
    return RawResult(host, control, f"{base}[{host}]", base, outcome, message, 0.5, "t0")


def test_document() -> None:
    waivers = parse(WAIVERS, "w.yml")
    run = ComplianceRun(
        waivers,
        {h: spec(h) for h in ("web1", "web2")},
        TODAY,
        redact=lambda s: s.replace("hunter2", "********"),
    )
    run.add_control(Control.parse(("C-1",), {"severity": "high", "title": "One"}), "t.py::test_a")
    run.add_control(Control.parse(("C-1",), {}), "t.py::test_b")
    run.add_control(Control.parse(("C-2",), {"impact": 0.95}), "t.py::test_c")
    run.add(raw("web1", "C-1", "passed"))
    run.add(raw("web1", "C-1", "failed", "test_b", "AssertionError: hunter2"))
    run.add(raw("web2", "C-1", "passed"))
    run.add(raw("web2", "C-1", "skipped", "test_b", "not applicable"))
    run.add(raw("web1", "C-2", "failed", "test_c", "boom"))
    run.add(raw("web2", "C-2", "passed", "test_c"))
    doc = run.document({"tool": "t"}, 90.0, 1, None)
    assert doc["version"] == 1
    assert doc["threshold"] == 90.0
    assert doc["controls"]["C-1"]["tests"] == ["t.py::test_a", "t.py::test_b"]
    assert doc["controls"]["C-1"]["title"] == "One"
    assert doc["controls"]["C-2"]["severity"] == "critical"
    web1 = doc["hosts"]["web1"]
    assert web1["controls"]["C-1"]["status"] == "waived"
    assert "hunter2" not in web1["controls"]["C-1"]["message"]
    assert web1["controls"]["C-1"]["waiver"]["source"] == "w.yml:1"
    assert web1["controls"]["C-2"]["status"] == "failed"
    assert web1["controls"]["C-2"]["message"].startswith("waiver expired on 2026-11-30 (w.yml:8")
    # Heimdall counts a waived failure (run: true) as Failed, like InSpec keeps its results
    assert web1["hdf_counts"]["Failed"] == 2
    assert web1["score"] == 0.0
    assert web1["failed_by_severity"]["critical"] == 1
    assert web1["controls"]["C-1"]["duration"] == 1.0
    web2 = doc["hosts"]["web2"]
    assert web2["controls"]["C-1"]["status"] == "passed"  # a skip does not make it skipped
    assert web2["score"] == 100.0
    rows = {w["source"]: w["status"] for w in doc["waivers"]}
    assert rows == {
        "w.yml:1": "applied",
        "w.yml:5": "matched-no-test",
        "w.yml:8": "expired",
        "w.yml:11": "not-needed",
    }
    on_hosts = {w["source"]: w["on_hosts"] for w in doc["waivers"]}
    # web2 skipped C-1's second test: the waiver was not needed there, it was not tested
    assert on_hosts["w.yml:1"] == {"web1": "applied", "web2": "skipped"}
    assert on_hosts["w.yml:8"] == {"web1": "expired", "web2": "not-needed"}
    assert on_hosts["w.yml:11"] == {"web2": "not-needed"}
    assert run.failures() == [("web1", "C-2", web1["controls"]["C-2"]["message"])]


def test_baseline_files(tmp_path: Path) -> None:
    good = tmp_path / "old.json"
    good.write_text(
        json.dumps({"version": 1, "hosts": {"h": {"controls": {"A": {"status": "failed"}}}}})
    )
    assert baseline.statuses(baseline.load(str(good))) == {("h", "A"): "failed"}
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(baseline.BaselineError, match=r"bad\.json: the baseline is not JSON"):
        baseline.load(str(bad))
    other = tmp_path / "other.json"
    other.write_text("[1, 2]")
    with pytest.raises(baseline.BaselineError, match="not a --compliance-json document"):
        baseline.load(str(other))


def _waiver_run(text: str, hosts: list[str], selected: list[str] | None = None) -> ComplianceRun:
    run = ComplianceRun(
        parse(text, "w.yml"), {h: spec(h) for h in hosts}, TODAY, selected=selected or hosts
    )
    run.add_control(Control.parse(("CIS 1.1",), {}), "t.py::test_a")
    return run


def test_a_waiver_whose_hosts_match_nothing_is_never_not_needed() -> None:
    # the typo: db-1 for db1, and the control FAILED on db1
    run = _waiver_run("- control: CIS 1.1\n  hosts: db-1\n  justification: j\n", ["db1", "db2"])
    run.add(raw("db1", "CIS 1.1", "failed", message="AssertionError"))
    run.add(raw("db2", "CIS 1.1", "passed"))
    (row,) = run.waiver_rows()
    assert row["status"] == "matched-no-host"
    assert row["on_hosts"] == {}
    assert run.hosts["db1"]["CIS 1.1"].status == "failed"
    assert describe_status(row) == ("matched-no-host: hosts 'db-1' select none of this run's hosts")


def test_a_waiver_is_not_needed_only_where_every_matched_host_passed() -> None:
    text = '- control: CIS 1.1\n  hosts: "web*"\n  justification: j\n'
    hosts = ["web1", "web2", "web3"]
    # --lf: only web1's test ran (and passed); web2 errored; web3 did not run
    run = _waiver_run(text, hosts)
    run.add(raw("web1", "CIS 1.1", "passed"))
    run.add(raw("web2", "CIS 1.1", "error", message="CommandTimeout"))
    (row,) = run.waiver_rows()
    assert row["status"] == "not-applied"
    assert row["on_hosts"] == {"web1": "not-needed", "web2": "errored", "web3": "not-run"}
    assert row["not_needed_on"] == ["web1"]
    assert describe_status(row) == (
        "not-applied: not applied, the control errored (waivers do not cover errors) on web2; "
        "did not run on web3; not needed, passed on web1"
    )
    # every matched host passed: not needed
    run = _waiver_run(text, hosts)
    for h in hosts:
        run.add(raw(h, "CIS 1.1", "passed"))
    (row,) = run.waiver_rows()
    assert row["status"] == "not-needed"
    assert describe_status(row) == "not-needed: not needed, passed on web1, web2, web3"
    # applied on one host, the others named
    run = _waiver_run(text, hosts)
    run.add(raw("web1", "CIS 1.1", "failed"))
    run.add(raw("web2", "CIS 1.1", "passed"))
    (row,) = run.waiver_rows()
    assert row["status"] == "applied"
    assert row["on_hosts"] == {"web1": "applied", "web2": "not-needed", "web3": "not-run"}
    # its control ran nowhere
    run = _waiver_run("- control: CIS 9.9\n  justification: j\n", hosts)
    run.add(raw("web1", "CIS 1.1", "passed"))
    (row,) = run.waiver_rows()
    assert row["status"] == "matched-no-control"


@pytest.mark.parametrize(
    ("hosts", "error"),
    [
        ('"web[["', r"w\.yml:2: hosts: 'web\[\[': the '\[' at position 4 is never closed"),
        ('"db1,web["', r"w\.yml:2: hosts: 'web\[': the '\[' at position 4 is never closed"),
        ('"~web("', r"w\.yml:2: hosts: '~web\(' is not a regular expression"),
        ('"web1:!"', r"w\.yml:2: hosts: '!' is an empty pattern"),
    ],
)
def test_bad_host_patterns_are_errors_at_load(hosts: str, error: str) -> None:
    with pytest.raises(WaiverError, match=error):
        parse(f"- control: A\n  hosts: {hosts}\n  justification: j\n", "w.yml")


@pytest.mark.parametrize("hosts", ["web[12]", "web[!3]", "web[]]", "tag:db,!web3", "~web[0-9]+"])
def test_good_host_patterns_load(hosts: str) -> None:
    (w,) = parse(f'- control: A\n  hosts: "{hosts}"\n  justification: j\n', "w.yml")
    assert w.hosts == hosts


def test_not_applicable_and_unreachable_hosts_score_as_heimdall() -> None:
    run = ComplianceRun(
        parse("- control: C-3\n  justification: j\n  run: false\n", "w.yml"),
        {h: spec(h) for h in ("web1", "dead")},
        TODAY,
        selected=["web1", "dead", "never"],
    )
    for cid, sev in (("C-1", "high"), ("C-2", "high"), ("C-3", "high"), ("C-4", "none")):
        run.add_control(Control.parse((cid,), {"severity": sev}), f"t.py::test_{cid}")
    run.add(raw("web1", "C-1", "passed", "test_C-1"))
    run.add(raw("web1", "C-2", "not-applicable", "test_C-2", "not applicable: no sshd"))
    run.add(raw("web1", "C-3", "not-run", "test_C-3"))
    run.add(raw("web1", "C-4", "failed", "test_C-4"))  # impact 0: Not Applicable anyway
    run.unreachable["dead"] = "refused: connection refused"
    run.add(raw("dead", "C-1", "error", "test_C-1", "HostUnreachable"))
    run.add(raw("dead", "C-3", "not-run", "test_C-3"))
    doc = run.document({"selected": ["web1", "dead", "never"]}, 80.0, 1, None)
    web1 = doc["hosts"]["web1"]
    assert web1["controls"]["C-2"]["status"] == "not-applicable"
    assert web1["hdf_counts"] == {
        "Passed": 1,
        "Failed": 0,
        "Not Reviewed": 0,
        "Profile Error": 0,
        "Not Applicable": 3,
    }
    assert web1["score"] == 100.0
    dead = doc["hosts"]["dead"]
    assert dead["controls"]["C-3"]["status"] == "waived"  # run: false: reported, not a pass
    assert dead["score"] is None
    assert scores.gate_failures(doc, 80.0) == [
        "never: selected, but no result for it in this run (not scored)",
        "dead: unreachable: refused: connection refused (not scored)",
    ]


def test_no_verdict_without_hosts() -> None:
    run = ComplianceRun(selected=["h4", "h7"])
    doc = run.document({"selected": ["h4", "h7"]}, 90.0, 5, None)
    assert scores.gate_failures(doc, 90.0) == [
        "h4: selected, but no result for it in this run (not scored)",
        "h7: selected, but no result for it in this run (not scored)",
    ]
    empty = ComplianceRun(selected=[]).document({"selected": []}, 90.0, 5, None)
    assert scores.gate_failures(empty, None) == [
        "no host was tested (exit status 5): nothing to score"
    ]


def test_os_release_platform() -> None:
    text = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
    assert os_release_platform(text) == {"name": "debian", "release": "12"}
    assert os_release_platform("ID='Ubuntu'\nVERSION_ID=22.04\n") == {
        "name": "ubuntu",
        "release": "22.04",
    }
    assert os_release_platform("# nothing\n") == {}
