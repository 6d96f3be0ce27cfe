"""InSpec exec-JSON documents, one per host, from a ``--compliance-json`` document (version 1).

The shape is what ``inspec exec --reporter json`` writes (``inspec schema exec-json``) and what
Heimdall and the MITRE SAF tools read:

* ``platform`` {name, release, target_id (the host id)}: the host's ``/etc/os-release`` ID and
  VERSION_ID, ``unknown`` and ``""`` when never read; ``version`` (our tool version);
  ``statistics`` {duration, controls {passed/failed/skipped: {total}}};
* one profile (name, title, version, sha256 of the controls' metadata, supports, attributes,
  groups (one per test file), status ``loaded``, controls);
* per control: id, title, desc, descriptions [{label: default, data}], impact, refs
  [{url}|{ref}], tags {severity, each of our tags: null, fabricplus_status}, code (the tests
  it is made of), source_location {ref: first test's file, line: 0 (pytest gives no line)},
  waiver_data (InSpec's shape: justification, expiration_date, run, skipped_due_to_waiver,
  message; ``{}`` without a waiver, as InSpec writes), results[].

Result statuses are InSpec's (``passed``, ``failed``, ``skipped`` — exec-JSON has no
``error``): an errored test is ``failed`` with ``exception`` and ``backtrace`` set, which is
how InSpec reports a test that raised and what Heimdall shows as "Profile Error". A waived
control keeps its real results (as InSpec does for ``run: true`` waivers) and carries
``waiver_data``; a ``run: false`` waiver gives one ``skipped`` result whose ``skip_message`` is
the justification and ``skipped_due_to_waiver: true`` (Heimdall: "Not Applicable").

A control ``not-applicable`` on a host (``pytest_fabricplus.not_applicable(reason)``) gets
impact 0 in that host's document, its reason first in ``desc`` (Heimdall's "Justification")
and skipped results: Heimdall's "Not Applicable", left out of the score; a plain skip stays
impact as declared, skipped results: "Not Reviewed". A control that did not run on a host
(not selected there) is left out of that host's document: Heimdall would count a control
without results as "Profile Error". So the Heimdall/SAF score of each file is the ``score``
of our document (:mod:`.scores`).
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
from typing import Any

__all__ = ["inspec_documents", "safe_file_name", "write_inspec_dir"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]")


def safe_file_name(host_id: str) -> str:
    """``host_id`` as a file name: characters other than letters, digits and ``._@+-`` become
    ``_``; a name that would start with a dot (or be empty) gets a leading ``_``."""
    name = _UNSAFE.sub("_", host_id)
    if not name or name.startswith("."):
        name = "_" + name
    return name


def _exception_name(message: str) -> str:
    head = message.split(":", 1)[0].strip()
    return head if re.fullmatch(r"[A-Za-z_][\w.]*", head) else "Error"


def _result(raw: dict[str, Any], fallback_start: str) -> dict[str, Any]:
    status = str(raw.get("status", ""))
    message = str(raw.get("message") or "")
    out: dict[str, Any] = {
        "status": "passed",
        "code_desc": str(raw.get("nodeid", "")),
        "run_time": float(raw.get("duration") or 0.0),
        "start_time": str(raw.get("start_time") or fallback_start),
    }
    if status == "failed":
        out["status"] = "failed"
        out["message"] = message
    elif status == "error":
        out["status"] = "failed"
        out["message"] = message
        out["exception"] = _exception_name(message)
        out["backtrace"] = message.splitlines() or [message]
    elif status in ("skipped", "not-applicable"):
        out["status"] = "skipped"
        out["skip_message"] = message
    elif status == "waived":  # a result inside a waived control: its test failed
        out["status"] = "failed"
        out["message"] = message
    return out


def _refs(refs: list[Any]) -> list[dict[str, str]]:
    out = []
    for ref in refs:
        text = str(ref)
        out.append({"url": text} if re.match(r"[a-z][a-z0-9+.-]*://", text) else {"ref": text})
    return out


def _waiver_data(waiver: dict[str, Any] | None) -> dict[str, Any]:
    if not waiver:
        return {}
    run = bool(waiver.get("run", True))
    expires = waiver.get("expires")
    data: dict[str, Any] = {
        "justification": str(waiver.get("justification", "")),
        "run": run,
        "skipped_due_to_waiver": not run and not waiver.get("expired"),
        "message": "",
    }
    if expires:
        data["expiration_date"] = str(expires)
    if waiver.get("expired"):
        data["message"] = f"Waiver expired on {expires}, evaluating control normally"
    return data


def _control(
    meta: dict[str, Any], entry: dict[str, Any] | None, fallback_start: str
) -> dict[str, Any]:
    tests = [str(t) for t in meta.get("tests", [])]
    tags: dict[str, Any] = {"severity": meta.get("severity", "none")}
    for tag in meta.get("tags", []):
        tags.setdefault(str(tag), None)
    description = meta.get("description") or None
    control: dict[str, Any] = {
        "id": str(meta["id"]),
        "title": meta.get("title") or None,
        "desc": description,
        "descriptions": [{"label": "default", "data": description}] if description else [],
        "impact": float(meta.get("impact", 0.0)),
        "refs": _refs(list(meta.get("refs", []))),
        "tags": tags,
        "code": "\n".join(f"# pytest: {t}" for t in tests),
        "source_location": {"ref": tests[0].split("::", 1)[0] if tests else "", "line": 0},
        "waiver_data": {},
        "results": [],
    }
    if entry is None:  # the control did not run on this host (not selected there)
        tags["fabricplus_status"] = "absent"
        return control
    status = str(entry.get("status", ""))
    tags["fabricplus_status"] = status
    if status == "not-applicable":
        reason = str(entry.get("message") or "not applicable on this host")
        control["impact"] = 0.0
        control["desc"] = reason + (f"\n\n{description}" if description else "")
    waiver = entry.get("waiver")
    control["waiver_data"] = _waiver_data(waiver)
    start = str(entry.get("start_time") or fallback_start)
    if status == "waived" and waiver and not waiver.get("run", True):
        control["results"] = [
            {
                "status": "skipped",
                "code_desc": f"{meta['id']}: not run (waiver {waiver.get('source', '')})",
                "run_time": 0.0,
                "start_time": start,
                "skip_message": str(waiver.get("justification", "")),
            }
        ]
        return control
    results = [_result(r, start) for r in entry.get("results", [])]
    if not results:  # e.g. an unreachable host: one result carrying the cause
        results = [
            _result(
                {
                    "nodeid": str(meta["id"]),
                    "status": status,
                    "message": entry.get("message", ""),
                    "duration": entry.get("duration", 0.0),
                    "start_time": start,
                },
                start,
            )
        ]
    control["results"] = results
    return control


def _sha256(document: dict[str, Any]) -> str:
    canonical = json.dumps(document.get("controls", {}), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def inspec_documents(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One InSpec exec-JSON document per host id of ``document``."""
    controls: dict[str, Any] = document.get("controls", {})
    started = str(document.get("started") or "")
    sha = _sha256(document)
    groups: dict[str, list[str]] = {}
    for cid, meta in controls.items():
        tests = meta.get("tests") or [""]
        groups.setdefault(str(tests[0]).split("::", 1)[0], []).append(str(cid))
    version = str(document.get("tool_version") or "0")
    inventory = document.get("inventory") or "hosts"
    out: dict[str, dict[str, Any]] = {}
    for host_id, host in document.get("hosts", {}).items():
        platform = host.get("platform") or {}
        entries = host.get("controls", {})
        inspec_controls = [
            _control(meta, entries[cid], started)
            for cid, meta in controls.items()
            if cid in entries
        ]
        ran = {c["id"] for c in inspec_controls}
        totals = {"passed": 0, "failed": 0, "skipped": 0}
        for ctl in inspec_controls:
            statuses = {r["status"] for r in ctl["results"]}
            if not statuses:
                continue
            if "failed" in statuses:
                totals["failed"] += 1
            elif "passed" in statuses:
                totals["passed"] += 1
            else:
                totals["skipped"] += 1
        out[str(host_id)] = {
            "platform": {
                "name": str(platform.get("name") or "unknown"),
                # Heimdall shows name + release joined: "debian12"; "unknown", not
                # "unknownunknown", for a host never reached
                "release": str(platform.get("release") or ""),
                "target_id": str(host_id),
            },
            "profiles": [
                {
                    "name": "pytest-fabricplus",
                    "title": f"pytest-fabricplus compliance run ({inventory})",
                    "version": version,
                    "summary": f"host {host_id} ({host.get('address', '')})",
                    "sha256": sha,
                    "supports": [],
                    "attributes": [],
                    "groups": [
                        {"id": gid, "controls": [i for i in ids if i in ran]}
                        for gid, ids in sorted(groups.items())
                        if any(i in ran for i in ids)
                    ],
                    "status": "loaded",
                    "controls": inspec_controls,
                }
            ],
            "statistics": {
                "duration": float(document.get("duration") or 0.0),
                "controls": {k: {"total": v} for k, v in totals.items()},
            },
            "version": version,
        }
    return out


def write_inspec_dir(document: dict[str, Any], directory: str) -> list[pathlib.Path]:
    """Write one ``HOST.json`` per host into ``directory`` (created); returns the paths.
    Two host ids that map to the same file name get ``-2``, ``-3``, ... suffixes."""
    target = pathlib.Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written: list[pathlib.Path] = []
    used: set[str] = set()
    for host_id, doc in inspec_documents(document).items():
        base = safe_file_name(host_id)
        name, n = base, 1
        while name.lower() in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name.lower())
        path = target / f"{name}.json"
        path.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
