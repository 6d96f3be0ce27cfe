"""The package's layers import downward only, and no module imports itself through a cycle.

Read from the source (every ``import``, including those inside functions and under
``TYPE_CHECKING``), so a lazy import cannot hide an upward dependency. Each module is read and
parsed once per process (``functools.cache``), not once per test case.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_fabricplus"

#: higher number = higher layer; a module may import its own layer or lower ones
LAYERS = {
    "errors": 0,
    "text": 0,
    "hosts": 1,
    "runas": 2,
    "settings": 2,
    "secrets": 3,
    "compliance": 5,
    "ssh": 4,
    "fleet": 5,
    "integrations": 5,
    "plugin": 6,
    "__init__": 7,
    "__main__": 7,
    "cli": 7,
    "testinfra_dropin": 7,  # -p pytest_fabricplus.testinfra_dropin, re-exported from plugin/
}
#: the only places that may load these libraries (others: lazily, in these layers)
HEAVY = {
    "paramiko": {"ssh", "integrations"},
    "invoke": {"ssh"},
    "fabric": {"ssh"},
    "fabricplus": {"ssh"},
    "pytest": {"plugin"},
    "_pytest": {"plugin"},
    "xdist": {"plugin"},
    "docker": {"integrations"},
    "testinfra": {"integrations"},
}


@functools.cache
def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


@functools.cache
def _imports(name: str, path: Path) -> frozenset[str]:
    """What ``path`` imports: the package's own modules relative to the package (``ssh.channel``,
    ``__init__`` for the package itself), libraries by their dotted name."""
    if name == "__init__":
        package: list[str] = []
    elif path.name == "__init__.py":
        package = name.split(".")
    else:
        package = name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                module = (node.module or "").split(".")
            else:
                base = package[: len(package) - (node.level - 1)]
                module = [*base, *(node.module.split(".") if node.module else [])]
            found.add(".".join(module))
            found |= {".".join([*module, alias.name]) for alias in node.names}
    result = set()
    for text in found:
        if text in ("", "pytest_fabricplus"):
            text = "__init__"
        elif text.startswith("pytest_fabricplus."):
            text = text[len("pytest_fabricplus.") :]
        result.add(text)
    return frozenset(result)


@functools.cache
def _local() -> frozenset[str]:
    return frozenset(_modules())


def _layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


@functools.cache
def _own_imports() -> dict[str, frozenset[str]]:
    local = _local()
    return {name: _imports(name, path) & local for name, path in _modules().items()}


def test_every_module_has_a_layer() -> None:
    assert {m.split(".")[0] for m in _modules()} <= set(LAYERS)


@pytest.mark.parametrize("module", sorted(_modules()))
def test_imports_go_downward(module: str) -> None:
    upward = [
        i
        for i in _own_imports()[module]
        if _layer(i) > _layer(module) and i.split(".")[0] != module.split(".")[0]
    ]
    assert upward == [], f"{module} (layer {_layer(module)}) imports higher layers: {upward}"


@pytest.mark.parametrize("module", sorted(_modules()))
def test_heavy_libraries_stay_in_their_layer(module: str) -> None:
    top = module.split(".")[0]
    wrong = sorted(
        lib
        for lib in {i.split(".")[0] for i in _imports(module, _modules()[module])}
        if lib in HEAVY and top not in HEAVY[lib] and top not in ("__init__",)
    )
    assert wrong == [], f"{module} imports {wrong}"


def test_no_import_cycles() -> None:
    graph = _own_imports()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt == node or _is_parent(nxt, node):
                continue  # a sub-package's own __init__
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def _is_parent(candidate: str, module: str) -> bool:
    return module.startswith(candidate + ".")
