"""InSpec exec-JSON per host (``pytest_fabricplus.compliance.inspec``), checked against InSpec's
own schema (``inspec schema exec-json``) and Heimdall's (tests/data/inspec/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from pytest_fabricplus.compliance.inspec import (
    inspec_documents,
    safe_file_name,
    write_inspec_dir,
)
from testing.compliance_docs import control_id, make_document

DATA = Path(__file__).resolve().parents[1] / "data" / "inspec"


@pytest.fixture(scope="module")
def schemas() -> list[dict]:
    return [
        json.loads((DATA / name).read_text())
        for name in ("exec-json.schema.json", "heimdall-exec-json.schema.json")
    ]


def _controls(doc: dict) -> dict[str, dict]:
    return {c["id"]: c for c in doc["profiles"][0]["controls"]}


def test_every_host_document_validates_against_inspec_and_heimdall_schemas(schemas) -> None:
    docs = inspec_documents(make_document(hosts=5, controls=14))
    assert sorted(docs) == ["web1", "web2", "web3", "web4", "web5"]
    for schema in schemas:
        validator = jsonschema.Draft4Validator(schema)
        for host, doc in docs.items():
            errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
            assert errors == [], host


def test_the_schema_check_catches_a_wrong_status(schemas) -> None:
    doc = inspec_documents(make_document(hosts=1, controls=2))["web1"]
    doc["profiles"][0]["controls"][0]["results"][0]["status"] = "error"
    # (Draft4Validator directly: InSpec's schema has empty "required" lists, which the
    # draft-4 meta-schema rejects, so jsonschema.validate's schema check would refuse it)
    errors = list(jsonschema.Draft4Validator(schemas[0]).iter_errors(doc))
    assert [e.message for e in errors] == ["'error' is not one of ['passed', 'failed', 'skipped']"]


def test_statuses_messages_and_metadata() -> None:
    source = make_document(hosts=4, controls=8)
    docs = inspec_documents(source)
    for host, doc in docs.items():
        assert doc["platform"]["target_id"] == host
        for cid, ctl in _controls(doc).items():
            entry = source["hosts"][host]["controls"][cid]
            meta = source["controls"][cid]
            assert ctl["title"] == meta["title"]
            assert ctl["impact"] == meta["impact"]
            assert ctl["tags"]["severity"] == meta["severity"]
            assert ctl["tags"]["fabricplus_status"] == entry["status"]
            assert {"ssh", "group0", "group1", "group2"} >= set(ctl["tags"]) - {
                "severity",
                "fabricplus_status",
            }
            assert ctl["refs"] == [{"url": meta["refs"][0]}]
            assert ctl["desc"] == meta["description"]
            statuses = [r["status"] for r in ctl["results"]]
            if entry["status"] == "passed":
                assert statuses
                assert set(statuses) == {"passed"}
                assert all("message" not in r for r in ctl["results"])
            elif entry["status"] == "failed":
                assert "failed" in statuses
                assert all(r["message"] == entry["message"] for r in ctl["results"])
            elif entry["status"] == "error":
                assert set(statuses) == {"failed"}
                assert all(r["backtrace"] and r["exception"] for r in ctl["results"])
            elif entry["status"] == "skipped":
                assert set(statuses) == {"skipped"}
                assert ctl["results"][0]["skip_message"] == entry["message"]
            for r in ctl["results"]:
                assert r["code_desc"]
                assert r["start_time"]
                assert isinstance(r["run_time"], float)


def test_waiver_data_as_inspec_writes_it() -> None:
    source = make_document(hosts=3, controls=5, unreachable=False)
    docs = inspec_documents(source)
    waived = _controls(docs["web1"])[control_id(1)]  # run: true, applied on web1
    assert waived["waiver_data"] == {
        "justification": "Ticket SEC-42: <migration> pending & approved",
        "run": True,
        "skipped_due_to_waiver": False,
        "message": "",
        "expiration_date": "2027-01-31",
    }
    assert [r["status"] for r in waived["results"]] == ["failed", "failed"]  # real results kept
    norun = _controls(docs["web2"])[control_id(3)]  # run: false
    assert norun["waiver_data"]["skipped_due_to_waiver"] is True
    assert norun["waiver_data"]["run"] is False
    assert [r["status"] for r in norun["results"]] == ["skipped"]
    assert norun["results"][0]["skip_message"] == norun["waiver_data"]["justification"]
    expired = _controls(docs["web1"])[control_id(2)]
    assert expired["waiver_data"]["message"] == (
        "Waiver expired on 2026-11-01, evaluating control normally"
    )
    assert expired["results"][0]["status"] == "failed"
    plain = _controls(docs["web2"])[control_id(0)]
    assert plain["waiver_data"] == {}


def test_unreachable_host_every_control_failed_with_the_cause() -> None:
    docs = inspec_documents(make_document(hosts=3, controls=4))
    for ctl in _controls(docs["web3"]).values():
        (result,) = ctl["results"][:1]
        assert result["status"] == "failed"
        assert result["exception"] == "HostUnreachable"
        assert "connection refused" in result["message"]
    assert docs["web3"]["platform"]["name"] == "unknown"


def test_write_inspec_dir_one_file_per_host_with_safe_names(tmp_path: Path) -> None:
    source = make_document(hosts=2, controls=3, unreachable=False)
    source["hosts"]["../etc/passwd"] = source["hosts"]["web1"]
    source["hosts"]["deploy@h:22"] = source["hosts"]["web2"]
    source["hosts"]["deploy@h/22"] = source["hosts"]["web2"]
    paths = write_inspec_dir(source, str(tmp_path / "inspec"))
    names = sorted(p.name for p in paths)
    assert names == sorted(
        ["web1.json", "web2.json", "_.._etc_passwd.json", "deploy@h_22.json", "deploy@h_22-2.json"]
    )
    assert all(p.parent == tmp_path / "inspec" for p in paths)
    doc = json.loads((tmp_path / "inspec" / "web1.json").read_text())
    assert doc["platform"]["target_id"] == "web1"


@pytest.mark.parametrize(
    ("host", "name"), [("web1", "web1"), ("a b/c", "a_b_c"), (".hidden", "_.hidden"), ("", "_")]
)
def test_safe_file_name(host: str, name: str) -> None:
    assert safe_file_name(host) == name


def test_a_document_written_by_the_compliance_core_validates(schemas) -> None:
    source = json.loads((DATA.parent / "compliance" / "example-run.json").read_text())
    docs = inspec_documents(source)
    assert sorted(docs) == sorted(source["hosts"])
    for schema in schemas:
        for host, doc in docs.items():
            assert list(jsonschema.Draft4Validator(schema).iter_errors(doc)) == [], host
            # a control that did not run on the host is left out (Heimdall: "Profile Error")
            ran = set(source["hosts"][host]["controls"])
            assert {c["id"] for c in doc["profiles"][0]["controls"]} == ran


# -- the score as Heimdall and saf compute it from our files ----------------------------------
# Written from heimdall2's libs/inspecjs (ExecControl.compute_status, compute_segments) and
# saf's src/utils/threshold.ts (extractStatusCounts, calculateCompliance): it reads only the
# InSpec JSON, never our document, so it checks that the files say what our scores say.


def _heimdall_status(control: dict) -> str:
    segments = ["error" if r.get("backtrace") else r.get("status") for r in control["results"]]
    waived = bool((control.get("waiver_data") or {}).get("skipped_due_to_waiver"))
    if "error" in segments:
        return "Profile Error"
    if waived or control["impact"] == 0:
        return "Not Applicable"
    if not segments:
        return "Profile Error"
    for status, name in (("failed", "Failed"), ("passed", "Passed"), ("skipped", "Not Reviewed")):
        if status in segments:
            return name
    return "Profile Error"


def _heimdall_compliance(doc: dict) -> tuple[float, int]:
    """(Heimdall's compliance, saf's Math.round of it)."""
    n: dict[str, int] = {}
    for control in doc["profiles"][0]["controls"]:
        status = _heimdall_status(control)
        n[status] = n.get(status, 0) + 1
    passed = n.get("Passed", 0)
    total = passed + n.get("Failed", 0) + n.get("Not Reviewed", 0) + n.get("Profile Error", 0)
    value = 0.0 if total == 0 else 100 * passed / total
    return value, int(value + 0.5)


def _fixtures() -> list[dict]:
    from pytest_fabricplus.compliance import scores

    docs = [make_document(hosts=6, controls=15, seed=s) for s in (1, 2, 3)]
    docs.append(json.loads((DATA.parent / "compliance" / "example-run.json").read_text()))
    for doc in docs:  # documents written before the Heimdall formula: scores recomputed
        scores.rescore(doc)
    return docs


def test_our_score_is_the_heimdall_and_saf_score_of_our_inspec_json() -> None:
    checked = 0
    fixtures = _fixtures()
    for source in fixtures:
        for host, doc in inspec_documents(source).items():
            ours = source["hosts"][host]["score"]
            theirs, saf = _heimdall_compliance(doc)
            if ours is None:  # not scored: Heimdall and saf show 0
                assert theirs == 0.0, host
            else:
                assert ours == pytest.approx(theirs, abs=0.005), host
                assert int(ours + 0.5) == saf, host
            checked += 1
    assert checked == sum(len(d["hosts"]) for d in fixtures) > 18


def test_not_applicable_is_impact_0_and_a_skip_is_not_reviewed() -> None:
    source = make_document(hosts=2, controls=3, unreachable=False, baseline=False)
    ids = list(source["controls"])
    entries = source["hosts"]["web1"]["controls"]
    entries[ids[1]].update(status="not-applicable", message="not applicable: no sshd here")
    entries[ids[2]].update(status="skipped", message="later", waiver=None)
    for r in entries[ids[1]]["results"]:
        r.update(status="not-applicable", message="not applicable: no sshd here")
    for r in entries[ids[2]]["results"]:
        r.update(status="skipped", message="later")
    controls = _controls(inspec_documents(source)["web1"])
    na, skip = controls[ids[1]], controls[ids[2]]
    assert na["impact"] == 0.0
    assert na["desc"].startswith("not applicable: no sshd here")
    assert na["tags"]["fabricplus_status"] == "not-applicable"
    assert _heimdall_status(na) == "Not Applicable"
    assert skip["impact"] == source["controls"][ids[2]]["impact"] != 0
    assert _heimdall_status(skip) == "Not Reviewed"
    # the other host keeps the declared impact
    assert _controls(inspec_documents(source)["web2"])[ids[1]]["impact"] != 0.0


def test_platform_unknown_is_not_doubled() -> None:
    source = make_document(hosts=3, controls=2)
    source["hosts"]["web1"]["platform"] = {}
    source["hosts"]["web2"]["platform"] = {"name": "debian", "release": "12"}
    docs = inspec_documents(source)
    assert docs["web1"]["platform"]["name"] + docs["web1"]["platform"]["release"] == "unknown"
    assert docs["web2"]["platform"]["name"] + docs["web2"]["platform"]["release"] == "debian12"


# -- the same, by MITRE's own inspecjs (what Heimdall and the SAF CLI run) ---------------------


@pytest.fixture(scope="module")
def inspecjs() -> str:
    """scripts/setup.sh installs it under FABRICPLUS_NEED_INSPECJS=1 (then missing fails)."""
    import os

    from testing import inspecjs as ijs

    found = ijs.module()
    if found is None:
        if os.environ.get("FABRICPLUS_NEED_INSPECJS") == "1":
            pytest.fail(
                "node or inspecjs is missing and FABRICPLUS_NEED_INSPECJS=1: "
                "run scripts/setup.sh with FABRICPLUS_NEED_INSPECJS=1"
            )
        pytest.skip("inspecjs is not installed (FABRICPLUS_NEED_INSPECJS=1 scripts/setup.sh)")
    return found


def test_inspecjs_scores_our_files_as_we_do(inspecjs: str, tmp_path: Path) -> None:
    from testing import inspecjs as ijs

    files: dict[str, tuple[dict, str]] = {}
    for i, source in enumerate(_fixtures()):
        for path in write_inspec_dir(source, str(tmp_path / str(i))):
            files[str(path)] = (source, json.loads(path.read_text())["platform"]["target_id"])
    counted = ijs.status_counts(inspecjs, list(files))
    assert sorted(counted) == sorted(files)
    for path, n in counted.items():
        source, host = files[path]
        ours = source["hosts"][host]["score"]
        assert (0.0 if ours is None else ours) == pytest.approx(ijs.compliance(n), abs=0.005)
        # and the status counts are the ones our document carries
        assert {k: v for k, v in source["hosts"][host]["hdf_counts"].items() if v} == n, host
