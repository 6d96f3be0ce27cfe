"""``python -m pytest_fabricplus merge-reports``: shards' ``--compliance-json`` into one fleet
report (``pytest_fabricplus.compliance.merge``)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_fabricplus import cli
from pytest_fabricplus.compliance.merge import MergeError, merge_documents
from pytest_fabricplus.compliance.scores import saf_round
from testing.compliance_docs import control_id, make_document


def _shards() -> list[dict]:
    a = make_document(hosts=3, controls=6, host_prefix="web", unreachable=False, seed=1)
    b = make_document(hosts=3, controls=6, host_prefix="db", unreachable=True, seed=2)
    b["started"] = "2026-12-01T22:49:00+00:00"
    b["finished"] = "2026-12-01T22:53:30+00:00"
    return [a, b]


def _no_errors(doc: dict) -> dict:
    """Every errored control passed instead (scores are recomputed from the controls)."""
    for host in doc["hosts"].values():
        for entry in host["controls"].values():
            if entry["status"] == "error":
                entry["status"] = "passed"
        host["counts"]["error"] = 0
    return doc


def _write(tmp_path: Path, docs: list[dict]) -> list[str]:
    paths = []
    for i, doc in enumerate(docs):
        path = tmp_path / f"shard{i}.json"
        path.write_text(json.dumps(doc))
        paths.append(str(path))
    return paths


def test_merge_unites_hosts_controls_waivers_baselines() -> None:
    a, b = _shards()
    fleet = merge_documents([("a.json", a), ("b.json", b)])
    assert list(fleet["hosts"]) == ["web1", "web2", "web3", "db1", "db2", "db3"]
    assert fleet["hosts"]["db2"] == b["hosts"]["db2"]
    assert list(fleet["controls"]) == list(a["controls"])
    assert fleet["started"] == "2026-12-01T22:49:00+00:00"
    assert fleet["finished"] == "2026-12-01T22:53:30+00:00"
    assert fleet["duration"] == 270.0
    assert fleet["selected"] == [*a["selected"], *b["selected"]]
    assert fleet["merged_from"] == ["a.json", "b.json"]
    assert fleet["baseline"]["new_failures"] == (
        a["baseline"]["new_failures"] + b["baseline"]["new_failures"]
    )
    assert fleet["baseline"]["fixed"] == a["baseline"]["fixed"] + b["baseline"]["fixed"]
    # the run: false waiver (hosts: all) is the same entry in both: applied to all six hosts
    norun = [w for w in fleet["waivers"] if w["control"] == control_id(3)]
    assert len(norun) == 1
    assert norun[0]["applied_to"] == [*a["selected"], *b["selected"]]


def test_waiver_statuses_are_combined() -> None:
    a, b = _shards()
    w = {
        "control": "CIS 7.7",
        "test": None,
        "hosts": "*",
        "justification": "j",
        "expires": None,
        "run": True,
        "source": "waivers.yml:20",
    }
    a["waivers"] = [{**w, "status": "unmatched", "applied_to": []}]
    b["waivers"] = [{**w, "status": "applied", "applied_to": ["db1"]}]
    (merged,) = merge_documents([("a", a), ("b", b)])["waivers"]
    assert merged["status"] == "applied"
    assert merged["applied_to"] == ["db1"]
    b["waivers"] = [{**w, "status": "not-needed", "applied_to": []}]
    (merged,) = merge_documents([("a", a), ("b", b)])["waivers"]
    assert merged["status"] == "not-needed"
    b["waivers"] = [{**w, "status": "unmatched", "applied_to": []}]
    (merged,) = merge_documents([("a", a), ("b", b)])["waivers"]
    assert merged["status"] == "unmatched"


def test_a_host_in_two_files_is_an_error_naming_it() -> None:
    a, _ = _shards()
    with pytest.raises(MergeError, match=r"host 'web1' is in both a\.json and c\.json"):
        merge_documents([("a.json", a), ("c.json", copy.deepcopy(a))])


def test_conflicting_control_metadata_names_both_files() -> None:
    a, b = _shards()
    b["controls"][control_id(2)]["severity"] = "critical"
    with pytest.raises(
        MergeError,
        match=rf"control '{control_id(2)}' differs between a\.json and b\.json: severity",
    ):
        merge_documents([("a.json", a), ("b.json", b)])


def test_tests_of_a_control_are_united() -> None:
    a, b = _shards()
    b["controls"][control_id(0)]["tests"].append("tests/extra.py::test_more")
    fleet = merge_documents([("a", a), ("b", b)])
    assert fleet["controls"][control_id(0)]["tests"][-1] == "tests/extra.py::test_more"


def test_gate_recomputed_on_both_sides_of_a_score() -> None:
    a, b = _shards()
    b["hosts"] = {"db1": b["hosts"]["db1"]}  # no unreachable host
    b["selected"] = ["db1"]
    _no_errors(a)
    _no_errors(b)
    fleet = merge_documents([("a", a), ("b", b)], fail_under=0.0)
    lowest = min(h["score"] for h in fleet["hosts"].values())
    # the gate compares the score as saf threshold rounds it (Math.round)
    whole = saf_round(lowest)
    assert merge_documents([("a", a), ("b", b)], fail_under=whole)["exit_status"] == 0
    assert merge_documents([("a", a), ("b", b)], fail_under=whole + 1)["exit_status"] == 1


def test_different_thresholds_need_fail_under() -> None:
    a, b = _shards()
    b["threshold"] = 90.0
    with pytest.raises(MergeError, match="give --fail-under PERCENT"):
        merge_documents([("a", a), ("b", b)])
    assert merge_documents([("a", a), ("b", b)], fail_under=10.0)["threshold"] == 10.0


def test_errored_host_fails_the_gate_and_no_threshold_means_any_failure() -> None:
    a, b = _shards()
    fleet = merge_documents([("a", a), ("b", b)], fail_under=0.0)
    assert fleet["exit_status"] == 1  # db3 is unreachable: every control errored
    a["threshold"] = b["threshold"] = None
    for host in a["hosts"].values():
        for key in ("failed", "error"):
            host["counts"][key] = 0
    assert merge_documents([("a", a)])["exit_status"] == 0
    a["hosts"]["web1"]["counts"]["failed"] = 1
    assert merge_documents([("a", a)])["exit_status"] == 1


def test_cli_writes_html_json_and_inspec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _write(tmp_path, _shards())
    code = cli.main(
        [
            "merge-reports",
            *paths,
            "--html",
            str(tmp_path / "fleet.html"),
            "--json",
            str(tmp_path / "fleet.json"),
            "--inspec-json",
            str(tmp_path / "inspec"),
            "--fail-under",
            "50",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1, out  # db3 errored
    assert "merged 2 file(s): 6 hosts, 6 controls" in out
    assert "db3: unreachable: refused: connection refused (not scored)" in out
    fleet = json.loads((tmp_path / "fleet.json").read_text())
    assert fleet["exit_status"] == 1
    assert fleet["threshold"] == 50.0
    assert sorted(fleet["hosts"]) == ["db1", "db2", "db3", "web1", "web2", "web3"]
    assert sorted(p.name for p in (tmp_path / "inspec").iterdir()) == sorted(
        f"{h}.json" for h in fleet["hosts"]
    )
    page = (tmp_path / "fleet.html").read_text()
    assert '"id":"db3"' in page
    assert '"id":"web1"' in page


def test_cli_exit_0_when_the_fleet_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, _ = _shards()
    paths = _write(tmp_path, [_no_errors(a)])
    assert cli.main(["merge-reports", *paths, "--fail-under", "0"]) == 0
    assert "  web" not in capsys.readouterr().out  # no host named as failing


def test_cli_makes_the_folders_it_writes_into(tmp_path: Path) -> None:
    a, _ = _shards()
    paths = _write(tmp_path, [_no_errors(a)])
    out = tmp_path / "new" / "dir"
    args = ["--json", str(out / "fleet.json"), "--html", str(out / "h" / "fleet.html")]
    assert cli.main(["merge-reports", *paths, *args, "--fail-under", "0"]) == 0
    assert json.loads((out / "fleet.json").read_text())["hosts"]
    assert (out / "h" / "fleet.html").is_file()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "shard0.json:1: invalid JSON: "),
        (
            "[]",
            "shard0.json: not a --compliance-json document (version 1): the top level is not an object",
        ),
        ('{"version": 2, "controls": {}, "hosts": {}}', "version is 2, expected 1"),
        (
            '{"version": 1, "controls": {}, "hosts": {"h": {"controls": {"X": {"status": "ok"}}}}}',
            "host 'h', control 'X': no valid status",
        ),
        (
            '{"version": 1, "controls": {}, "hosts": {"h": {"controls": {"X": {"status": "passed"}}}}}',
            "host 'h': control 'X' is not in 'controls'",
        ),
    ],
)
def test_invalid_files_exit_2_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "shard0.json"
    path.write_text(content)
    assert cli.main(["merge-reports", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"python -m pytest_fabricplus merge-reports: error: {tmp_path}/shard0.json"
    )
    assert message in err


def test_unreadable_file_and_conflicts_exit_2_without_traceback(tmp_path: Path) -> None:
    a, _ = _shards()
    paths = _write(tmp_path, [a, a])

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest_fabricplus", "merge-reports", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ),
        )

    result = run(str(tmp_path / "missing.json"))
    assert result.returncode == 2
    assert (
        f"error: {tmp_path}/missing.json: cannot read it: No such file or directory"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    result = run(*paths)
    assert result.returncode == 2
    assert f"host 'web1' is in both {paths[0]} and {paths[1]}" in result.stderr
    assert "Traceback" not in result.stderr
    result = run(paths[0], "--fail-under", "101")
    assert result.returncode == 2
    assert "must be between 0 and 100: '101'" in result.stderr
    result = run(paths[0], "--json", str(Path(paths[1]) / "fleet.json"))  # under a file
    assert result.returncode == 2
    assert f"error: cannot write {paths[1]}/fleet.json: Not a directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_waiver_host_lists_are_united() -> None:
    a, b = _shards()
    w = {
        "control": "C",
        "test": None,
        "hosts": "*",
        "justification": "j",
        "expires": None,
        "run": True,
        "source": "w.yml:1",
    }
    a["waivers"] = [
        {
            **w,
            "status": "expired",
            "applied_to": [],
            "expired_on": ["web1"],
            "not_needed_on": ["web2"],
        }
    ]
    b["waivers"] = [
        {
            **w,
            "status": "expired",
            "applied_to": [],
            "expired_on": ["db1", "web1"],
            "not_needed_on": [],
        }
    ]
    (merged,) = merge_documents([("a", a), ("b", b)])["waivers"]
    assert merged["status"] == "expired"
    assert merged["expired_on"] == ["web1", "db1"]
    assert merged["not_needed_on"] == ["web2"]


def test_a_document_written_by_the_compliance_core_merges(tmp_path: Path) -> None:
    real = Path(__file__).resolve().parents[1] / "data" / "compliance" / "example-run.json"
    other = make_document(hosts=2, controls=3, host_prefix="web", unreachable=False)
    other["threshold"] = None
    code = cli.main(
        [
            "merge-reports",
            str(real),
            *_write(tmp_path, [other]),
            "--json",
            str(tmp_path / "fleet.json"),
        ]
    )
    fleet = json.loads((tmp_path / "fleet.json").read_text())
    source = json.loads(real.read_text())
    assert set(fleet["hosts"]) == {*source["hosts"], "web1", "web2"}
    assert code == fleet["exit_status"]


def test_a_shard_that_ran_no_host_fails_the_merged_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = _shards()
    a = _no_errors(a)
    b = _no_errors(b)
    b["hosts"] = {"db1": b["hosts"]["db1"]}
    b["selected"] = ["db1"]
    # the shard of h4 and h7: nothing ran (exit status 5), its gate said "passed" once
    empty = make_document(hosts=1, controls=6, host_prefix="h")
    empty.update(hosts={}, selected=["h4", "h7"], exit_status=5, waivers=[], baseline=None)
    paths = _write(tmp_path, [a, b, empty])
    assert cli.main(["merge-reports", *paths[:2], "--fail-under", "0"]) == 0
    capsys.readouterr()
    code = cli.main(
        [
            "merge-reports",
            *paths,
            "--fail-under",
            "0",
            "--json",
            str(tmp_path / "fleet.json"),
            "--html",
            str(tmp_path / "fleet.html"),
            "--inspec-json",
            str(tmp_path / "inspec"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert f"  {paths[2]}: the run did not finish cleanly: exit status 5 (no tests ran)" in out
    assert (
        f"  h4: selected in {paths[2]} but has no results there (exit status 5) (not scored)" in out
    )
    assert "  h7: selected in" in out
    # the waivers in the words of the run's terminal
    assert (
        "  waivers.yml:6: waiver for control CIS 1.2.2: expired: expired (2026-11-01) on web1"
        in out
    )
    fleet = json.loads((tmp_path / "fleet.json").read_text())
    assert fleet["exit_status"] == 1
    assert fleet["problems"] == [
        f"{paths[2]}: the run did not finish cleanly: exit status 5 (no tests ran)"
    ]
    for h in ("h4", "h7"):
        assert fleet["hosts"][h]["score"] is None
        assert fleet["hosts"][h]["missing"].startswith(f"selected in {paths[2]}")
        assert {e["status"] for e in fleet["hosts"][h]["controls"].values()} == {"error"}
        inspec = json.loads((tmp_path / "inspec" / f"{h}.json").read_text())
        results = [r for c in inspec["profiles"][0]["controls"] for r in c["results"]]
        assert results
        assert all(r.get("backtrace") for r in results)  # Heimdall: Profile Error
    page = (tmp_path / "fleet.html").read_text()
    assert "exit status 5 (no tests ran)" in page
    assert '"id":"h4"' in page


def test_a_selected_host_without_results_fails_the_merge_without_a_threshold() -> None:
    a, _ = _shards()
    a = _no_errors(a)
    for host in a["hosts"].values():
        host["counts"]["failed"] = 0
    a["threshold"] = None
    assert merge_documents([("a", a)])["exit_status"] == 0
    a["selected"] = [*a["selected"], "web9"]
    fleet = merge_documents([("a", a)])
    assert fleet["exit_status"] == 1
    assert "web9" in fleet["hosts"]


def test_waiver_words_per_host_are_united_and_the_status_recomputed() -> None:
    a, b = _shards()
    w = {
        "control": "C",
        "test": None,
        "hosts": "web1,db1",
        "justification": "j",
        "expires": None,
        "run": True,
        "source": "w.yml:1",
    }
    # shard a: web1 passed (not needed there); shard b: db1 errored
    a["waivers"] = [
        {**w, "status": "not-needed", "matched_test": True, "on_hosts": {"web1": "not-needed"}}
    ]
    b["waivers"] = [
        {**w, "status": "not-applied", "matched_test": True, "on_hosts": {"db1": "errored"}}
    ]
    (merged,) = merge_documents([("a", a), ("b", b)])["waivers"]
    assert merged["status"] == "not-applied"
    assert merged["on_hosts"] == {"web1": "not-needed", "db1": "errored"}
    # shard a's hosts are not the waiver's: matched-no-host there, applied in b
    a["waivers"] = [{**w, "status": "matched-no-host", "matched_test": True, "on_hosts": {}}]
    b["waivers"] = [
        {**w, "status": "applied", "matched_test": True, "on_hosts": {"db1": "applied"}}
    ]
    (merged,) = merge_documents([("a", a), ("b", b)])["waivers"]
    assert merged["status"] == "applied"
    b["waivers"] = [{**w, "status": "matched-no-host", "matched_test": True, "on_hosts": {}}]
    (merged,) = merge_documents([("a", a), ("b", b)])["waivers"]
    assert merged["status"] == "matched-no-host"
