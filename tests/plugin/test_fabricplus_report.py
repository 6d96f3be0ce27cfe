"""--fabricplus-report (JSON per host) and --junitxml host properties, parsed back."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from testing.sshd import free_port
from testing.targets import PASSWORD_ENV, Target


class PhaseDurations:
    """A plugin for the in-process inner run: each test's phase durations as reported."""

    def __init__(self) -> None:
        self.durations: dict[str, list[tuple[str, float]]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.durations.setdefault(report.nodeid, []).append((report.when, report.duration))


def test_json_and_junit_reports(
    pytester: pytest.Pytester, sshd: Target, login_password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = free_port()
    phases = PhaseDurations()
    pytester.makepyfile(
        f"""
        import os
        def test_ok(connection):
            connection.run("true")

        def test_fails_showing_the_password(connection):
            assert os.environ["{PASSWORD_ENV}"] == "something else"
        """
    )
    (pytester.path / "inv.ini").write_text(
        f"web1 ansible_host=127.0.0.1 ansible_port={sshd.port} ansible_user=fptest\n"
        f"dead ansible_host=127.0.0.1 ansible_port={dead} ansible_user=fptest\n"
    )
    report = pytester.path / "out" / "report.json"
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest(
        "--hosts=inv.ini",
        f"--known-hosts={sshd.known_hosts}",
        f"--ssh-password-env={PASSWORD_ENV}",
        f"--fabricplus-report={report}",
        f"--junitxml={junit}",
        plugins=[phases],
    )
    result.assert_outcomes(passed=1, failed=1, errors=2)
    doc = json.loads(report.read_text())
    assert doc["version"] == 2
    assert doc["inventory"] == "inv.ini"
    assert sorted(doc["hosts"]) == ["dead", "web1"]
    web = doc["hosts"]["web1"]
    assert web["address"] == f"fptest@127.0.0.1:{sshd.port}"
    assert web["counts"] == {"passed": 1, "failed": 1, "error": 0, "skipped": 0}
    outcomes = {t["nodeid"].split("::")[1]: t for t in web["tests"]}
    assert outcomes["test_ok[web1]"]["outcome"] == "passed"
    # the sum of the test's setup, call and teardown durations as pytest reported them
    ok_phases = phases.durations["test_json_and_junit_reports.py::test_ok[web1]"]
    assert [when for when, _ in ok_phases] == ["setup", "call", "teardown"]
    expected = 0.0
    for _, duration in ok_phases:
        expected = round(expected + duration, 6)
    assert expected > 0
    assert outcomes["test_ok[web1]"]["duration"] == expected
    failed = outcomes["test_fails_showing_the_password[web1]"]
    assert failed["outcome"] == "failed"
    assert "********" in failed["message"]
    dead_host = doc["hosts"]["dead"]
    assert dead_host["unreachable"] == f"refused: connection refused on 127.0.0.1:{dead}"
    assert dead_host["counts"]["error"] == 2
    assert login_password not in report.read_text()

    tree = ET.parse(junit)
    props = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in tree.iter("testcase")
    }
    assert props["test_ok[web1]"]["fabricplus_host"] == "web1"
    assert props["test_ok[web1]"]["fabricplus_address"] == f"fptest@127.0.0.1:{sshd.port}"
    assert props["test_ok[dead]"]["fabricplus_unreachable"].startswith("refused")


def test_report_is_written_by_the_xdist_controller(
    pytester: pytest.Pytester, sshd: Target, sshd2: Target, both_known_hosts: Path
) -> None:
    pytester.makepyfile("def test_a(connection): connection.run('true')")
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(
        *sshd.args(
            "-n",
            "2",
            f"--fabricplus-report={report}",
            hosts=f"{sshd.address},{sshd2.address}",
            known_hosts=both_known_hosts,
        ),
        timeout=120,
    )
    result.assert_outcomes(passed=2)
    doc = json.loads(report.read_text())
    assert len(doc["hosts"]) == 2
    assert all(h["counts"]["passed"] == 1 for h in doc["hosts"].values())
