"""Every view of one run, read back into one shape, so a test can check they tell the same
story (``tests/plugin/test_views_agree.py``).

A run has two levels of record, and each view shows one or both:

* per host x test (a pytest item): the terminal's ``-v`` lines and per-host table,
  ``--fabricplus-report`` JSON, JUnit XML -- outcomes ``passed failed error skipped waived
  crashed interrupted``;
* per host x control: ``--compliance-json``, InSpec JSON (scored by MITRE's inspecjs),
  the HTML report (its embedded data and the DOM a browser builds), ``merge-reports`` --
  our statuses ``passed failed error skipped waived not-applicable``, the per-host score and
  the gate's verdict.

Each ``read_*`` function returns a :class:`View` with what that view shows (``None`` for
what it does not show); a new view is one more function. :func:`disagreements` compares
any number of views field by field and names the view and the key that differ.
"""

from __future__ import annotations

import html.parser
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: test-level outcomes (the per-host table's columns)
TEST_OUTCOMES = (
    "passed",
    "failed",
    "error",
    "skipped",
    "waived",
    "not-applicable",
    "crashed",
    "interrupted",
)
#: Heimdall's status of each of our control statuses (waived: a run: true waiver -- the
#: failure's result is kept, Heimdall counts it Failed; a run: false one is Not Applicable)
HDF_OF = {
    "passed": "Passed",
    "failed": "Failed",
    "error": "Profile Error",
    "skipped": "Not Reviewed",
    "not-applicable": "Not Applicable",
}


@dataclass
class View:
    """What one view says about a run; ``None``: the view does not show it."""

    name: str
    #: (host, test nodeid) -> test outcome
    tests: dict[tuple[str, str], str] | None = None
    #: host -> test outcome -> count (only non-zero counts)
    test_counts: dict[str, dict[str, int]] | None = None
    #: (host, control) -> our control status
    controls: dict[tuple[str, str], str] | None = None
    #: (host, control) -> Heimdall's status
    hdf: dict[tuple[str, str], str] | None = None
    #: host -> score (two decimals; None: not scored)
    scores: dict[str, float | None] | None = None
    #: host -> whole-percent score as saf shows it
    whole_scores: dict[str, int] | None = None
    #: True: the run (or the gate) passed
    verdict: bool | None = None
    #: host -> crash/interrupt marker text, e.g. "crashed (worker gw1)" / "interrupted"
    unfinished: dict[tuple[str, str], str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def nonzero(counts: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    return {h: {k: int(v) for k, v in c.items() if int(v)} for h, c in counts.items()}


def count_tests(tests: Mapping[tuple[str, str], str]) -> dict[str, dict[str, int]]:
    out: dict[str, Counter[str]] = {}
    for (host, _), outcome in tests.items():
        word = "crashed" if outcome.startswith("crashed") else outcome
        out.setdefault(host, Counter())[word] += 1
    return nonzero(out)


# -- terminal --------------------------------------------------------------------------------
_WORDS = "PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS|WAIVED|NOT APPLICABLE|INTERRUPTED|CRASHED"
_VERBOSE = re.compile(
    rf"^(?:\[gw\d+\] \[ *\d+%\] (?P<a>{_WORDS}) (?P<an>\S+::\S+)"
    rf"|(?P<bn>\S+::\S+) (?P<b>{_WORDS})\b)"
)
_WORD = {
    "PASSED": "passed",
    "FAILED": "failed",
    "ERROR": "error",
    "SKIPPED": "skipped",
    "XFAIL": "xfail",  # pytest's own xfail: none in these runs
    "XPASS": "passed",
    "WAIVED": "waived",
    "NOT APPLICABLE": "not-applicable",
    "INTERRUPTED": "interrupted",
    "CRASHED": "crashed",
}


def _table(lines: list[str], title: str) -> tuple[list[str], list[list[str]]]:
    start = next(i for i, line in enumerate(lines) if title in line)
    header = lines[start + 1].split()
    rows = []
    for line in lines[start + 2 :]:
        if not line.strip() or line.startswith(("=", "-", "n/s:", "score:")):
            break
        rows.append(line.split())
    return header, rows


def read_terminal(lines: list[str], hosts: Iterable[str]) -> View:
    """``-v`` lines (one outcome per test and phase), the per-host table, the compliance
    section (scores) and the gate line. A test's ERROR line at teardown after PASSED counts
    as error, as the per-host table counts it."""
    ids = sorted(hosts, key=len, reverse=True)
    tests: dict[tuple[str, str], str] = {}
    for line in lines:
        m = _VERBOSE.match(line)
        if not m:
            continue
        word = _WORD[m.group("a") or m.group("b")]
        nodeid = m.group("an") or m.group("bn")
        host = next((h for h in ids if f"[{h}]" in nodeid or f"-{h}]" in nodeid), None)
        if host is None:
            continue
        key = (host, nodeid)
        if tests.get(key) in (None, "passed"):
            tests[key] = word
    header, rows = _table(lines, "fabricplus: results per host")
    columns = [c for c in header[1:] if c != "unreachable"]
    counts = {}
    unreachable = {}
    for row in rows:
        numbers = row[1 : 1 + len(columns)]
        if len(numbers) < len(columns) or not all(n.isdigit() for n in numbers):
            break
        counts[row[0]] = dict(zip(columns, map(int, numbers), strict=True))
        if len(row) > 1 + len(columns):
            unreachable[row[0]] = " ".join(row[1 + len(columns) :])
    scores: dict[str, float | None] | None = None
    if any("fabricplus: compliance per host" in line for line in lines):
        _, srows = _table(lines, "fabricplus: compliance per host")
        scores = {}
        for row in srows:
            if len(row) < 2 or not (row[1] == "n/s" or row[1].endswith("%")):
                break
            scores[row[0]] = None if row[1] == "n/s" else float(row[1].rstrip("%"))
    verdict: bool | None = None
    for line in lines:
        if "compliance gate: FAILED" in line:
            verdict = False
        elif line.startswith("compliance gate: passed"):
            verdict = True
    return View(
        "terminal",
        tests=tests,
        test_counts=nonzero(counts),
        scores=scores,
        verdict=verdict,
        extra={"unreachable": unreachable},
    )


# -- --fabricplus-report ------------------------------------------------------------------
def read_fabricplus_report(path: Path) -> View:
    doc = json.loads(path.read_text())
    tests = {}
    unfinished = {}
    for host, data in doc["hosts"].items():
        for t in data["tests"]:
            outcome = str(t["outcome"])
            tests[(host, t["nodeid"])] = "crashed" if outcome.startswith("crashed") else outcome
            if outcome.startswith("crashed") or outcome == "interrupted":
                unfinished[(host, t["nodeid"])] = outcome
    return View(
        "fabricplus-report",
        tests=tests,
        test_counts=nonzero({h: d["counts"] for h, d in doc["hosts"].items()}),
        verdict=doc["exit_status"] == 0,
        unfinished=unfinished,
        extra={"interrupted": doc["interrupted"], "exit_status": doc["exit_status"]},
    )


# -- JUnit XML ----------------------------------------------------------------------------------
def read_junit(path: Path) -> View:
    """Each test case's outcome from its child elements, its host from the
    ``fabricplus_host`` property; a waived or not applicable test is a ``<skipped>`` with
    ``fabricplus_waived`` / ``fabricplus_not_applicable``; a crashed or interrupted test
    carries ``fabricplus_crashed`` / ``fabricplus_interrupted``."""
    root = ET.parse(path).getroot()
    tests = {}
    unfinished = {}
    for case in root.iter("testcase"):
        props = {p.get("name"): p.get("value") or "" for p in case.iter("property")}
        host = props.get("fabricplus_host")
        if host is None:
            continue
        nodeid = _junit_nodeid(case)
        kids = {child.tag: child for child in case}
        outcome = "passed"
        if "error" in kids:
            outcome = "error"
        elif "failure" in kids:
            outcome = "failed"
        elif "skipped" in kids:
            outcome = "skipped"
            if "fabricplus_waived" in props:
                outcome = "waived"
            elif "fabricplus_not_applicable" in props:
                outcome = "not-applicable"
        if "fabricplus_crashed" in props:
            outcome = "crashed"
            unfinished[(host, nodeid)] = f"crashed ({props['fabricplus_crashed']})"
        elif "fabricplus_interrupted" in props:
            outcome = "interrupted"
            unfinished[(host, nodeid)] = "interrupted"
        tests[(host, nodeid)] = outcome
    return View("junit", tests=tests, test_counts=count_tests(tests), unfinished=unfinished)


def _junit_nodeid(case: ET.Element) -> str:
    """pytest's nodeid from a JUnit test case (``classname`` is the dotted module path and
    class; ``name`` the function with its parameters)."""
    classname = case.get("classname") or ""
    name = case.get("name") or ""
    parts = classname.split(".")
    # the module is the longest prefix that names a test file: test_*.py
    for i in range(len(parts), 0, -1):
        if parts[i - 1].startswith("test_"):
            module = "/".join(parts[:i]) + ".py"
            return "::".join([module, *parts[i:], name])
    return f"{classname}::{name}"


# -- --compliance-json / merge-reports --json ----------------------------------------------------
def read_compliance(path: Path, name: str = "compliance-json") -> View:
    doc = json.loads(path.read_text())
    return compliance_view(doc, name)


def compliance_view(doc: Mapping[str, Any], name: str) -> View:
    from pytest_fabricplus.compliance import scores as scores_mod

    controls = {
        (h, c): str(e["status"]) for h, d in doc["hosts"].items() for c, e in d["controls"].items()
    }
    hdf = {}
    impacts = {c: float(m.get("impact", 0.5)) for c, m in doc["controls"].items()}
    for h, d in doc["hosts"].items():
        for c, e in d["controls"].items():
            w = e.get("waiver") or {}
            run = bool(w.get("run", True)) or bool(w.get("expired"))
            hdf[(h, c)] = scores_mod.hdf_status(str(e["status"]), impacts.get(c, 0.5), run)
    scores = {h: d["score"] for h, d in doc["hosts"].items()}
    unfinished = {}
    for h, d in doc["hosts"].items():
        for e in d["controls"].values():
            for r in e.get("results") or []:
                message = str(r.get("message") or "")
                if message.startswith(("crashed (worker", "interrupted")):
                    unfinished[(h, str(r["nodeid"]))] = message.split(":", 1)[0]
    return View(
        name,
        controls=controls,
        hdf=hdf,
        scores=scores,
        # saf shows 0 where we say "not scored"
        whole_scores={h: scores_mod.saf_round(float(s or 0.0)) for h, s in scores.items()},
        verdict=doc["exit_status"] == 0,
        unfinished=unfinished,
        extra={"document": doc},
    )


# -- InSpec JSON through inspecjs ---------------------------------------------------------------
_HDF_JS = """
const {convertFileContextual} = require(process.env.INSPECJS);
const fs = require('fs');
const out = {};
for (const file of process.argv.slice(1)) {
  const profile = convertFileContextual(fs.readFileSync(file, 'utf8')).contains[0];
  const st = {};
  for (const c of profile.contains) { st[c.data.id] = c.root.hdf.status; }
  out[file] = st;
}
console.log(JSON.stringify(out));
"""


def read_inspec(directory: Path, inspecjs: str) -> View:
    """Heimdall's status of every control in every host's file, computed by inspecjs, and
    Heimdall's compliance figure from them."""
    import os
    import subprocess

    from testing import inspecjs as ijs

    files = sorted(str(p) for p in directory.glob("*.json"))
    out = subprocess.run(
        ["node", "-e", _HDF_JS, *files],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "INSPECJS": inspecjs},
        check=True,
    )
    per_file: dict[str, dict[str, str]] = json.loads(out.stdout)
    hdf = {}
    scores: dict[str, float | None] = {}
    whole = {}
    for file, statuses in per_file.items():
        doc = json.loads(Path(file).read_text())
        host = doc["platform"]["target_id"]
        for cid, status in statuses.items():
            hdf[(host, cid)] = status
        n = Counter(statuses.values())
        counted = n["Passed"] + n["Failed"] + n["Not Reviewed"] + n["Profile Error"]
        scores[host] = None if counted == 0 else round(ijs.compliance(dict(n)), 2)
        whole[host] = int(ijs.compliance(dict(n)) + 0.5)
    return View("inspec-json (inspecjs)", hdf=hdf, scores=scores, whole_scores=whole)


# -- HTML ------------------------------------------------------------------------------------
class _Blob(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.inside = tag == "script" and dict(attrs).get("id") == "fp-data"

    def handle_endtag(self, tag: str) -> None:
        self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.text += data


_LETTER = {
    "p": "passed",
    "f": "failed",
    "e": "error",
    "s": "skipped",
    "w": "waived",
    "n": "not-applicable",
}


def read_html_data(path: Path) -> View:
    """The JSON blob the page builds its matrix from."""
    parser = _Blob()
    parser.feed(path.read_text(encoding="utf-8"))
    blob = json.loads(parser.text)
    ids = [c["id"] for c in blob["controls"]]
    controls = {}
    for h in blob["hosts"]:
        for cid, letter in zip(ids, h["s"], strict=True):
            if letter != "-":
                controls[(h["id"], cid)] = _LETTER[letter]
    return View(
        "html data",
        controls=controls,
        scores={h["id"]: h["sc"] for h in blob["hosts"]},
    )


#: in the page, once built: every matrix cell, the scores table, the run's Result row
_DOM_JS = """
() => {
  const cells = [...document.querySelectorAll('#m td.x')].map((td) => [
    td.getAttribute('data-host'), td.getAttribute('data-control'),
    td.getAttribute('data-status'), td.textContent]);
  const scores = [...document.querySelectorAll('#scores tr[data-host]')].map((tr) =>
    [tr.getAttribute('data-host'), tr.cells[2].textContent]);
  const meta = {};
  for (const tr of document.querySelectorAll('#meta tr')) {
    meta[tr.cells[0].textContent] = (meta[tr.cells[0].textContent] || []).concat(
      [tr.cells[1].textContent]);
  }
  return {cells, scores, meta};
}
"""


def read_html_dom(path: Path, chromium: str, screenshot: Path | None = None) -> View:
    """What headless Chromium shows: the cells' ``data-status`` and letters, the scores
    table (one decimal), the Result row."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(path.as_uri())
            page.wait_for_selector("body[data-ready='1']")
            got = page.evaluate(_DOM_JS)
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    letters = {"P": "passed", "F": "failed", "E": "error", "S": "skipped", "W": "waived"}
    letters["N"] = "not-applicable"
    controls = {}
    for host, cid, status, letter in got["cells"]:
        if status == "absent":
            continue
        controls[(host, cid)] = status
        assert letters[letter] == status, (host, cid, status, letter)
    shown: dict[str, float | None] = {
        h: None if text == "n/a" else float(text.rstrip("%")) for h, text in got["scores"]
    }
    result = (got["meta"].get("Result") or [""])[0]
    return View(
        "html dom",
        controls=controls,
        scores=shown,
        verdict=result.startswith("PASS"),
        extra={"meta": got["meta"]},
    )


# -- comparing ---------------------------------------------------------------------------------
_FIELDS = ("tests", "test_counts", "controls", "hdf", "scores", "whole_scores", "verdict")


def _close(a: Any, b: Any, places: int) -> bool:
    """Two scores are the same to ``places`` decimals; ``None`` (our "not scored": an
    unreachable host, or nothing that counts ran) is Heimdall's and saf's 0."""
    if a == "<missing>" or b == "<missing>":
        return bool(a == b)
    return round(float(a or 0.0), places) == round(float(b or 0.0), places)


def disagreements(
    views: Iterable[View], score_places: Mapping[str, int] | None = None
) -> list[str]:
    """Every field two views both show and differ on, named: ``scores: terminal says
    web2=50.0, compliance-json says web2=66.67``. Scores compare to the fewest decimals a
    view shows (``score_places``: view name -> decimals; default 2)."""
    views = list(views)
    places = dict(score_places or {})
    out = []
    for name in _FIELDS:
        shown = [(v, getattr(v, name)) for v in views if getattr(v, name) is not None]
        if len(shown) < 2:
            continue
        first, ref = shown[0]
        for other, value in shown[1:]:
            if name == "verdict":
                if value != ref:
                    out.append(f"verdict: {first.name} says {ref}, {other.name} says {value}")
                continue
            digits = min(places.get(first.name, 2), places.get(other.name, 2))
            keys = set(ref) | set(value)
            for key in sorted(keys, key=str):
                a, b = ref.get(key, "<missing>"), value.get(key, "<missing>")
                ok = _close(a, b, digits) if name == "scores" else a == b
                if not ok:
                    out.append(f"{name}: {first.name} says {key}={a}, {other.name} says {key}={b}")
    return out
