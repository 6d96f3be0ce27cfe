"""The declared floors (pyproject.toml) and their pins (constraints/minimum.txt) cannot drift.

constraints/minimum.txt pins every floor exactly; `tox -e min` and scripts/run-tests.sh run
tests/unit and tests/plugin against it. That run proves the floors only while each ``>=`` in
pyproject.toml is the very version pinned there, and while nothing else is pinned.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover  (Python 3.10: pytest itself depends on tomli there)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
CONSTRAINTS = ROOT / "constraints" / "minimum.txt"

#: extras holding only development tools: their packages need no floor pin
DEV_EXTRAS = {"dev", "docs", "bench"}  # tooling of ours, not what a user installs
#: libraries whose private internals we use: capped below their floor's next major version
CAPPED = {"paramiko", "invoke", "fabric", "fabricplus"}

PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[0-9][0-9A-Za-z.+!-]*)$")


def _project() -> dict[str, Any]:
    with PYPROJECT.open("rb") as f:
        project: dict[str, Any] = tomllib.load(f)["project"]
    return project


def _requirements(project: dict[str, Any]) -> dict[str, list[tuple[str, Requirement]]]:
    """Every requirement, by canonical name, with where it is declared (``""`` = core)."""
    found: dict[str, list[tuple[str, Requirement]]] = {}
    declared: list[tuple[str, str]] = [("", r) for r in project["dependencies"]]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        declared += [(extra, r) for r in reqs]
    for where, text in declared:
        req = Requirement(text)
        found.setdefault(canonicalize_name(req.name), []).append((where, req))
    return found


def _floor(req: Requirement) -> Version | None:
    floors = [Version(s.version) for s in req.specifier if s.operator == ">="]
    assert len(floors) <= 1, f"{req}: more than one '>='"
    return floors[0] if floors else None


def _pins() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for number, raw in enumerate(CONSTRAINTS.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.match(line)
        assert match, f"{CONSTRAINTS.name}:{number}: not 'name==version': {raw!r}"
        name = canonicalize_name(match["name"])
        assert name not in pins, f"{CONSTRAINTS.name}:{number}: {name} pinned twice"
        pins[name] = Version(match["version"])
    return pins


REQUIREMENTS = _requirements(_project())
PINS = _pins()
#: packages a user can get from us: core dependencies and the non-dev extras
SHIPPED = {
    name
    for name, places in REQUIREMENTS.items()
    if any(where not in DEV_EXTRAS for where, _ in places)
}


def test_constraints_pin_something() -> None:
    assert PINS, f"{CONSTRAINTS} pins nothing"
    assert SHIPPED, f"{PYPROJECT} declares no dependency"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_dependency_has_a_floor_that_is_pinned(name: str) -> None:
    assert name in PINS, f"{name} is declared but has no pin in {CONSTRAINTS.name}"
    for where, req in REQUIREMENTS[name]:
        place = f"[{where}]" if where else "dependencies"
        floor = _floor(req)
        assert floor is not None, f"{place}: {req} declares no '>=' floor"
        assert floor == PINS[name], (
            f"{place}: {req} declares floor {floor}, {CONSTRAINTS.name} pins {PINS[name]}"
        )


@pytest.mark.parametrize("name", sorted(PINS))
def test_each_pin_is_a_declared_dependency_or_extra(name: str) -> None:
    assert name in SHIPPED, (
        f"{CONSTRAINTS.name} pins {name}, which is not a dependency or (non-dev) extra "
        f"in {PYPROJECT.name}"
    )


@pytest.mark.parametrize("name", sorted(CAPPED))
def test_private_internals_are_capped_below_the_next_major(name: str) -> None:
    assert name in REQUIREMENTS, f"{name} is not declared"
    for _, req in REQUIREMENTS[name]:
        floor = _floor(req)
        assert floor is not None, f"{req} declares no floor"
        caps = [s for s in req.specifier if s.operator == "<"]
        assert [str(s) for s in caps] == [f"<{floor.major + 1}"], (
            f"{req}: expected exactly one cap '<{floor.major + 1}' (we use its internals)"
        )
