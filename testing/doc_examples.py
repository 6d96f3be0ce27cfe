"""The Python examples of README.md and docs/: found, classified and prepared for running.

Every fenced ``python`` block must be preceded (blank lines aside) by an HTML comment that says
what it is -- GitHub, PyPI and Sphinx (MyST) all leave such comments out of the page::

    <!-- example: pytest args="--su-password-env=X" replace="app=fptest2" outcomes="passed=2" -->

Kinds: ``pytest`` (a test file, run against real sshd targets), ``script`` (run as a Python
script), ``docker`` (a script that starts the shipped container targets), ``fragment`` (part of a
larger whole: compiled only). tests/docs/test_examples.py runs them; how they are run is in
docs/explanation/docs-tooling.md.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("pytest", "script", "docker", "fragment")
OPTIONS = ("args", "replace", "outcomes")
COMMENT = re.compile(r"^<!--\s*example:\s*(?P<body>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


class ExampleError(ValueError):
    """A python block without a valid ``<!-- example: ... -->`` comment (``FILE:line``)."""


@dataclass(frozen=True)
class Example:
    path: Path
    line: int  #: of the opening fence, 1-based
    kind: str
    code: str
    args: tuple[str, ...] = ()
    replace: tuple[tuple[str, str], ...] = ()
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def id(self) -> str:
        try:
            where = self.path.relative_to(ROOT)
        except ValueError:
            where = self.path
        return f"{where}:{self.line}"

    def source(self) -> str:
        """The code as it runs: each ``replace`` word swapped (whole words only)."""
        code = self.code
        for old, new in self.replace:
            code = re.sub(rf"\b{re.escape(old)}\b", new, code)
        return code


def doc_files(root: Path = ROOT) -> list[Path]:
    """README.md and every page of the site (docs/, build output left out)."""
    pages = sorted(p for p in (root / "docs").rglob("*.md") if "_build" not in p.parts)
    return [root / "README.md", *pages]


def _parse_comment(text: str, where: str) -> dict[str, object]:
    match = COMMENT.match(text.strip())
    if not match:
        raise ExampleError(
            f"{where}: a python block needs a comment before it saying what it is, "
            f"'<!-- example: KIND [args=...] [replace=...] [outcomes=...] -->' "
            f"(KIND one of {', '.join(KINDS)}); found {text.strip()[:60]!r}"
        )
    words = shlex.split(match["body"])
    if not words or words[0] not in KINDS:
        raise ExampleError(f"{where}: example kind must be one of {', '.join(KINDS)}: {text!r}")
    found: dict[str, object] = {"kind": words[0]}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or key not in OPTIONS:
            raise ExampleError(f"{where}: unknown example option {word!r} ({', '.join(OPTIONS)})")
        if key == "args":
            found["args"] = tuple(shlex.split(value))
        elif key == "replace":
            found["replace"] = tuple(tuple(p.split("=", 1)) for p in value.split())
        else:
            found["outcomes"] = {k: int(v) for k, v in (p.split("=", 1) for p in value.split())}
    return found


def examples(path: Path) -> list[Example]:
    """The python blocks of one Markdown file; :class:`ExampleError` for one not described."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        end = next(
            (j for j in range(i + 1, len(lines)) if lines[j].strip() == fence["fence"]), None
        )
        if end is None:
            raise ExampleError(f"{path}:{i + 1}: code block never closed")
        language = fence["info"].strip().split(" ")[0].strip("{}")
        if language in ("python", "py"):
            where = f"{path}:{i + 1}"
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            meta = _parse_comment(before, where)
            code = "\n".join(lines[i + 1 : end]) + "\n"
            found.append(Example(path, i + 1, code=code, **meta))  # type: ignore[arg-type]
        i = end + 1
    return found


def all_examples(root: Path = ROOT) -> list[Example]:
    return [example for path in doc_files(root) for example in examples(path)]
