"""The auditor's HTML report: one self-contained page from a ``--compliance-json`` document.

No network: styles and scripts are inline, no fonts or images are loaded. The host x control
matrix is built by the page's script from one JSON blob (``<script type="application/json">``,
with ``<``, ``>`` and ``&`` escaped so no text can close it): one ``<td>`` per host and control
carrying ``data-host``, ``data-control`` and ``data-status``, coloured by status through CSS and
marked with a letter (P F E S W; ``-`` when the control did not run there) so it reads without
colour. Clicking a cell opens the details panel (message, waiver justification and expiry,
results per test); clicking a control header shows the control.

Filters (severity, status, host pattern, "new since baseline") act at once and live in the
URL fragment, e.g. ``report.html#status=failed,error&severity=high,critical&host=web*``:
hosts (rows) and controls (columns) without a matching cell get ``hidden``; the other cells
that do not match get ``data-match="0"`` (drawn faded), matching ones ``data-match="1"``.
``#sort=score`` (lowest first) or ``#sort=name`` orders the hosts. ``#dh=HOST&dc=CONTROL``
opens that cell's details (clicking a cell puts it there: a link to a finding can be shared).
``<body data-ready="1" data-render-ms=... data-filter-ms=...>`` once the matrix is built (for
tests and the benchmark).

At the top, the fleet at a glance (:mod:`.charts`, inline SVG from the same document). A print
stylesheet (``@media print``) hides the filters and the panel and shows what only the panel
shows on screen: a header with the run's metadata and a place to sign, the findings per host
(every cell that did not pass, with message, waiver and per-test results) and every control's
text; a matrix wider than ``PRINT_MATRIX_MAX_CONTROLS`` is left out of the print, with a note.

Everything else (run metadata, per-host scores, the waivers with their expiry and status, the
baseline's new failures and fixed) is rendered here with every text HTML-escaped.
"""

from __future__ import annotations

import json
import pathlib
from html import escape
from importlib import resources
from typing import Any

from . import scores as scores_mod
from .charts import render_glance
from .waivers import describe_status

__all__ = ["STATUS_LETTERS", "render_html", "write_html"]

