"""The per-host summary (plugin/reporting.py) from reports alone: crashed and interrupted
tests are counted on their host and named in the JSON document."""

from __future__ import annotations

from _pytest.reports import TestReport

from pytest_fabricplus.plugin.reporting import (
    CRASH_WHEN,
    CRASHED_PROPERTY,
    HOST_PROPERTY,
    HostSummary,
)


def _report(nodeid: str, when: str, outcome: str, host: str, **props: str) -> TestReport:
    return TestReport(
        nodeid,
        ("t.py", 1, nodeid),
        {},
        outcome,
        None if outcome == "passed" else "boom",
        when,
        user_properties=[(HOST_PROPERTY, host), *props.items()],
    )


def test_crashed_and_interrupted_tests_counted_per_host() -> None:
    summary = HostSummary()
    for when in ("setup", "call", "teardown"):
        summary.add(_report("t.py::ok[h1]", when, "passed", "h1"))
    summary.add(_report("t.py::c[h2]", "setup", "passed", "h2"))
    summary.add(
        _report("t.py::c[h2]", CRASH_WHEN, "failed", "h2", **{CRASHED_PROPERTY: "worker gw1"})
    )
    summary.add(_report("t.py::i[h1]", "setup", "passed", "h1"))
    summary.interrupt({"t.py::i[h1]": None, "t.py::never[h3]": None})
    assert summary.outcomes == ("passed", "failed", "error", "skipped", "crashed", "interrupted")
    doc = summary.document({})
    assert doc["hosts"]["h2"]["counts"]["crashed"] == 1
    assert doc["hosts"]["h1"]["counts"] == {
        "passed": 1,
        "failed": 0,
        "error": 0,
        "skipped": 0,
        "crashed": 0,
        "interrupted": 1,
    }
    outcomes = {t["nodeid"]: t["outcome"] for h in doc["hosts"].values() for t in h["tests"]}
    assert outcomes == {
        "t.py::ok[h1]": "passed",
        "t.py::i[h1]": "interrupted",
        "t.py::c[h2]": "crashed (worker gw1)",
    }
    assert summary.lines()[0].split() == [
        "host",
        "passed",
        "failed",
        "error",
        "skipped",
        "crashed",
        "interrupted",
    ]
