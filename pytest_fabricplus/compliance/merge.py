"""Merge the ``--compliance-json`` documents of ``--hosts-shard`` jobs into one fleet document
(``python -m pytest_fabricplus merge-reports``).

* hosts: the union; a host in two files is an error naming it and both files;
* controls: the union; the same id with different metadata (title, severity, impact, refs,
  tags, description) is an error naming both files; their tests are united;
* waivers: one entry per waiver (same control/test, hosts, justification, expiry, run,
  source), its per-host words (``on_hosts``) united and its status recomputed from them by
  the one function every view uses (:func:`.waivers.overall_status`);
* no verdict without hosts: a host a shard selected but has no results for, and a shard
  that did not finish (exit status 2, 3, 4) or ran nothing (5), are ``problems`` named in
  every output; the missing host joins the fleet with every control ``error`` (so the HTML
  matrix and its InSpec JSON show it) and fails the verdict;
* scores: recomputed from the controls (:func:`.scores.rescore`), Heimdall's formula;
* baseline: new failures and fixed united;
* run metadata: earliest start, latest finish; the exit status and the gate recomputed over
  the whole fleet (:func:`exit_status`) with ``--fail-under`` or the shards' common threshold.

Unreadable or invalid files raise :class:`MergeError` naming the file.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from . import scores
from .model import STATUSES as _STATUSES
from .waivers import overall_status

__all__ = ["MergeError", "exit_status", "gate_failures", "load_document", "merge_documents"]

VERSION = 1
STATUSES = set(_STATUSES)
#: exit statuses of a shard that did not finish, or tested nothing
_UNFINISHED = {2: "interrupted", 3: "internal error", 4: "usage error", 5: "no tests ran"}
_META = ("title", "severity", "impact", "refs", "tags", "description")
_WAIVER_ORDER = ("applied", "expired", "not-needed", "not-applied", "matched-no-host", "unmatched")
#: a waiver's lists of hosts, united over the shards
_HOST_LISTS = ("applied_to", "expired_on", "not_needed_on")


class MergeError(Exception):
    """A file cannot be merged; the message names it (and the other file, for conflicts)."""


def _check(path: str, ok: bool, what: str) -> None:
    if not ok:
        raise MergeError(f"{path}: not a --compliance-json document (version {VERSION}): {what}")


def validate_document(document: Any, path: str) -> dict[str, Any]:
    """``document`` if it has the shape the merge and the report writers rely on."""
    _check(path, isinstance(document, dict), "the top level is not an object")
    assert isinstance(document, dict)
    _check(
        path,
        document.get("version") == VERSION,
        f"version is {document.get('version')!r}, expected {VERSION}",
    )
    controls = document.get("controls")
    hosts = document.get("hosts")
    _check(path, isinstance(controls, dict), "'controls' is not an object")
    _check(path, isinstance(hosts, dict), "'hosts' is not an object")
    assert isinstance(controls, dict)
    assert isinstance(hosts, dict)
    for cid, meta in controls.items():
        _check(path, isinstance(meta, dict), f"control {cid!r} is not an object")
    for hid, host in hosts.items():
        _check(path, isinstance(host, dict), f"host {hid!r} is not an object")
        entries = host.get("controls")
        _check(path, isinstance(entries, dict), f"host {hid!r}: 'controls' is not an object")
        for cid, entry in entries.items():
            _check(
                path,
                isinstance(entry, dict) and entry.get("status") in STATUSES,
                f"host {hid!r}, control {cid!r}: no valid status",
            )
            _check(path, cid in controls, f"host {hid!r}: control {cid!r} is not in 'controls'")
    _check(path, isinstance(document.get("waivers", []), list), "'waivers' is not a list")
    baseline = document.get("baseline")
    _check(path, baseline is None or isinstance(baseline, dict), "'baseline' is not an object")
    return document


def load_document(path: str) -> dict[str, Any]:
    """Read and check one ``--compliance-json`` file."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise MergeError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise MergeError(f"{path}: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MergeError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    return validate_document(data, path)


def _time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def gate_failures(document: dict[str, Any], threshold: float | None) -> list[str]:
    """One line per reason the fleet fails (:func:`.scores.gate_failures`: the gate per host
    with a threshold, any unwaived failure or error without; hosts not scored always)."""
    return scores.gate_failures(document, threshold)


def exit_status(document: dict[str, Any], threshold: float | None) -> int:
    """0 when the fleet passes (the gate, or no unwaived failure without one), else 1."""
    return 1 if gate_failures(document, threshold) else 0


