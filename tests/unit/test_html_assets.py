"""The HTML report's script and styles: package data files (``compliance/assets/``), inlined.

They live as files so they can be read and linted as JavaScript and CSS; the report stays one
self-contained file (no ``<script src>``, no ``<link>``: it is read offline and archived).
"""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources
from pathlib import Path

from pytest_fabricplus.compliance.html import render_html
from testing.compliance_docs import make_document

ASSETS = resources.files("pytest_fabricplus.compliance") / "assets"


def test_script_and_styles_are_inlined_from_the_package_data() -> None:
    page = render_html(make_document())
    script = (ASSETS / "report.js").read_text(encoding="utf-8")
    styles = (ASSETS / "report.css").read_text(encoding="utf-8")
    assert len(script.splitlines()) > 100  # the whole script, not a stub
    assert f"<script>{script}</script>" in page
    assert f"<style>{styles}</style>" in page
    assert "<script src" not in page
    assert "<link" not in page
    assert "</script" not in script.lower()  # nothing in the script can close its element


def test_script_is_valid_javascript(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node is not None, "node is part of the test setup (scripts/setup.sh installs nodejs)"
    script = tmp_path / "report.js"
    script.write_text((ASSETS / "report.js").read_text(encoding="utf-8"), encoding="utf-8")
    done = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    broken = tmp_path / "broken.js"
    broken.write_text(script.read_text(encoding="utf-8") + "\n(function(){\n", encoding="utf-8")
    assert subprocess.run([node, "--check", str(broken)], capture_output=True).returncode != 0
