"""The HTML compliance report (``pytest_fabricplus.compliance.html``): the page's text, and the
page opened in headless Chromium (Debian's ``chromium``) and read back from its DOM.

Without chromium the browser tests skip, unless ``FABRICPLUS_NEED_CHROMIUM=1`` (set by
scripts/run-tests.sh, which installs it): then they fail.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_fabricplus.compliance.html import render_html, write_html
from testing.compliance_docs import NASTY, control_id, make_document

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class _Cells(html.parser.HTMLParser):
    """Every matrix cell (``td`` with ``data-status``) and the hidden rows/columns."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str | None]] = []
        self.hidden_rows: set[str] = set()
        self.row_order: list[str] = []
        self.body: dict[str, str | None] = {}
        self._row: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if tag == "tr" and "data-host" in a:
            self._row = a
            self.row_order.append(str(a["data-host"]))
            if "hidden" in a:
                self.hidden_rows.add(str(a["data-host"]))
        if tag == "td" and "data-status" in a and "data-control" in a:
            self.cells.append(a)


def _parse(text: str) -> _Cells:
    parser = _Cells()
    parser.feed(text)
    return parser


def _blob(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="fp-data">(.*?)</script>', page, re.S)
    assert match
    return json.loads(match.group(1))


def test_page_is_self_contained_and_escapes_every_text() -> None:
    doc = make_document(hosts=4, controls=6)
    doc["inventory"] = "<inv & 'co'>.yml"
    page = render_html(doc)
    assert "<script>alert" not in page  # the nasty message, title and justification
    assert "&lt;inv &amp; &#x27;co&#x27;&gt;.yml" in page
    assert "Ticket SEC-42: &lt;migration&gt; pending &amp; approved" in page  # waiver table
    # nothing is fetched: no external URL in src/href, no @import / url(), a CSP forbidding it
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', page)
    assert "@import" not in page
    assert "url(" not in page
    assert "default-src 'none'" in page
    # the data blob cannot be closed by any text inside it, and reads back unchanged
    script = page.split('id="fp-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in script
    assert ">" not in script
    blob = _blob(page)
    web1 = blob["hosts"][0]
    assert web1["id"] == "web1"
    assert any(NASTY in cell.get("m", "") for cell in web1["d"].values())


def test_blob_statuses_and_details_match_the_document() -> None:
    doc = make_document(hosts=5, controls=9)
    blob = _blob(render_html(doc))
    ids = [c["id"] for c in blob["controls"]]
    assert ids == list(doc["controls"])
    letters = {"passed": "p", "failed": "f", "error": "e", "skipped": "s", "waived": "w"}
    for h in blob["hosts"]:
        host = doc["hosts"][h["id"]]
        assert h["sc"] == host["score"]
        assert h["s"] == "".join(letters[host["controls"][c]["status"]] for c in ids)
        for i, cid in enumerate(ids):
            entry = host["controls"][cid]
            cell = h["d"].get(str(i), {})
            assert cell.get("m", "") == entry["message"]
            assert cell.get("w") == entry["waiver"]
    # a control absent on a host is '-'
    del doc["hosts"]["web2"]["controls"][ids[0]]
    assert _blob(render_html(doc))["hosts"][1]["s"][0] == "-"


def test_waivers_baseline_scores_and_metadata_sections() -> None:
    doc = make_document(hosts=4, controls=6)
    page = render_html(doc)
    for status in ("applied", "expired", "matched-no-control"):
        assert f'data-waiver-status="{status}"' in page
    assert "2027-01-31" in page
    assert "2026-11-01" in page
    assert "waivers.yml:12" in page
    assert "CIS 99.9" in page
    assert 'id="baseline-new_failures"' in page
    assert f"New failures: {len(doc['baseline']['new_failures'])}" in page
    assert f"Fixed: {len(doc['baseline']['fixed'])}" in page
    assert "every host &gt;= 80.0%" in page
    scores = re.findall(
        r'<tr data-host="(web\d)"><td>web\d</td><td>[^<]*</td><td[^>]*>([^<]*)<', page
    )
    assert dict(scores) == {
        h: ("n/a" if v["score"] is None else f"{v['score']:.1f}%") for h, v in doc["hosts"].items()
    }
    no_baseline = render_html(make_document(hosts=2, controls=3, baseline=False))
    assert "Since the baseline" not in no_baseline


def test_write_html_creates_the_file(tmp_path: Path) -> None:
    out = write_html(make_document(hosts=2, controls=2), str(tmp_path / "sub" / "r.html"))
    assert out == tmp_path / "sub" / "r.html"
    assert out.read_text().startswith("<!DOCTYPE html>")


# -- in a real browser ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("FABRICPLUS_NEED_CHROMIUM") == "1":
            pytest.fail(
                "chromium is not installed and FABRICPLUS_NEED_CHROMIUM=1 (apt-get install chromium)"
            )
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return CHROMIUM


def _dump_dom(chromium: str, url: str) -> str:
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=2000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return result.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    doc = make_document(hosts=7, controls=11)
    del doc["hosts"]["web2"]["controls"][control_id(5)]  # absent on one host
    return doc, write_html(doc, str(tmp_path_factory.mktemp("html") / "report.html"))


def _expected(doc: dict) -> dict[tuple[str, str], str]:
    return {
        (h, c): (host["controls"][c]["status"] if c in host["controls"] else "absent")
        for h, host in doc["hosts"].items()
        for c in doc["controls"]
    }


def test_browser_builds_every_cell_with_its_status(chromium: str, report) -> None:
    doc, path = report
    dom = _parse(_dump_dom(chromium, path.as_uri()))
    assert dom.body.get("data-ready") == "1"
    got = {(c["data-host"], c["data-control"]): c["data-status"] for c in dom.cells}
    assert len(dom.cells) == len(got) == 7 * 11
    assert got == _expected(doc)
    assert dom.hidden_rows == set()
    assert all("hidden" not in c for c in dom.cells)


def test_browser_status_filter_from_the_fragment_hides_the_others(chromium: str, report) -> None:
    doc, path = report
    dom = _parse(_dump_dom(chromium, path.as_uri() + "#status=failed"))
    expected = _expected(doc)
    failed = {k for k, v in expected.items() if v == "failed"}
    assert failed  # the generator makes some
    visible = {
        (c["data-host"], c["data-control"])
        for c in dom.cells
        if "hidden" not in c and c.get("data-match") == "1"
    }
    assert visible == failed
    hosts_with_failures = {h for h, _ in failed}
    assert dom.hidden_rows == set(doc["hosts"]) - hosts_with_failures
    controls_with_failures = {c for _, c in failed}
    for cell in dom.cells:
        if cell["data-control"] not in controls_with_failures:
            assert "hidden" in cell


def test_browser_severity_and_host_filters(chromium: str, report) -> None:
    doc, path = report
    dom = _parse(_dump_dom(chromium, path.as_uri() + "#severity=high,critical&host=web1%20web3"))
    visible = {
        (c["data-host"], c["data-control"])
        for c in dom.cells
        if "hidden" not in c and c.get("data-match") == "1"
    }
    want = {
        (h, c)
        for (h, c) in _expected(doc)
        if h in ("web1", "web3") and doc["controls"][c]["severity"] in ("high", "critical")
    }
    assert visible == want
    assert dom.hidden_rows == set(doc["hosts"]) - {"web1", "web3"}


class _Panel(html.parser.HTMLParser):
    """The details panel: its attributes and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.attrs: dict[str, str | None] = {}
        self.text: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "aside" and a.get("id") == "panel":
            self.attrs = a
            self._depth = 1
        elif self._depth:
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.text.append(data)


def test_browser_cell_details_from_the_fragment(chromium: str, report) -> None:
    doc, path = report
    cid = control_id(1)  # waived on web1 (run: true): message, waiver, two tests
    url = path.as_uri() + "#dh=web1&dc=" + cid.replace(" ", "%20")
    panel = _Panel()
    panel.feed(_dump_dom(chromium, url))
    assert "hidden" not in panel.attrs
    assert panel.attrs["data-host"] == "web1"
    assert panel.attrs["data-control"] == cid
    assert panel.attrs["data-status"] == "waived"
    text = "".join(panel.text)
    entry = doc["hosts"]["web1"]["controls"][cid]
    assert entry["message"] in text  # the failure text, as text (NASTY included)
    assert entry["waiver"]["justification"] in text
    assert "2027-01-31" in text
    for result in entry["results"]:
        assert result["nodeid"] in text
    # without the fragment the panel stays closed
    closed = _Panel()
    closed.feed(_dump_dom(chromium, path.as_uri()))
    assert "hidden" in closed.attrs


def test_browser_screenshot(chromium: str, report, tmp_path: Path) -> None:
    _, path = report
    png = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--virtual-time-budget=2000",
            "--window-size=1400,1000",
            f"--screenshot={png}",
            path.as_uri(),
        ],
        capture_output=True,
        timeout=180,
        check=True,
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_browser_ids_with_markup_characters(chromium: str, tmp_path: Path) -> None:
    doc = make_document(hosts=3, controls=3, unreachable=False)
    weird_host = "we\"b<&>'1"
    weird_control = 'CIS "1" <b>&amp;</b>'
    doc["hosts"] = {weird_host if h == "web1" else h: v for h, v in doc["hosts"].items()}
    old = control_id(0)
    doc["controls"] = {weird_control if c == old else c: v for c, v in doc["controls"].items()}
    doc["controls"][weird_control]["id"] = weird_control
    for host in doc["hosts"].values():
        host["controls"] = {
            weird_control if c == old else c: v for c, v in host["controls"].items()
        }
    path = write_html(doc, str(tmp_path / "weird.html"))
    dom = _parse(_dump_dom(chromium, path.as_uri()))
    got = {(c["data-host"], c["data-control"]): c["data-status"] for c in dom.cells}
    assert got == _expected(doc)
    assert (weird_host, weird_control) in got


def test_browser_sort_by_score(chromium: str, report) -> None:
    doc, path = report
    dom = _parse(_dump_dom(chromium, path.as_uri() + "#sort=score"))
    inventory = list(doc["hosts"])
    want = sorted(
        inventory,
        key=lambda h: (
            doc["hosts"][h]["score"] if doc["hosts"][h]["score"] is not None else 1e9,
            inventory.index(h),
        ),
    )
    assert want != inventory  # the fixture's scores are not in inventory order
    assert dom.row_order[: len(want)] == want
    # the details of a cell still belong to its host after sorting
    cid = control_id(1)
    panel = _Panel()
    panel.feed(
        _dump_dom(chromium, path.as_uri() + "#sort=score&dh=web2&dc=" + cid.replace(" ", "%20"))
    )
    assert panel.attrs["data-host"] == "web2"
    assert panel.attrs["data-status"] == doc["hosts"]["web2"]["controls"][cid]["status"]
    plain = _parse(_dump_dom(chromium, path.as_uri()))
    assert plain.row_order[: len(inventory)] == inventory