def _shard_problems(path: str, doc: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """(problems, {missing host: why}) of one shard."""
    problems: list[str] = []
    status = doc.get("exit_status")
    if isinstance(status, int) and status in _UNFINISHED:
        problems.append(
            f"{path}: the run did not finish cleanly: exit status {status} ({_UNFINISHED[status]})"
        )
    missing = {
        str(h): f"selected in {path} but has no results there (exit status {status})"
        for h in doc.get("selected") or []
        if str(h) not in doc["hosts"]
    }
    if not doc["hosts"] and not missing and not problems:
        problems.append(f"{path}: no host was tested")
    return problems, missing


def _missing_host(why: str, controls: dict[str, Any]) -> dict[str, Any]:
    entries: dict[str, Any] = {
        cid: {
            "status": "error",
            "message": f"not scored: {why}",
            "duration": 0.0,
            "start_time": None,
            "waiver": None,
            "results": [],
        }
        for cid in sorted(controls)
    }
    counts = dict.fromkeys(_STATUSES, 0)
    counts["error"] = len(entries)
    return {
        "address": "",
        "platform": {},
        "score": None,
        "missing": why,
        "unreachable": None,
        "counts": counts,
        "failed_by_severity": {},
        "controls": entries,
    }


def _merge_waiver(merged: dict[str, Any], w: dict[str, Any]) -> None:
    for field in _HOST_LISTS:
        if field in w:
            united = merged.setdefault(field, [])
            united.extend(h for h in w.get(field) or [] if h not in united)
    if "on_hosts" in w or "on_hosts" in merged:
        merged["on_hosts"] = {**(merged.get("on_hosts") or {}), **(w.get("on_hosts") or {})}
        merged["matched_test"] = bool(merged.get("matched_test")) or bool(w.get("matched_test"))
        kind = "control" if merged.get("control") else "test"
        merged["status"] = overall_status(merged["on_hosts"], merged["matched_test"], kind)
        return
    statuses = [merged.get("status"), w.get("status")]  # a document without on_hosts
    merged["status"] = next((s for s in _WAIVER_ORDER if s in statuses), merged.get("status"))


def merge_documents(
    documents: list[tuple[str, dict[str, Any]]], fail_under: float | None = None
) -> dict[str, Any]:
    """One fleet document from ``(path, document)`` pairs (each already validated)."""
    if not documents:
        raise MergeError("no files to merge")
    controls: dict[str, Any] = {}
    control_from: dict[str, str] = {}
    hosts: dict[str, Any] = {}
    host_from: dict[str, str] = {}
    waivers: dict[str, dict[str, Any]] = {}
    baseline_files: list[str] = []
    new_failures: list[Any] = []
    fixed: list[Any] = []
    thresholds = set()
    problems: list[str] = []
    missing: dict[str, str] = {}
    for path, doc in documents:
        thresholds.add(doc.get("threshold"))
        shard_problems, shard_missing = _shard_problems(path, doc)
        problems.extend(shard_problems)
        missing.update(shard_missing)
        for cid, meta in doc["controls"].items():
            if cid not in controls:
                controls[cid] = dict(meta)
                controls[cid]["tests"] = list(meta.get("tests", []))
                control_from[cid] = path
                continue
            old = controls[cid]
            for key in _META:
                if old.get(key) != meta.get(key):
                    raise MergeError(
                        f"control {cid!r} differs between {control_from[cid]} and {path}: "
                        f"{key} {old.get(key)!r} vs {meta.get(key)!r}"
                    )
            for test in meta.get("tests", []):
                if test not in old["tests"]:
                    old["tests"].append(test)
        for hid, host in doc["hosts"].items():
            if hid in hosts:
                raise MergeError(f"host {hid!r} is in both {host_from[hid]} and {path}")
            hosts[hid] = host
            host_from[hid] = path
        for w in doc.get("waivers") or []:
            key = json.dumps(
                [
                    w.get(k)
                    for k in (
                        "control",
                        "test",
                        "hosts",
                        "justification",
                        "expires",
                        "run",
                        "source",
                    )
                ],
                sort_keys=True,
            )
            if key not in waivers:
                waivers[key] = {**w, **{f: list(w.get(f) or []) for f in _HOST_LISTS if f in w}}
                continue
            _merge_waiver(waivers[key], w)
        baseline = doc.get("baseline")
        if baseline:
            if baseline.get("file") not in baseline_files:
                baseline_files.append(str(baseline.get("file")))
            new_failures.extend(baseline.get("new_failures") or [])
            fixed.extend(baseline.get("fixed") or [])
    if fail_under is not None:
        threshold: float | None = fail_under
    elif len(thresholds) == 1:
        threshold = thresholds.pop()
    else:
        raise MergeError(
            "the files were run with different --compliance-fail-under thresholds "
            f"({', '.join('none' if t is None else str(t) for t in sorted(thresholds, key=str))}):"
            " give --fail-under PERCENT"
        )
    first = documents[0][1]
    starts = [(t, d.get("started")) for _, d in documents if (t := _time(d.get("started")))]
    ends = [(t, d.get("finished")) for _, d in documents if (t := _time(d.get("finished")))]
    started = min(starts, key=lambda p: p[0]) if starts else None
    finished = max(ends, key=lambda p: p[0]) if ends else None
    if started and finished:
        duration = (finished[0] - started[0]).total_seconds()
    else:
        duration = max(float(d.get("duration") or 0.0) for _, d in documents)
    inventories = sorted({str(d.get("inventory")) for _, d in documents if d.get("inventory")})
    selected: list[str] = []
    for _, d in documents:
        selected.extend(str(h) for h in d.get("selected") or [])
    fleet: dict[str, Any] = {
        "version": VERSION,
        "tool": first.get("tool", "pytest-fabricplus"),
        "tool_version": first.get("tool_version", ""),
        "started": started[1] if started else first.get("started"),
        "finished": finished[1] if finished else first.get("finished"),
        "duration": duration,
        "inventory": ", ".join(inventories) if inventories else None,
        "selected": selected,
        "threshold": threshold,
        "exit_status": 0,
        "controls": controls,
        "hosts": hosts,
        "waivers": list(waivers.values()),
        "baseline": (
            {"file": ", ".join(baseline_files), "new_failures": new_failures, "fixed": fixed}
            if baseline_files
            else None
        ),
        "merged_from": [path for path, _ in documents],
        "problems": problems,
    }
    for hid, why in missing.items():
        if hid not in hosts:
            hosts[hid] = _missing_host(why, controls)
    scores.rescore(fleet)
    fleet["score_formula"] = scores.FORMULA
    fleet["gate_rule"] = scores.GATE_RULE if threshold is not None else None
    fleet["exit_status"] = exit_status(fleet, threshold)
    return fleet
