"""Small text helpers for messages and names (no dependencies)."""

from __future__ import annotations

import re

#: what an environment variable name may look like (options, inventory, markers)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def one_line(text: object, limit: int = 300, keep: str = "end") -> str:
    """``text`` on one line (whitespace runs become one space), at most ``limit`` characters.

    ``keep="end"`` keeps the end (the last words of a command's output say most), ``"start"``
    the beginning (an exception message).
    """
    flat = " ".join(str(text).split())
    if len(flat) <= limit:
        return flat
    return "..." + flat[-(limit - 3) :] if keep == "end" else flat[: limit - 3] + "..."


def tail(text: object, lines: int = 3, limit: int = 200) -> str:
    """The last ``lines`` lines of ``text`` on one line, at most ``limit`` characters."""
    return one_line("\n".join(str(text).strip().splitlines()[-lines:]), limit)
