"""The suite's own layout: helpers come from ``testing/``, never from a conftest.

A ``from conftest import ...`` only works when pytest's default ``prepend`` import mode happens
to put the root directory on ``sys.path``; under ``--import-mode=importlib`` the module does not
exist and collection fails. Conftest files hold fixtures and hooks; ``testing/`` the rest.
(The test command also runs tests/unit and tests/plugin under ``--import-mode=importlib``.)
"""

from __future__ import annotations

import ast
from pathlib import Path

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
