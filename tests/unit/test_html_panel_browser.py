"""The HTML report's detail panel as a person sees it: headless Chromium driven through
Playwright (Debian's ``chromium``, no browser download), a real click on a cell of every
status, and the panel's text checked for WCAG contrast (>= 4.5:1) in the computed colours.

Chromium is found as in ``test_html_report.py``: without it the test skips, unless
``FABRICPLUS_NEED_CHROMIUM=1`` (scripts/run-tests.sh), then it fails. ``FABRICPLUS_SCREENSHOTS``
names a directory to keep the screenshots in (one per status).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from pytest_fabricplus.compliance.html import write_html
from testing.compliance_docs import control_id, make_document

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
STATUSES = ("passed", "failed", "error", "skipped", "waived", "absent")


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("FABRICPLUS_NEED_CHROMIUM") == "1":
            pytest.fail(
                "chromium is not installed and FABRICPLUS_NEED_CHROMIUM=1 (apt-get install chromium)"
            )
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return CHROMIUM


def _rgba(css: str) -> tuple[float, float, float, float]:
    parts = [float(p) for p in re.findall(r"[\d.]+", css)]
    return (parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else 1.0)


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: tuple[float, float, float], bg: tuple[float, float, float]) -> float:
    """WCAG 2 contrast ratio of two opaque colours."""
    hi, lo = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula_matches_wcag() -> None:
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast((255, 255, 255), (255, 255, 255)) == pytest.approx(1.0)
    assert contrast((0x76, 0x76, 0x76), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)


#: in the page: every element of the panel that shows text, with its computed text colour
#: and the colour it is drawn on (the first opaque background among it and its ancestors)
_COLOURS_JS = """
(panel) => {
  const opaque = (e) => {
    for (; e; e = e.parentElement) {
      const bg = getComputedStyle(e).backgroundColor;
      const a = bg.match(/[\\d.]+/g);
      if (a && (a.length < 4 || +a[3] > 0.99)) return bg;
    }
    return "rgb(255, 255, 255)";
  };
  const out = [];
  for (const e of [panel, ...panel.querySelectorAll("*")]) {
    const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !e.getClientRects().length) continue;
    out.push({tag: e.tagName, text: e.textContent.trim().slice(0, 40),
              color: getComputedStyle(e).color, background: opaque(e),
              opacity: getComputedStyle(e).opacity});
  }
  return out;
}
"""


def test_detail_panel_readable_for_every_status_after_a_click(
    chromium: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    doc = make_document(hosts=7, controls=11)
    del doc["hosts"]["web2"]["controls"][control_id(5)]  # absent on one host
    path = write_html(doc, str(tmp_path / "report.html"))
    shots = Path(os.environ.get("FABRICPLUS_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    checked: dict[str, int] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(path.as_uri())
            panel = page.locator("#panel")
            assert panel.is_hidden()
            for status in STATUSES:
                cell = page.locator(f"#m td.x[data-status={status}]").first
                assert cell.count() == 1, f"the test document has no {status} cell"
                host = cell.evaluate("td => td.parentNode.getAttribute('data-host')")
                cid = cell.get_attribute("data-control")
                cell.click()  # a real mouse click at the cell's position
                assert panel.is_visible()
                assert panel.get_attribute("data-status") == status
                assert panel.locator("h2").first.inner_text() == f"{cid} on {host}"
                page.screenshot(path=str(shots / f"panel-{status}.png"))
                elements = panel.evaluate(_COLOURS_JS)
                assert len(elements) >= 8, elements  # title, status, fields, tests ...
                for e in elements:
                    fg, bg = _rgba(e["color"]), _rgba(e["background"])
                    assert fg[3] == 1.0, e
                    assert float(e["opacity"]) == 1.0, e
                    ratio = contrast(fg[:3], bg[:3])
                    assert ratio >= 4.5, f"{status}: {e['tag']} {e['text']!r} {ratio:.2f}:1 {e}"
                checked[status] = len(elements)
                page.locator("#pclose").click()
                assert panel.is_hidden()
        finally:
            browser.close()
    assert set(checked) == set(STATUSES)
