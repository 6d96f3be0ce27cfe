"""The suite's own layout: helpers come from ``testing/``, never from a conftest.

A ``from conftest import ...`` only works when pytest's default ``prepend`` import mode happens
to put the root directory on ``sys.path``; under ``--import-mode=importlib`` the module does not
exist and collection fails. Conftest files hold fixtures and hooks; ``testing/`` the rest.
(The test command also runs tests/unit and tests/plugin under ``--import-mode=importlib``.)
"""

from __future__ import annotations

import ast
import configparser
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: pytest itself depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def _conftest_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [
            f"{path.relative_to(ROOT)}:{node.lineno}: {name}"
            for name in names
            if name == "conftest" or name.endswith(".conftest")
        ]
    return found


def test_no_test_module_imports_a_conftest() -> None:
    files = sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "testing").rglob("*.py")])
    assert len(files) > 100  # the tree was found
    offenders = [hit for path in files for hit in _conftest_imports(path)]
    assert offenders == [], "import helpers from testing/, not from a conftest: " + str(offenders)


def test_every_declared_python_is_tested() -> None:
    """pyproject's Python classifiers = SUPPORTED_PYTHONS of the test command = tox's pyXY
    envs; the floors' job (``min``) runs on the oldest, which is requires-python's floor."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = sorted(
        c.rsplit(" :: ", 1)[1]
        for c in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    )
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    match = re.search(r"^SUPPORTED_PYTHONS=\(([^)]*)\)$", setup, re.MULTILINE)
    assert match, "SUPPORTED_PYTHONS=(...) not found in scripts/setup.sh"
    supported = match.group(1).split()
    assert sorted(supported, key=lambda v: tuple(map(int, v.split(".")))) == supported
    assert sorted(declared) == sorted(supported)
    assert project["requires-python"] == f">={supported[0]}"
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    envs = {e.strip() for e in tox["tox"]["envlist"].split(",")}
    assert {f"py{v.replace('.', '')}" for v in supported} <= envs
    assert "min" in envs
    assert tox["testenv:min"]["basepython"] == f"python{supported[0]}"
