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
            assert {c["id"] for c in doc["profiles"][0]["controls"]} == set(source["controls"])
