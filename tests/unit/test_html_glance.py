"""The HTML report's "fleet at a glance" (``pytest_fabricplus.compliance.charts``): every number
drawn is read back from the page (its ``data-n``) and compared with the compliance document and
with the matrix's own data (the page's JSON blob), at 3 hosts and at 500 hosts x 200 controls.
"""

from __future__ import annotations

import html.parser
import json
import re
from collections import Counter
from typing import Any

import pytest

from pytest_fabricplus.compliance import scores as compliance_scores
from pytest_fabricplus.compliance.html import render_html
from testing.compliance_docs import control_id, make_document

LETTER = {
    "p": "passed",
    "f": "failed",
    "e": "error",
    "s": "skipped",
    "w": "waived",
    "n": "not-applicable",
    "-": "absent",
}


class _Figures(html.parser.HTMLParser):
    """figure name -> [(data-key, data-n text)], in page order; and the figures' captions."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, list[tuple[str, str]]] = {}
        self.captions: dict[str, str] = {}
        self._figure: str | None = None
        self._key: str | None = None
        self._caption = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "figure" and a.get("data-figure"):
            self._figure = str(a["data-figure"])
            self.figures[self._figure] = []
        elif tag == "figcaption":
            self._caption = True
        elif tag == "g" and self._figure:
            self._key = str(a.get("data-key"))
        elif tag == "text" and self._figure and "data-n" in a:
            assert self._key is not None
            self.figures[self._figure].append((self._key, str(a["data-n"])))

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._figure = None
        elif tag == "figcaption":
            self._caption = False

    def handle_data(self, data: str) -> None:
        if self._caption and self._figure:
            self.captions[self._figure] = self.captions.get(self._figure, "") + data


def _figures(page: str) -> _Figures:
    glance = page.split('<section id="glance">', 1)[1].split("</section>", 1)[0]
    parser = _Figures()
    parser.feed(glance)
    return parser


def _blob(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="fp-data">(.*?)</script>', page, re.S)
    assert match
    return json.loads(match.group(1))


def _doc(hosts: int, controls: int, **kw: Any) -> dict[str, Any]:
    doc = make_document(hosts=hosts, controls=controls, **kw)
    # a cell that did not run and a not-applicable one, so every status is drawn
    first = next(iter(doc["hosts"].values()))
    del first["controls"][control_id(4)]
    entry = first["controls"][control_id(6)]
    entry["status"] = "not-applicable"
    first["counts"] = dict(Counter(e["status"] for e in first["controls"].values()))
    first["failed_by_severity"] = dict(
        Counter(
            doc["controls"][c]["severity"]
            for c, e in first["controls"].items()
            if e["status"] == "failed"
        )
    )
    compliance_scores.rescore(doc)
    return doc


def _check(doc: dict[str, Any]) -> _Figures:
    page = render_html(doc)
    fig = _figures(page)
    blob = _blob(page)
    hosts, controls = doc["hosts"], doc["controls"]

    # status of every cell: the matrix's letters, and the document's per-host counts
    drawn = {k: int(v) for k, v in fig.figures["status"]}
    matrix = Counter(LETTER[ch] for h in blob["hosts"] for ch in h["s"])
    assert drawn == {k: matrix.get(k, 0) for k in drawn}
    from_counts: Counter[str] = Counter()
    for host in hosts.values():
        from_counts.update({k: int(v) for k, v in host["counts"].items()})
    absent = sum(1 for h in hosts.values() for c in controls if c not in h["controls"])
    assert drawn == {**{k: from_counts.get(k, 0) for k in drawn}, "absent": absent}
    assert sum(drawn.values()) == len(hosts) * len(controls)
    assert (
        f"Status of the {len(hosts) * len(controls)} host x control cells" in fig.captions["status"]
    )
    assert drawn["absent"] >= 1
    assert drawn["not-applicable"] >= 1

    # failures by severity: the document's failed_by_severity summed over hosts
    severity = {k: int(v) for k, v in fig.figures["severity"]}
    expected_sev = Counter(
        controls[c]["severity"]
        for host in hosts.values()
        for c, e in host["controls"].items()
        if e["status"] == "failed"
    )
    assert severity == {k: expected_sev.get(k, 0) for k in severity}
    assert sum(severity.values()) == drawn["failed"]
    # the generator's own failed_by_severity (it counted the same cells)
    assert severity == {
        k: sum(int(h["failed_by_severity"].get(k, 0)) for h in hosts.values()) for k in severity
    }

    # host scores, 10 % buckets (100 in the last), unscored apart
    buckets = dict(fig.figures["scores"])
    expected_buckets = Counter(
        "unscored" if h["score"] is None else f"b{min(9, int(h['score'] // 10))}"
        for h in hosts.values()
    )
    assert {k: int(v) for k, v in buckets.items()} == {
        k: expected_buckets.get(k, 0) for k in buckets
    }
    assert set(buckets) == {f"b{i}" for i in range(10)} | {"unscored"}
    assert sum(int(v) for v in buckets.values()) == len(hosts)

    # the worst hosts: unscored first, then lowest score; the matrix's scores agree
    worst = fig.figures["worst-hosts"]
    order = sorted(hosts, key=lambda h: (hosts[h]["score"] is not None, hosts[h]["score"] or 0, h))
    assert [h for h, _ in worst] == order[: min(10, len(hosts))]
    matrix_scores = {h["id"]: h["sc"] for h in blob["hosts"]}
    for hid, n in worst:
        assert (n == "" and hosts[hid]["score"] is None) or float(n) == hosts[hid]["score"]
        assert matrix_scores[hid] == hosts[hid]["score"]

    # the controls failing on the most hosts, counted from the matrix
    ctl_ids = [c["id"] for c in blob["controls"]]
    fails = Counter(ctl_ids[i] for h in blob["hosts"] for i, ch in enumerate(h["s"]) if ch == "f")
    top = [(c, str(n)) for c, n in fig.figures["worst-controls"]]
    assert len(top) == min(10, len(fails))
    assert [int(n) for _, n in top] == sorted(fails.values(), reverse=True)[: len(top)]
    assert all(fails[c] == int(n) for c, n in top)

    # since the baseline
    if doc.get("baseline"):
        base = dict(fig.figures["baseline"])
        assert int(base["new_failures"]) == len(doc["baseline"]["new_failures"])
        assert int(base["fixed"]) == len(doc["baseline"]["fixed"])
        assert int(base["new_failures"]) == sum(1 for _ in blob["new"])
    else:
        assert "baseline" not in fig.figures
    return fig


def test_glance_numbers_are_the_documents_at_three_hosts() -> None:
    fig = _check(_doc(3, 10))
    assert fig.figures["worst-hosts"][0][0] == "web3"  # unreachable: not scored


def test_glance_without_a_baseline_draws_no_baseline_figure() -> None:
    _check(_doc(4, 12, baseline=False))


@pytest.mark.parametrize("seed", [1, 2])
def test_glance_numbers_are_the_documents_at_500_hosts_x_200_controls(seed: int) -> None:
    _check(_doc(500, 200, seed=seed))


def test_glance_stays_small_and_on_top_whatever_the_fleet() -> None:
    small = render_html(_doc(3, 10))
    big = render_html(_doc(500, 200))
    for page in (small, big):
        glance = page.split('<section id="glance">', 1)[1].split("</section>", 1)[0]
        assert len(glance) < 16_000  # ten bars a figure, never one per host or control
        # first in the page, before the run's table and the matrix
        assert page.index('id="glance"') < page.index('id="meta"') < page.index('id="m"')
    assert len(big) < 12_000_000  # 100,000 cells with their messages, printed findings included
