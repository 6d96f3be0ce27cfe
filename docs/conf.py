"""Sphinx configuration of the documentation site (MyST Markdown pages, the furo theme).

Build it as the test command does: ``sphinx-build -W --keep-going -b html docs docs/_build``
(``pip install -e .[docs]``); every warning -- a broken cross-reference included -- fails it.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the package of this checkout, installed or not

from pytest_fabricplus import __version__  # noqa: E402

project = "pytest-fabricplus"
author = "pytest-fabricplus contributors"
copyright = "pytest-fabricplus contributors"
release = __version__
version = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "fabricplus_docs",  # docs/_ext: options, markers and upstream workarounds from the code
]

source_suffix = {".md": "markdown"}
root_doc = "index"
# DEVELOPING.md is read on GitHub too; the site shows it through explanation/architecture.md
exclude_patterns = ["_build", "DEVELOPING.md"]

myst_enable_extensions = ["colon_fence", "deflist"]
# `[text](page.md#a-heading)` links are checked: a heading that is not there is a warning
myst_heading_anchors = 3

nitpicky = False
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False}

html_theme = "furo"
html_title = f"pytest-fabricplus {__version__}"
html_static_path: list[str] = []
# `--hosts` in option help stays two hyphens, not an en dash
smartquotes = False
