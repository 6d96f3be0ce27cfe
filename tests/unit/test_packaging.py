"""Release packaging: one source for the version, the licence file, towncrier fragments."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest_fabricplus

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_version_is_written_once() -> None:
    project = PYPROJECT["project"]
    assert "version" not in project
    assert "version" in project["dynamic"]
    dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "pytest_fabricplus.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+)?", pytest_fabricplus.__version__)


def test_the_licence_file_is_the_declared_licence() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "pytest-fabricplus contributors" in text


def test_changelog_fragments_have_a_configured_type() -> None:
    config = PYPROJECT["tool"]["towncrier"]
    types = {t["directory"] for t in config["type"]}
    folder = ROOT / config["directory"]
    fragments = [p for p in folder.iterdir() if p.name != "README.md"]
    bad = [p.name for p in fragments if not re.fullmatch(r"(\d+|\+[\w-]+)\.(\w+)\.md", p.name)]
    assert bad == []
    wrong = [p.name for p in fragments if p.name.split(".")[-2] not in types]
    assert wrong == []
    changelog = (ROOT / config["filename"]).read_text(encoding="utf-8")
    assert config["start_string"] in changelog
