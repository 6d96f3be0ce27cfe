"""The HTML report printed, and the big report opened, in headless Chromium through Playwright
(Debian's ``chromium``, found as in ``test_html_panel_browser.py``: without it the tests skip
unless ``FABRICPLUS_NEED_CHROMIUM=1``).

Printing: ``page.pdf()`` and the PDF's text (``pdftotext``, poppler-utils) must hold what the
click panel shows (every failure's message, waivers with justification), the run header and no
interactive-only controls; without ``pdftotext`` the print-media DOM's text is read instead.
``FABRICPLUS_SCREENSHOTS`` names a directory to keep the screenshots and the PDF in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pytest_fabricplus.compliance.html import write_html
from testing.compliance_docs import make_document

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOTEXT = shutil.which("pdftotext")


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("FABRICPLUS_NEED_CHROMIUM") == "1":
            pytest.fail(
                "chromium is not installed and FABRICPLUS_NEED_CHROMIUM=1 (apt-get install chromium)"
            )
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return CHROMIUM


def _shots(tmp_path: Path) -> Path:
    shots = Path(os.environ.get("FABRICPLUS_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def _tokens(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
    """Give every cell that did not pass a short message of its own (pdftotext keeps it whole)."""
    tokens = {}
    for hid, host in doc["hosts"].items():
        for cid, entry in host["controls"].items():
            if entry["status"] in ("failed", "error", "skipped", "waived"):
                token = f"MSG-{hid}-{cid.replace(' ', '_')}"
                entry["message"] = f"{token} {entry['message'] or ''}"[:60]
                for r in entry["results"]:
                    r["message"] = entry["message"]
                tokens[(hid, cid)] = token
    return tokens


def test_printed_report_holds_the_panels_details_and_the_run_header(
    chromium: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    doc = make_document(hosts=3, controls=10)
    tokens = _tokens(doc)
    assert any(k for k in tokens if doc["hosts"][k[0]]["controls"][k[1]]["status"] == "failed")
    path = write_html(doc, str(tmp_path / "report.html"))
    shots = _shots(tmp_path)
    pdf = shots / "print-3x10.pdf"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(path.as_uri())
            page.wait_for_selector("body[data-ready='1']")
            screen_text = page.inner_text("body")
            page.emulate_media(media="print")
            page.screenshot(path=str(shots / "print-3x10.png"), full_page=True)
            print_text = page.inner_text("body")
            # the matrix is printed whole: nothing left in a scroll box
            wrap = page.evaluate(
                "() => { const w = document.getElementById('wrap');"
                " return [w.scrollHeight, w.clientHeight, w.scrollWidth, w.clientWidth,"
                " getComputedStyle(w).overflow]; }"
            )
            assert wrap[0] <= wrap[1] + 1, wrap
            assert wrap[2] <= wrap[3] + 1, wrap
            assert wrap[4] == "visible", wrap
            page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
        finally:
            browser.close()
    # the findings are print-only: the screen shows them in the click panel
    assert "Findings per host" not in screen_text
    texts = [print_text]
    if PDFTOTEXT:
        texts.append(
            subprocess.run(
                [PDFTOTEXT, "-layout", str(pdf), "-"],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout
        )
    for text in texts:
        for (hid, cid), token in tokens.items():
            assert token in text, f"{hid} {cid}: {token} not printed"
        assert "Ticket SEC-42: <migration> pending & approved" in text  # waiver justification
        assert "EXPIRED: not applied" in text
        for needle in ("Hosts 3", "Controls 10", "Threshold 80.0%", "Gate every host >= 80.0%"):
            assert needle in " ".join(text.split()), needle
        assert "Reviewed by" in text
        assert "The fleet at a glance" in text
        # interactive-only content is not printed
        assert "show all" not in text
        assert "click a cell" not in text


def test_500_hosts_x_200_controls_renders_with_the_glance_on_top(
    chromium: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    doc = make_document(hosts=500, controls=200)
    path = write_html(doc, str(tmp_path / "report.html"))
    assert path.stat().st_size < 12_000_000
    shots = _shots(tmp_path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(path.as_uri(), timeout=120_000)
            # a generous bound on a shared 2-core machine
            page.wait_for_selector("body[data-ready='1']", timeout=60_000)
            assert page.locator("#m td.x").count() == 500 * 200
            box = page.locator("#glance").bounding_box()
            assert box is not None
            assert box["y"] < 120, box  # first under the title
            assert box["height"] < 1000 - box["y"], box  # all of it on the first screen
            figures = page.locator("#glance figure").count()
            assert figures == 6
            page.screenshot(path=str(shots / "screen-500x200.png"))
            page.emulate_media(media="print")
            page.screenshot(path=str(shots / "print-500x200.png"))
            # too wide to print: left out, and the print says where its content is
            assert page.locator(".matrix.wide").is_hidden()
            note = page.locator("p.print-only", has_text="too wide to print")
            assert note.is_visible()
            assert page.locator("#print-findings h3").count() == 500
            assert page.locator("#print-header").is_visible()
        finally:
            browser.close()
