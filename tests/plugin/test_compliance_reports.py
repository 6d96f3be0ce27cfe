"""A real run's reports, end to end: ``--compliance-report`` opened in headless Chromium and
read from its DOM, ``--inspec-json`` validated against InSpec's and Heimdall's schemas — the
same host x control statuses as the ``--compliance-json`` document, with and without xdist."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

from testing.targets import Target
from tests.plugin.test_compliance import EXPECTED, run
from tests.unit.test_html_report import CHROMIUM, _dump_dom, _parse

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "inspec"


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("FABRICPLUS_NEED_CHROMIUM") == "1":
            pytest.fail("chromium is not installed and FABRICPLUS_NEED_CHROMIUM=1")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.mark.parametrize("workers", ["0", "2"])
def test_html_and_inspec_reports_of_a_real_run(
    pytester: pytest.Pytester,
    sshd: Target,
    sshd2: Target,
    both_known_hosts: Path,
    chromium: str,
    workers: str,
) -> None:
    result = run(
        pytester,
        sshd,
        sshd2,
        both_known_hosts,
        "-n",
        workers,
        "--compliance-json=out/c.json",
        "--compliance-report=out/report.html",
        "--inspec-json=out/inspec",
    )
    assert result.ret == 1  # unwaived failures (CIS 1.2 on web2, CIS 1.4 expired)
    out = pytester.path / "out"
    result.stdout.fnmatch_lines(["*HTML compliance report written to out/report.html*"])
    # the per-host table counts waived tests apart (web1: CIS 1.3 and the run: false one)
    result.stdout.re_match_lines([r"^host +passed +failed +error +skipped +waived$"])
    result.stdout.re_match_lines([r"^web1 +\d+ +\d+ +0 +0 +2$"])
    document = json.loads((out / "c.json").read_text())
    expected = {
        (host, cid): status
        for host, controls in EXPECTED.items()
        for cid, status in controls.items()
    }
    assert {
        (h, c): d["status"]
        for h, data in document["hosts"].items()
        for c, d in data["controls"].items()
    } == expected
    # the page, as a browser builds it
    dom = _parse(_dump_dom(chromium, (out / "report.html").as_uri()))
    cells = {(c["data-host"], c["data-control"]): c["data-status"] for c in dom.cells}
    assert cells == expected
    failed = _parse(_dump_dom(chromium, (out / "report.html").as_uri() + "#status=failed"))
    visible = {c["data-host"] for c in failed.cells} - failed.hidden_rows
    assert visible == {"web1", "web2"}  # both hosts have a failure
    # InSpec exec-JSON, one document per host, valid for InSpec and Heimdall
    schemas = [json.loads(p.read_text()) for p in sorted(SCHEMAS.glob("*.schema.json"))]
    assert len(schemas) == 2
    files = sorted((out / "inspec").glob("*.json"))
    assert [f.stem for f in files] == ["web1", "web2"]
    for path in files:
        doc = json.loads(path.read_text())
        for schema in schemas:
            jsonschema.validate(doc, schema)
        controls = {c["id"]: c for c in doc["profiles"][0]["controls"]}
        assert set(controls) == set(EXPECTED[path.stem])
        waived = [cid for cid, status in EXPECTED[path.stem].items() if status == "waived"]
        for cid in waived:
            assert controls[cid]["waiver_data"]["justification"]


@pytest.fixture(scope="module")
def inspecjs() -> str:
    from testing import inspecjs as ijs

    found = ijs.module()
    if found is None:
        if os.environ.get("FABRICPLUS_NEED_INSPECJS") == "1":
            pytest.fail("node or inspecjs is missing and FABRICPLUS_NEED_INSPECJS=1")
        pytest.skip("inspecjs is not installed (FABRICPLUS_NEED_INSPECJS=1 scripts/setup.sh)")
    return found


@pytest.mark.parametrize(("threshold", "ret"), [("40", 0), ("41", 1), ("61", 1)])
def test_saf_threshold_on_our_files_agrees_with_our_gate(
    pytester: pytest.Pytester,
    sshd: Target,
    sshd2: Target,
    both_known_hosts: Path,
    inspecjs: str,
    threshold: str,
    ret: int,
) -> None:
    from testing import inspecjs as ijs

    result = run(
        pytester,
        sshd,
        sshd2,
        both_known_hosts,
        f"--compliance-fail-under={threshold}",
        "--compliance-json=c.json",
        "--inspec-json=inspec",
    )
    assert result.ret == ret
    document = json.loads((pytester.path / "c.json").read_text())
    files = sorted(str(p) for p in (pytester.path / "inspec").glob("*.json"))
    counted = ijs.status_counts(inspecjs, files)
    verdicts = {}
    for path, n in counted.items():
        host = Path(path).stem
        assert document["hosts"][host]["score"] == pytest.approx(ijs.compliance(n), abs=0.005)
        verdicts[host] = ijs.saf_threshold_passes(n, float(threshold))
    assert sorted(verdicts) == ["web1", "web2"]
    # saf threshold passes every file exactly when our gate passes the run
    assert all(verdicts.values()) == (ret == 0)
    failing = {h for h, ok in verdicts.items() if not ok}
    for host in failing:
        result.stdout.fnmatch_lines([f"BELOW THRESHOLD {host}: score *"])
    for host in set(verdicts) - failing:
        result.stdout.no_fnmatch_line(f"BELOW THRESHOLD {host}:*")
