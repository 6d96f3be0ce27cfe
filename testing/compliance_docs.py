"""Hand-made ``--compliance-json`` documents (version 1, /tmp/compliance-schema.md's contract)
for the report writers' tests and bench/report_scale.py: N hosts x M controls with every
status, host-scoped / expired / ``run: false`` waivers, an unreachable host, a baseline, and
messages full of HTML metacharacters. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from typing import Any

from pytest_fabricplus.compliance import scores as compliance_scores

SEVERITIES = ["none", "low", "medium", "high", "critical"]
IMPACT = {"none": 0.0, "low": 0.3, "medium": 0.5, "high": 0.7, "critical": 0.9}
NASTY = "<script>alert('x')</script> & \"quoted\" </td>"


def control_id(i: int) -> str:
    return f"CIS {1 + i // 10}.{i % 10}.{i}"


#: a control's status on a host -> the word of the waiver that covers it there
_WORDS = {"waived": "applied", "passed": "not-needed", "error": "errored", "skipped": "skipped"}


def _words(hosts: dict[str, Any], control: str, ids: list[str]) -> dict[str, str]:
    return {
        hid: _WORDS.get(hosts[hid]["controls"][control]["status"], "shadowed")
        for hid in ids
        if hid in hosts
    }


def make_document(
    hosts: int = 4,
    controls: int = 6,
    *,
    seed: int = 1,
    baseline: bool = True,
    unreachable: bool = True,
    host_prefix: str = "web",
    started: str = "2026-12-01T22:50:00+00:00",
) -> dict[str, Any]:
    rnd = random.Random(seed)
    ctrls: dict[str, Any] = {}
    for i in range(controls):
        cid = control_id(i)
        sev = SEVERITIES[i % len(SEVERITIES)]
        tests = [f"tests/test_c{i}.py::test_check_{i}"]
        if i % 4 == 1:
            tests.append(f"tests/test_c{i}.py::test_check_{i}_again")  # a control of two tests
        ctrls[cid] = {
            "id": cid,
            "title": f"Ensure setting {i} is <safe> & sound",
            "severity": sev,
            "impact": IMPACT[sev],
            "refs": [f"https://example.org/cis/{i}"],
            "tags": ["ssh", f"group{i % 3}"],
            "description": f"Setting {i} must be configured. {NASTY}",
            "tests": tests,
        }
    host_ids = [f"{host_prefix}{h + 1}" for h in range(hosts)]
    doc_hosts: dict[str, Any] = {}
    waivers: list[dict[str, Any]] = []
    waived_control = control_id(1) if controls > 1 else None
    expired_control = control_id(2) if controls > 2 else None
    norun_control = control_id(3) if controls > 3 else None
    new_failures: list[dict[str, str]] = []
    fixed: list[dict[str, str]] = []
    for h, hid in enumerate(host_ids):
        down = unreachable and hosts > 2 and h == hosts - 1
        host_controls: dict[str, Any] = {}
        counts = dict.fromkeys(("passed", "failed", "error", "skipped", "waived"), 0)
        failed_by = dict.fromkeys(SEVERITIES, 0)
        for i, (cid, meta) in enumerate(ctrls.items()):
            waiver = None
            if down:
                status = "error"
                message = f"HostUnreachable: {hid} (10.0.0.{h}:22): connection refused"
            elif cid == norun_control:
                status = "waived"
                message = ""
                waiver = {
                    "justification": 'Not run: <legacy> kernel & "vendor" says so',
                    "expires": None,
                    "run": False,
                    "source": "waivers.yml:9",
                    "expired": False,
                }
            elif cid == waived_control and h % 2 == 0:
                status = "waived"
                message = f"AssertionError: PermitRootLogin is 'yes' on {hid} {NASTY}"
                waiver = {
                    "justification": "Ticket SEC-42: <migration> pending & approved",
                    "expires": "2027-01-31",
                    "run": True,
                    "source": "waivers.yml:3",
                    "expired": False,
                }
            elif cid == expired_control and h == 0:
                status = "failed"
                message = (
                    "AssertionError: x != y (waiver expired on 2026-11-01: waivers.yml:6) " + NASTY
                )
                waiver = {
                    "justification": "Old exception",
                    "expires": "2026-11-01",
                    "run": True,
                    "source": "waivers.yml:6",
                    "expired": True,
                }
            else:
                roll = rnd.random()
                if i % 7 == 6:
                    status, message = "skipped", "not applicable: no <sshd> on this host"
                elif roll < 0.12:
                    status, message = "failed", f"AssertionError: assert 'no' == 'yes' {NASTY}"
                elif roll < 0.15:
                    status, message = "error", "CommandTimeout: `cat /etc/x` timed out after 10 s"
                else:
                    status, message = "passed", ""
            counts[status] += 1
            if status == "failed":
                failed_by[meta["severity"]] += 1
            start = f"2026-12-01T22:50:{(i % 59) + 1:02d}+00:00"
            results = []
            for t in meta["tests"]:
                results.append(
                    {
                        "nodeid": f"{t}[{hid}]",
                        "status": "skipped"
                        if status == "waived" and waiver and not waiver["run"]
                        else ("failed" if status == "waived" else status),
                        "message": message,
                        "duration": 0.01 + (i % 5) / 100,
                        "start_time": start,
                    }
                )
            host_controls[cid] = {
                "status": status,
                "message": message,
                "duration": sum(r["duration"] for r in results),
                "start_time": start,
                "waiver": waiver,
                "results": results,
            }
            if baseline and status == "failed" and i % 2 == 0:
                new_failures.append({"host": hid, "control": cid})
            if baseline and status == "passed" and i % 5 == 0 and h % 3 == 0:
                fixed.append({"host": hid, "control": cid})
        counted = counts["passed"] + counts["failed"] + counts["error"] + counts["waived"]
        score = (
            None
            if counted == 0
            else round(100.0 * (counts["passed"] + counts["waived"]) / counted, 1)
        )
        doc_hosts[hid] = {
            "address": f"deploy@10.0.{h // 250}.{h % 250}:22",
            "platform": {}
            if down
            else {
                "name": "ubuntu" if h % 2 == 0 else "centos",
                "release": "22.04" if h % 2 == 0 else "7",
            },
            "score": score,
            "unreachable": "refused: connection refused" if down else None,
            "counts": counts,
            "failed_by_severity": failed_by,
            "controls": host_controls,
        }
    if waived_control:
        waivers.append(
            {
                "control": waived_control,
                "test": None,
                "hosts": f"{host_prefix}*",
                "justification": "Ticket SEC-42: <migration> pending & approved",
                "expires": "2027-01-31",
                "run": True,
                "source": "waivers.yml:3",
                "status": "applied",
                "applied_to": [hid for h, hid in enumerate(host_ids) if h % 2 == 0],
                "matched_test": True,
                "on_hosts": _words(doc_hosts, waived_control, host_ids),
            }
        )
    if expired_control:
        waivers.append(
            {
                "control": expired_control,
                "test": None,
                "hosts": host_ids[0],
                "justification": "Old exception",
                "expires": "2026-11-01",
                "run": True,
                "source": "waivers.yml:6",
                "status": "expired",
                "matched_test": True,
                "on_hosts": {host_ids[0]: "expired"},
                "applied_to": [],
            }
        )
    if norun_control:
        waivers.append(
            {
                "control": norun_control,
                "test": None,
                "hosts": None,
                "justification": 'Not run: <legacy> kernel & "vendor" says so',
                "expires": None,
                "run": False,
                "source": "waivers.yml:9",
                "status": "applied",
                "applied_to": list(host_ids),
                "matched_test": True,
                "on_hosts": _words(doc_hosts, norun_control, host_ids),
            }
        )
    waivers.append(
        {
            "control": "CIS 99.9",
            "test": None,
            "hosts": None,
            "justification": "typo'd id",
            "expires": None,
            "run": True,
            "source": "waivers.yml:12",
            "status": "matched-no-control",
            "matched_test": False,
            "on_hosts": {},
            "applied_to": [],
        }
    )
    doc: dict[str, Any] = {
        "version": 1,
        "tool": "pytest-fabricplus",
        "tool_version": "0.1.0",
        "started": started,
        "finished": "2026-12-01T22:51:00+00:00",
        "duration": 60.0,
        "inventory": "inv.yml",
        "selected": list(host_ids),
        "threshold": 80.0,
        "exit_status": 0,
        "controls": ctrls,
        "hosts": doc_hosts,
        "waivers": waivers,
        "baseline": (
            {"file": "old.json", "new_failures": new_failures, "fixed": fixed} if baseline else None
        ),
    }
    # the scores and the verdict as the compliance core computes them (Heimdall's formula)
    compliance_scores.rescore(doc)
    doc["exit_status"] = 1 if compliance_scores.gate_failures(doc, 80.0) else 0
    return doc
