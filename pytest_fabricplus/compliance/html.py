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


_CSS = """
*{box-sizing:border-box}body{font:13px/1.35 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
margin:0;color:#1a1a1a;background:#fff}header{padding:10px 16px;background:#263238;color:#fff}
header h1{font-size:18px;margin:0}main{padding:8px 16px}h2{font-size:15px;margin:18px 0 6px}
h3{font-size:13px;margin:10px 0 4px}table.meta th{text-align:left;padding:1px 10px 1px 0;
font-weight:600}table.list{border-collapse:collapse}table.list td,table.list th{border:1px solid #ccc;
padding:2px 6px;text-align:left;vertical-align:top}.ws-applied{background:#fff3cd}
.ws-expired{background:#f8d7da}.ws-unmatched{background:#f8d7da;font-weight:700}
.ws-not-needed{background:#e2e3e5}#filters{position:sticky;top:0;background:#f5f5f5;z-index:5;
padding:6px 8px;border:1px solid #ddd;display:flex;flex-wrap:wrap;gap:14px;align-items:center}
#filters fieldset{border:0;padding:0;margin:0}#filters legend{font-weight:600;float:left;
margin-right:6px}#wrap{overflow:auto;max-height:75vh;border:1px solid #ccc;margin-top:6px}
#m{border-collapse:separate;border-spacing:0}#m th,#m td{padding:0}#m thead th{position:sticky;
top:0;background:#fafafa;z-index:2;vertical-align:bottom;border-bottom:1px solid #999}
#m thead th.c{height:104px;width:16px;min-width:16px;cursor:pointer}#m thead th.c div{
writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:400;
font-size:11px;padding:2px 0;max-height:86px;overflow:hidden;margin:0 auto}#m th.h,#m td.h{position:sticky;
left:0;background:#fff;z-index:1;text-align:left;white-space:nowrap;padding:0 6px;
border-right:1px solid #999;font-weight:400}#m thead th.h{z-index:3}#m td.sc{position:sticky;
left:var(--hw,140px);background:#fff;z-index:1;padding:0 4px;text-align:right;
border-right:1px solid #999;white-space:nowrap}#m td.x{width:16px;min-width:16px;height:16px;
text-align:center;font:bold 10px/16px ui-monospace,Menlo,Consolas,monospace;cursor:pointer;
border-right:1px solid #fff;border-bottom:1px solid #fff}
[data-status=passed]{background:#2e7d32;color:#fff}[data-status=failed]{background:#c62828;
color:#fff}[data-status=error]{background:#6a1b9a;color:#fff}[data-status=skipped]{
background:#cfd8dc;color:#37474f}[data-status=waived]{background:#f9a825;color:#000}
[data-status=not-applicable]{background:#e0f2f1;color:#00695c}
[data-status=absent]{background:#fff;color:#999}#m td.x[data-match="0"]{opacity:.12}
#m td.x.nw{box-shadow:inset 0 0 0 2px #000}#m td.x.sel{outline:2px solid #0d47a1;outline-offset:-1px}
.sv{display:inline-block;min-width:14px;font:bold 10px/14px ui-monospace,monospace;
text-align:center;border-radius:2px;color:#fff}.sv-critical{background:#000}.sv-high{
background:#b71c1c}.sv-medium{background:#e65100}.sv-low{background:#546e7a}.sv-none{
background:#bbb}.low{color:#c62828;font-weight:700}#panel{position:fixed;right:0;top:0;bottom:0;
width:min(520px,92vw);background:#fff;color:#1a1a1a;border-left:2px solid #263238;box-shadow:-4px 0 12px #0003;
padding:10px 14px;overflow:auto;z-index:10}#panel[hidden]{display:none}#panel pre{
white-space:pre-wrap;word-break:break-word;background:#f5f5f5;padding:6px;border:1px solid #ddd;
max-height:40vh;overflow:auto}#panel .close{float:right}#panel dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 10px}#panel dt{font-weight:600}#panel dd{margin:0;word-break:break-word}#panel table{width:100%;table-layout:fixed}#panel td{word-break:break-word}.legend span{display:inline-block;
padding:0 5px;margin-right:4px;font:bold 11px/16px ui-monospace,monospace}
#glance .gl-grid{display:flex;flex-wrap:wrap;gap:8px 24px}#glance figure{margin:0;padding:6px 8px;
border:1px solid #ddd;border-radius:3px;break-inside:avoid}#glance figcaption{font-weight:600;
margin-bottom:4px}#glance svg{display:block;max-width:100%;height:auto}
#glance .gl-l{font:12px system-ui,sans-serif;fill:#1a1a1a}#glance .gl-n{font:bold 12px
ui-monospace,Menlo,Consolas,monospace;fill:#1a1a1a}.print-only{display:none}
.legend span.hint{font:inherit;padding:0;display:inline}
@page{size:A4 landscape;margin:12mm}
@media print{body{font-size:10px;color:#000}header{background:none;color:#000;padding:0 0 4px;
border-bottom:2px solid #000}.print-only{display:block}#filters,#panel,noscript,.legend .hint{
display:none!important}#wrap{overflow:visible;max-height:none;border:0}
#m thead th{position:static}#m th.h,#m td.h,#m td.sc{position:static}
.matrix.wide{display:none}#print-findings{break-before:page}h2,h3{break-after:avoid}
tr,figure,#print-header,#meta{break-inside:avoid}table.list{width:100%}table.list td{
word-break:break-word}table.pf td:nth-child(4){white-space:pre-wrap}table.pf td:first-child{white-space:nowrap}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""  # noqa: E501

_JS = r"""
(function(){
"use strict";
var t0=performance.now();
var D=JSON.parse(document.getElementById("fp-data").textContent);
var C=D.controls,H=D.hosts;
var NAME={p:"passed",f:"failed",e:"error",s:"skipped",w:"waived",n:"not-applicable","-":"absent"};
var LET={p:"P",f:"F",e:"E",s:"S",w:"W",n:"N","-":"-"};
var SVL={critical:"C",high:"H",medium:"M",low:"L",none:"N"};
function esc(s){return String(s).replace(/&/g,"&amp;").replace(/</g,"&lt;")
.replace(/>/g,"&gt;").replace(/"/g,"&quot;").replace(/'/g,"&#39;");}
function score(v){return v===null||v===undefined?"n/a":Number(v).toFixed(1)+"%";}
var newSet={};D["new"].forEach(function(p){newSet[p[0]+":"+p[1]]=1;});
var head=['<thead><tr><th class="h">host</th><th class="h2">score</th>'];
C.forEach(function(c,i){head.push('<th class="c" data-ci="'+i+'" data-control="'+esc(c.id)+
'" data-severity="'+esc(c.sv)+'" title="'+esc(c.id+" \u2014 "+c.t+" ("+c.sv+")")+
'"><div>'+esc(c.id)+'</div><span class="sv sv-'+esc(c.sv)+'">'+(SVL[c.sv]||"?")+
'</span></th>');});
head.push("</tr></thead><tbody>");
var body=[];var th=D.threshold;var cid=C.map(function(c){return esc(c.id);});
H.forEach(function(h,hi){var hid=esc(h.id);
var low=th!==null&&th!==undefined&&h.sc!==null&&h.sc<th;
body.push('<tr data-i="'+hi+'" data-host="'+hid+'"><td class="h" title="'+esc(h.a+" "+h.pf)+'">'+hid+
'</td><td class="sc'+(low?' low':'')+'" data-score="'+(h.sc===null?"":h.sc)+'">'+score(h.sc)+
'</td>');var s=h.s;
for(var i=0;i<s.length;i++){var k=s.charAt(i);
body.push('<td class="x'+(newSet[hi+":"+i]?' nw':'')+'" data-host="'+hid+
'" data-control="'+cid[i]+'" data-status="'+NAME[k]+'">'+LET[k]+'</td>');}
body.push("</tr>");});
body.push("</tbody>");
var M=document.getElementById("m");M.innerHTML=head.join("")+body.join("");
var hw=M.querySelector("thead th.h").getBoundingClientRect().width;
M.style.setProperty("--hw",hw+"px");
var rows=Array.prototype.slice.call(M.tBodies[0].rows),heads=M.tHead.rows[0].cells;
var panel=document.getElementById("panel"),pbody=document.getElementById("pbody");
function el(tag,text,cls){var e=document.createElement(tag);if(text!==undefined)e.textContent=text;
if(cls)e.className=cls;return e;}
function kv(dl,k,v){dl.appendChild(el("dt",k));dl.appendChild(el("dd",v));}
var selected=null,openCell=null;
var hostIndex={},ctlIndex={};H.forEach(function(h,i){hostIndex[h.id]=i;});C.forEach(function(c,i){ctlIndex[c.id]=i;});
function showCell(td){var hi=+td.parentNode.getAttribute("data-i"),ci=td.cellIndex-2;
var h=H[hi],c=C[ci],d=h.d[ci]||{},st=NAME[h.s.charAt(ci)];openCell=[h.id,c.id];
if(selected)selected.classList.remove("sel");selected=td;td.classList.add("sel");
pbody.textContent="";pbody.appendChild(el("h2",c.id+" on "+h.id));
var p=el("p");var b=el("span",LET[h.s.charAt(ci)]+" "+st);b.className="sv";
b.style.cssText="background:none;color:inherit;border:1px solid #999;padding:0 4px";
p.appendChild(b);if(newSet[hi+":"+ci])p.appendChild(el("strong"," new since the baseline"));
pbody.appendChild(p);
var dl=el("dl");kv(dl,"Title",c.t);kv(dl,"Severity",c.sv+(c.im!==null&&c.im!==undefined?
" (impact "+c.im+")":""));kv(dl,"Host",h.id+"  "+h.a+(h.pf?"  ("+h.pf+")":""));
kv(dl,"Host score",score(h.sc));if(d.du!==undefined)kv(dl,"Duration",Number(d.du).toFixed(3)+" s");
pbody.appendChild(dl);
if(d.m){pbody.appendChild(el("h3",st==="skipped"?"Reason":"Message"));pbody.appendChild(el("pre",d.m));}
if(d.w){var w=d.w;pbody.appendChild(el("h3",w.expired?"Waiver (EXPIRED \u2014 not applied)":"Waiver"));
var wl=el("dl");kv(wl,"Justification",w.justification||"");
kv(wl,"Expires",w.expires||"never");kv(wl,"Run",w.run===false?"no (check not run)":"yes");
kv(wl,"Source",w.source||"");pbody.appendChild(wl);}
pbody.appendChild(el("h3","Results per test"));var tb=el("table");tb.className="list";
var hr=el("tr");["test","status","time","message"].forEach(function(x){hr.appendChild(el("th",x));});
tb.appendChild(hr);var res=d.r||c.ts.map(function(t){return [t+"["+h.id+"]",st,null,d.m||""];});
res.forEach(function(r){var tr=el("tr");tr.appendChild(el("td",r[0]));tr.appendChild(el("td",r[1]));
tr.appendChild(el("td",r[2]===null||r[2]===undefined?"":Number(r[2]).toFixed(3)+" s"));
tr.appendChild(el("td",r[3]&&r[3]===d.m?"(the message above)":r[3]||""));tb.appendChild(tr);});pbody.appendChild(tb);
showControlMeta(c);panel.hidden=false;panel.setAttribute("data-host",h.id);
panel.setAttribute("data-control",c.id);panel.setAttribute("data-status",st);}
function showControlMeta(c){pbody.appendChild(el("h3","Control"));
if(c.d)pbody.appendChild(el("p",c.d));var dl=el("dl");
if(c.rf.length)kv(dl,"References",c.rf.join("  "));if(c.tg.length)kv(dl,"Tags",c.tg.join(", "));
kv(dl,"Tests",c.ts.join("  "));pbody.appendChild(dl);}
function showControl(ci){var c=C[ci];pbody.textContent="";pbody.appendChild(el("h2",c.id));
pbody.appendChild(el("p",c.t));var n={};H.forEach(function(h){var k=NAME[h.s.charAt(ci)];n[k]=(n[k]||0)+1;});
var dl=el("dl");kv(dl,"Severity",c.sv+(c.im!==null&&c.im!==undefined?" (impact "+c.im+")":""));
kv(dl,"Hosts",Object.keys(n).map(function(k){return k+" "+n[k];}).join(", "));
pbody.appendChild(dl);showControlMeta(c);panel.hidden=false;}
M.addEventListener("click",function(ev){var t=ev.target.closest("td.x");if(t){showCell(t);toHash();return;}
var hd=ev.target.closest("th.c");if(hd)showControl(+hd.getAttribute("data-ci"));});
function closePanel(){panel.hidden=true;openCell=null;if(selected)selected.classList.remove("sel");toHash();}
document.getElementById("pclose").addEventListener("click",closePanel);
document.addEventListener("keydown",function(ev){if(ev.key==="Escape")closePanel();});
/* filters */
var F=document.getElementById("filters");
function checked(name){return Array.prototype.filter.call(F.querySelectorAll("input[name="+name+"]"),
function(i){return i.checked;}).map(function(i){return i.value;});}
function glob(p){p=p.trim();if(!p)return null;return p.split(/[\s,]+/).filter(Boolean).map(function(x){
return new RegExp("^"+x.replace(/[.+^${}()|[\]\\]/g,"\\$&").replace(/\*/g,".*").replace(/\?/g,".")+"$");});}
var filtered=false,matchState=new Uint8Array(H.length*C.length),
colState=C.map(function(){return true;});
function apply(){var ft=performance.now();applyFilters();
document.body.setAttribute("data-filter-ms",String(Math.round(performance.now()-ft)));}
function applyFilters(){var sts=checked("status"),svs=checked("severity");
var hp=glob(document.getElementById("fhost").value),onlyNew=document.getElementById("fnew").checked;
var allSt=sts.length===0||sts.length===6,stOk={};sts.forEach(function(s){stOk[s]=1;});
var svOk={};svs.forEach(function(s){svOk[s]=1;});
var colOn=C.map(function(c){return svs.length===0||!!svOk[c.sv];});var colHas=C.map(function(){return false;});
var shown=0;var none=allSt&&svs.length===0&&!hp&&!onlyNew;
if(none&&!filtered){document.getElementById("fcount").textContent=H.length+" hosts, "+C.length+
" controls";return;}
filtered=true;var n=C.length;
for(var r=0;r<rows.length;r++){var row=rows[r],h=H[r];
var hostOn=!hp||hp.some(function(re){return re.test(h.id);});var any=false;
for(var i=0;i<n;i++){var k=NAME[h.s.charAt(i)];
var m=hostOn&&colOn[i]&&(allSt||!!stOk[k])&&(!onlyNew||!!newSet[r+":"+i]);
var v=m?2:1;if(matchState[r*n+i]!==v){matchState[r*n+i]=v;
row.cells[i+2].setAttribute("data-match",m?"1":"0");}if(m){any=true;colHas[i]=true;}}
if(row.hidden!==!any)row.hidden=!any;if(any)shown++;}
for(var j=0;j<n;j++){var on=colHas[j];if(colState[j]===on)continue;colState[j]=on;
heads[j+2].hidden=!on;for(var r2=0;r2<rows.length;r2++)rows[r2].cells[j+2].hidden=!on;}
document.getElementById("fcount").textContent=shown+" of "+H.length+" hosts, "+
colHas.filter(Boolean).length+" of "+C.length+" controls shown";}
function toHash(){var p=[];var s=checked("status"),v=checked("severity"),h=document.getElementById("fhost").value.trim();
if(s.length)p.push("status="+s.join(","));if(v.length)p.push("severity="+v.join(","));
if(h)p.push("host="+encodeURIComponent(h));if(document.getElementById("fnew").checked)p.push("new=1");
var so=document.getElementById("fsort").value;if(so)p.push("sort="+so);
if(openCell)p.push("dh="+encodeURIComponent(openCell[0]),"dc="+encodeURIComponent(openCell[1]));
history.replaceState(null,"",p.length?"#"+p.join("&"):location.pathname+location.search);}
function fromHash(){var q={};location.hash.replace(/^#/,"").split("&").forEach(function(kv){
if(!kv)return;var i=kv.indexOf("=");q[decodeURIComponent(i<0?kv:kv.slice(0,i))]=i<0?"":decodeURIComponent(kv.slice(i+1));});
["status","severity"].forEach(function(n){var want=(q[n]||"").split(",");
F.querySelectorAll("input[name="+n+"]").forEach(function(i){i.checked=want.indexOf(i.value)>=0;});});
document.getElementById("fhost").value=q.host||"";document.getElementById("fnew").checked=q["new"]==="1";
document.getElementById("fsort").value=q.sort==="score"||q.sort==="name"?q.sort:"";sortRows();apply();
if(q.dh!==undefined&&hostIndex[q.dh]!==undefined&&ctlIndex[q.dc]!==undefined){
showCell(rows[hostIndex[q.dh]].cells[ctlIndex[q.dc]+2]);}}
var sorted="";function sortRows(){var how=document.getElementById("fsort").value;
if(how===sorted)return;sorted=how;var order=H.map(function(h,i){return i;});
if(how==="score")order.sort(function(a,b){var x=H[a].sc,y=H[b].sc;if(x===null)x=1e9;if(y===null)y=1e9;
return x-y||a-b;});else if(how==="name")order.sort(function(a,b){return H[a].id<H[b].id?-1:H[a].id>H[b].id?1:0;});
var frag=document.createDocumentFragment();order.forEach(function(i){frag.appendChild(rows[i]);});
M.tBodies[0].appendChild(frag);}
var timer=null;F.addEventListener("input",function(ev){if(ev.target.id==="fsort")sortRows();if(ev.target.id==="fhost"){clearTimeout(timer);
timer=setTimeout(function(){apply();toHash();},120);}else{apply();toHash();}});
document.getElementById("freset").addEventListener("click",function(){
F.querySelectorAll("input[type=checkbox]").forEach(function(i){i.checked=false;});
document.getElementById("fhost").value="";apply();toHash();});
window.addEventListener("hashchange",fromHash);fromHash();
document.body.setAttribute("data-render-ms",String(Math.round(performance.now()-t0)));
document.body.setAttribute("data-ready","1");
})();
"""  # noqa: E501


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
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
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
        f"<script>{_JS}</script></body></html>\n"
    )


def write_html(document: dict[str, Any], path: str) -> pathlib.Path:
    """Write :func:`render_html` of ``document`` to ``path`` (parent directories created)."""
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(document), encoding="utf-8")
    return target