STATUSES = ("passed", "failed", "error", "skipped", "waived", "not-applicable")
STATUS_LETTERS = {
    "passed": "P",
    "failed": "F",
    "error": "E",
    "skipped": "S",
    "waived": "W",
    "not-applicable": "N",
    "absent": "-",
}
_CODE = {
    "passed": "p",
    "failed": "f",
    "error": "e",
    "skipped": "s",
    "waived": "w",
    "not-applicable": "n",
}
SEVERITIES = ("critical", "high", "medium", "low", "none")


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _json_for_script(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _compact_results(host: str, tests: list[str], entry: dict[str, Any]) -> list[list[Any]] | None:
    """The cell's results, or None when they are exactly "each test of the control, [host],
    with the cell's status and message" (most cells: kept out of the page)."""
    results = entry.get("results") or []
    status = entry.get("status")
    message = entry.get("message") or ""
    out = [
        [
            str(r.get("nodeid", "")),
            str(r.get("status", "")),
            r.get("duration"),
            str(r.get("message") or ""),
        ]
        for r in results
    ]
    plain = len(out) == len(tests) and all(
        r[0] == f"{t}[{host}]" and r[1] == status and r[3] == message
        for r, t in zip(out, tests, strict=False)
    )
    return None if plain else out


def _blob(document: dict[str, Any]) -> dict[str, Any]:
    controls: dict[str, Any] = document.get("controls", {})
    ids = list(controls)
    index = {cid: i for i, cid in enumerate(ids)}
    ctl_rows = []
    for cid in ids:
        meta = controls[cid]
        ctl_rows.append(
            {
                "id": str(cid),
                "t": str(meta.get("title") or ""),
                "sv": str(meta.get("severity") or "none"),
                "im": meta.get("impact"),
                "d": str(meta.get("description") or ""),
                "rf": [str(r) for r in meta.get("refs", [])],
                "tg": [str(t) for t in meta.get("tags", [])],
                "ts": [str(t) for t in meta.get("tests", [])],
            }
        )
    hosts = []
    for hid, host in document.get("hosts", {}).items():
        entries: dict[str, Any] = host.get("controls", {})
        statuses = []
        details: dict[str, Any] = {}
        for cid in ids:
            entry = entries.get(cid)
            if entry is None:
                statuses.append("-")
                continue
            status = str(entry.get("status", ""))
            statuses.append(_CODE.get(status, "e"))
            tests = [str(t) for t in controls[cid].get("tests", [])]
            cell: dict[str, Any] = {}
            if entry.get("message"):
                cell["m"] = str(entry["message"])
            if entry.get("waiver"):
                cell["w"] = entry["waiver"]
            if entry.get("duration") is not None and status != "passed":
                cell["du"] = entry.get("duration")
            results = _compact_results(str(hid), tests, entry)
            if results is not None:
                cell["r"] = results
            if cell:
                details[str(index[cid])] = cell
        platform = host.get("platform") or {}
        hosts.append(
            {
                "id": str(hid),
                "a": str(host.get("address") or ""),
                "pf": " ".join(str(platform.get(k, "")) for k in ("name", "release")).strip(),
                "sc": host.get("score"),
                "c": host.get("counts") or {},
                "s": "".join(statuses),
                "d": details,
            }
        )
    baseline = document.get("baseline") or None
    new: list[list[Any]] = []
    if baseline:
        hindex = {h["id"]: i for i, h in enumerate(hosts)}
        for item in baseline.get("new_failures", []):
            h, c = hindex.get(str(item.get("host"))), index.get(str(item.get("control")))
            if h is not None and c is not None:
                new.append([h, c])
    return {
        "controls": ctl_rows,
        "hosts": hosts,
        "new": new,
        "threshold": document.get("threshold"),
    }


def _score_text(score: Any) -> str:
    return "n/a" if score is None else f"{float(score):.1f}%"


def _metadata(document: dict[str, Any]) -> str:
    hosts = document.get("hosts", {})
    threshold = document.get("threshold")
    # the one gate (terminal, merge-reports, this page): scores.gate_failures
    gate = [] if threshold is None else scores_mod.gate_failures(document, float(threshold))
    totals = dict.fromkeys(STATUSES, 0)
    for host in hosts.values():
        for status in STATUSES:
            totals[status] += int((host.get("counts") or {}).get(status, 0))
    exit_status = document.get("exit_status")
    verdict = "PASS" if exit_status == 0 else "FAIL"
    unscored = scores_mod.unscored(document) + [
        f"{h}: {v['missing']}" for h, v in hosts.items() if v.get("missing")
    ]
    rows = [
        ("Result", f"{verdict} (exit status {exit_status})"),
        *(("Not scored", line) for line in unscored),
        ("Score", document.get("score_formula") or scores_mod.FORMULA),
        ("Tool", f"{document.get('tool', '')} {document.get('tool_version', '')}"),
        ("Started", document.get("started")),
        ("Finished", document.get("finished")),
        ("Duration", f"{float(document.get('duration') or 0):.1f} s"),
        ("Inventory", document.get("inventory") or "-"),
        ("Hosts", f"{len(hosts)} ({len(document.get('selected') or hosts)} selected)"),
        ("Controls", str(len(document.get("controls", {})))),
        (
            "Gate",
            "none (any unwaived failure fails the run)"
            if threshold is None
            else f"every host >= {float(threshold):.1f}% ({scores_mod.GATE_RULE}): "
            + (
                f"{len(gate)} failing: " + "; ".join(gate[:20]) + (" ..." if len(gate) > 20 else "")
                if gate
                else "all hosts pass"
            ),
        ),
        ("Cells", "  ".join(f"{k} {v}" for k, v in totals.items())),
    ]
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="meta" id="meta">{body}</table>'


def _waivers(document: dict[str, Any]) -> str:
    waivers = document.get("waivers") or []
    if not waivers:
        return "<p>No waivers in this run.</p>"
    head = (
        "Control / test",
        "Hosts",
        "Justification",
        "Expires",
        "Run",
        "Source",
        "Status",
        "Applied to",
    )
    rows = []
    for w in waivers:
        applied = w.get("applied_to") or []
        target = w.get("control") or f"test {w.get('test')}"
        rows.append(
            f'<tr data-waiver-status="{_e(w.get("status"))}">'
            f"<td>{_e(target)}</td><td>{_e(w.get('hosts') or 'all')}</td>"
            f"<td>{_e(w.get('justification'))}</td><td>{_e(w.get('expires') or 'never')}</td>"
            f"<td>{'yes' if w.get('run', True) else 'no (not run)'}</td>"
            f"<td>{_e(w.get('source'))}</td>"
            f'<td class="ws ws-{_e(w.get("status"))}">{_e(describe_status(w))}</td>'
            f"<td>{len(applied)} host(s)"
            + (
                f": {_e(', '.join(map(str, applied[:10])))}{' ...' if len(applied) > 10 else ''}"
                if applied
                else ""
            )
            + "</td></tr>"
        )
    header = "".join(f"<th>{h}</th>" for h in head)
    return f'<table class="list" id="waivers"><tr>{header}</tr>{"".join(rows)}</table>'


def _baseline(document: dict[str, Any]) -> str:
    baseline = document.get("baseline")
    if not baseline:
        return ""
    parts = [f"<h2>Since the baseline <code>{_e(baseline.get('file'))}</code></h2>"]
    for key, title in (("new_failures", "New failures"), ("fixed", "Fixed")):
        items = baseline.get(key) or []
        by_control: dict[str, list[str]] = {}
        for item in items:
            by_control.setdefault(str(item.get("control")), []).append(str(item.get("host")))
        rows = "".join(
            f"<tr><td>{_e(c)}</td><td>{len(h)}</td><td>{_e(', '.join(h))}</td></tr>"
            for c, h in sorted(by_control.items())
        )
        parts.append(
            f'<h3>{title}: {len(items)}</h3><table class="list" id="baseline-{key}">'
            f"<tr><th>Control</th><th>Hosts</th><th>Which</th></tr>{rows}</table>"
            if items
            else f"<h3>{title}: none</h3>"
        )
    return "".join(parts)


def _asset(name: str) -> str:
    """A file of ``assets/`` (package data), inlined into the page: the report stays one file."""
    asset = resources.files("pytest_fabricplus.compliance") / "assets" / name
    return asset.read_text(encoding="utf-8")


def _filters(document: dict[str, Any]) -> str:
    status_boxes = "".join(
        f'<label><input type="checkbox" name="status" value="{s}"> '
        f'<span class="legend"><span data-status="{s}">{STATUS_LETTERS[s]}</span></span>{s}'
        "</label> "
        for s in (*STATUSES, "absent")
    )
    severity_boxes = "".join(
        f'<label><input type="checkbox" name="severity" value="{s}"> '
        f'<span class="sv sv-{s}">{s[0].upper()}</span> {s}</label> '
        for s in SEVERITIES
    )
    baseline = document.get("baseline")
    new = (
        '<label><input type="checkbox" id="fnew"> new since baseline</label>'
        if baseline
        else '<input type="checkbox" id="fnew" hidden>'
    )
    return (
        '<form id="filters" onsubmit="return false">'
        f"<fieldset><legend>Status</legend>{status_boxes}</fieldset>"
        f"<fieldset><legend>Severity</legend>{severity_boxes}</fieldset>"
        '<label><b>Hosts</b> <input type="search" id="fhost" placeholder="web* db?" size="14">'
        f"</label>{new}"
        '<label><b>Sort</b> <select id="fsort"><option value="">inventory order</option>'
        '<option value="score">score, lowest first</option><option value="name">host name</option>'
        "</select></label>"
        '<button type="button" id="freset">show all</button> <span id="fcount"></span></form>'
    )


def _legend() -> str:
    return (
        '<p class="legend">'
        + "".join(
            f'<span class="lg" data-status="{s}">{STATUS_LETTERS[s]}</span>{s} &nbsp;'
            for s in (*STATUSES, "absent")
        )
        + "&nbsp; <span style='box-shadow:inset 0 0 0 2px #000;padding:0 5px'>&nbsp;</span>"
        ' new since the baseline &nbsp; <span class="hint">click a cell for its details, a control'
        " for its text</span></p>"
    )


def _host_scores(document: dict[str, Any]) -> str:
    threshold = document.get("threshold")
    rows = []
    hosts = sorted(
        document.get("hosts", {}).items(),
        key=lambda kv: (kv[1].get("score") is None, kv[1].get("score") or 0.0, kv[0]),
    )
    for hid, host in hosts:
        counts = host.get("counts") or {}
        fbs = host.get("failed_by_severity") or {}
        sc = host.get("score")
        low = threshold is not None and sc is not None and sc < threshold
        rows.append(
            f'<tr data-host="{_e(hid)}"><td>{_e(hid)}</td><td>{_e(host.get("address"))}</td>'
            f'<td class="{"low" if low else ""}">{_score_text(sc)}</td>'
            + "".join(f"<td>{int(counts.get(s, 0))}</td>" for s in STATUSES)
            + f"<td>{_e(', '.join(f'{k} {v}' for k, v in fbs.items() if v))}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>" for h in ("Host", "Address", "Score", *STATUSES, "Failed by severity")
    )
    return f'<table class="list" id="scores"><tr>{head}</tr>{"".join(rows)}</table>'


#: the widest matrix that is printed (16 px a column on a landscape A4/Letter page); a wider
#: one is left out of the print, whose findings per host carry every cell that is not "passed"
PRINT_MATRIX_MAX_CONTROLS = 60


def _print_header(document: dict[str, Any]) -> str:
    """Run metadata and a place to sign, on the printed page only."""
    threshold = document.get("threshold")
    hosts = document.get("hosts", {})
    exit_status = document.get("exit_status")
    gate = (
        "none (any unwaived failure fails the run)"
        if threshold is None
        else f"every host >= {float(threshold):.1f}%"
    )
    return (
        '<div class="print-only" id="print-header"><p>'
        f"<b>Run</b> {_e(document.get('started'))} to {_e(document.get('finished'))} &nbsp; "
        f"<b>Hosts</b> {len(hosts)} &nbsp; <b>Controls</b> {len(document.get('controls', {}))} "
        f"&nbsp; <b>Gate</b> {_e(gate)} &nbsp; <b>Threshold</b> "
        f"{'none' if threshold is None else _e(f'{float(threshold):.1f}%')} &nbsp; "
        f"<b>Result</b> {'PASS' if exit_status == 0 else 'FAIL'} (exit status {_e(exit_status)})"
        '</p><p class="sign">Reviewed by ______________________ &nbsp; '
        "Date ____________ &nbsp; Signature ______________________</p></div>"
    )


def _print_findings(document: dict[str, Any]) -> str:
    """What the click panel shows, for print: every cell that did not pass, per host, with its
    message and waiver; and every control's text."""
    controls: dict[str, Any] = document.get("controls", {})
    new = {
        (str(i.get("host")), str(i.get("control")))
        for i in (document.get("baseline") or {}).get("new_failures") or []
    }
    parts = ['<section class="print-only" id="print-findings"><h2>Findings per host</h2>']
    for hid, host in document.get("hosts", {}).items():
        entries: dict[str, Any] = host.get("controls", {})
        rows = []
        for cid, meta in controls.items():
            entry = entries.get(cid)
            status = "absent" if entry is None else str(entry.get("status", ""))
            if status == "passed":
                continue
            text = "" if entry is None else str(entry.get("message") or "")
            waiver = None if entry is None else entry.get("waiver")
            if waiver:
                text += (
                    f"{chr(10) if text else ''}waiver ({waiver.get('source') or ''}, expires "
                    f"{waiver.get('expires') or 'never'}"
                    f"{', EXPIRED: not applied' if waiver.get('expired') else ''}"
                    f"{', not run' if waiver.get('run') is False else ''}): "
                    f"{waiver.get('justification') or ''}"
                )
            per_test = (
                None
                if entry is None
                else _compact_results(str(hid), [str(t) for t in meta.get("tests", [])], entry)
            )
            if per_test:
                message = "" if entry is None else str(entry.get("message") or "")
                text += "".join(
                    f"\ntest {r[0]}: {r[1]}" + (f": {r[3]}" if r[3] and r[3] != message else "")
                    for r in per_test
                )
            rows.append(
                f"<tr><td>{_e(cid)}</td>"
                f"<td>{_e(meta.get('severity') or 'none')}</td><td>{_e(status)}"
                f"{' (new since the baseline)' if (str(hid), str(cid)) in new else ''}</td>"
                f"<td>{_e(text)}</td></tr>"
            )
        passed = int((host.get("counts") or {}).get("passed", 0))
        head = (
            f'<h3 data-host="{_e(hid)}">{_e(hid)} &nbsp; {_e(host.get("address"))} &nbsp; '
            f"score {_score_text(host.get('score'))} &nbsp; {passed} passed"
            + (f" &nbsp; unreachable: {_e(host['unreachable'])}" if host.get("unreachable") else "")
            + "</h3>"
        )
        parts.append(
            head
            + (
                '<table class="list pf"><thead><tr><th>Control</th><th>Severity</th>'
                "<th>Status</th><th>Message / waiver</th></tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>"
                if rows
                else "<p>Every control passed.</p>"
            )
        )
    parts.append(
        '<h2>Controls</h2><table class="list pf"><tr><th>Control</th><th>Severity</th>'
        "<th>Title and description</th><th>Tests</th></tr>"
    )
    for cid, meta in controls.items():
        parts.append(
            f"<tr><td>{_e(cid)}</td><td>{_e(meta.get('severity') or 'none')}</td>"
            f"<td><b>{_e(meta.get('title'))}</b> {_e(meta.get('description'))} "
            f"{_e(' '.join(map(str, meta.get('refs') or [])))}</td>"
            f"<td>{_e(' '.join(map(str, meta.get('tests') or [])))}</td></tr>"
        )
    parts.append("</table></section>")
    return "".join(parts)


def render_html(document: dict[str, Any]) -> str:
    """The report page for ``document`` (a ``--compliance-json`` document, version 1)."""
    inventory = document.get("inventory") or "hosts"
    title = f"Compliance report - {inventory} - {document.get('started', '')}"
    n_hosts = len(document.get("hosts", {}))
    n_controls = len(document.get("controls", {}))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<title>{_e(title)}</title><style>{_asset('report.css')}</style></head><body>"
        f"<header><h1>{_e(title)}</h1></header><main>"
        f"{_print_header(document)}"
        f"{render_glance(document)}"
        f"<h2>Run</h2>{_metadata(document)}"
        f'<div class="{"matrix" if n_controls <= PRINT_MATRIX_MAX_CONTROLS else "matrix wide"}">'
        f"<h2>Matrix: {n_hosts} hosts x {n_controls} controls</h2>"
        f"{_legend()}{_filters(document)}"
        "<noscript><p>The matrix needs JavaScript; the tables below do not.</p></noscript>"
        '<div id="wrap"><table id="m"></table></div></div>'
        + (
            ""
            if n_controls <= PRINT_MATRIX_MAX_CONTROLS
            else f'<p class="print-only">The matrix ({n_hosts} hosts x {n_controls} controls) is'
            " too wide to print; the findings per host below list every cell that did not"
            " pass.</p>"
        )
        + f"{_print_findings(document)}"
        f"{_baseline(document)}"
        f"<h2>Waivers</h2>{_waivers(document)}"
        f"<h2>Scores per host</h2>{_host_scores(document)}"
        "</main>"
        '<aside id="panel" hidden><button type="button" class="close" id="pclose">close</button>'
        '<div id="pbody"></div></aside>'
        f'<script type="application/json" id="fp-data">{_json_for_script(_blob(document))}</script>'
        f"<script>{_asset('report.js')}</script></body></html>\n"
    )


def write_html(document: dict[str, Any], path: str) -> pathlib.Path:
    """Write :func:`render_html` of ``document`` to ``path`` (parent directories created)."""
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(document), encoding="utf-8")
    return target
