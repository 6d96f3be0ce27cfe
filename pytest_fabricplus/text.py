"""Small text helpers for messages and names (no dependencies)."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

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


class NotUtf8(ValueError):
    """A file's bytes that are not UTF-8: where (line, column) and which byte."""

    def __init__(self, line: int, column: int, byte: int) -> None:
        self.line, self.column, self.byte = line, column, byte
        super().__init__(
            f"byte 0x{byte:02x} (column {column}) is not UTF-8: save the file as UTF-8"
        )


def decode_utf8(data: bytes) -> str:
    """``data`` as UTF-8 text, a leading byte-order mark dropped (editors on Windows write
    one); :class:`NotUtf8` names the line of the first byte that is not UTF-8."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line_start = data.rfind(b"\n", 0, start) + 1
        raise NotUtf8(
            data.count(b"\n", 0, start) + 1, start - line_start + 1, data[start]
        ) from None


def read_utf8(path: str | Path) -> str:
    """A text file users write (inventory, waivers): :func:`decode_utf8` of its bytes."""
    return decode_utf8(Path(path).read_bytes())
