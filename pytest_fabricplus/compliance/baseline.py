"""Baseline diff: what fails now that passed (or was absent) in a previous document, and
what was fixed since."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError

FAILING = ("failed", "error")


class BaselineError(ConfigError):
    pass


def load(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read the baseline: {exc.strerror}") from None
    except ValueError as exc:
        raise BaselineError(f"{path}: the baseline is not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("hosts"), dict):
        raise BaselineError(f"{path}: not a --compliance-json document (no 'hosts' mapping)")
    return data


def statuses(document: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(host, control) -> status of a compliance document."""
    out: dict[tuple[str, str], str] = {}
    for host, data in (document.get("hosts") or {}).items():
        for control, result in (data.get("controls") or {}).items():
            out[(str(host), str(control))] = str(result.get("status"))
    return out


def diff(
    old: Mapping[tuple[str, str], str], new: Mapping[tuple[str, str], str]
) -> dict[str, list[dict[str, str]]]:
    """``new_failures``: failing now, not failing (or absent) before; ``fixed``: failing
    before, passing now."""

    def rows(keys: list[tuple[str, str]]) -> list[dict[str, str]]:
        return [{"host": h, "control": c} for h, c in sorted(keys)]

    new_failures = [k for k, s in new.items() if s in FAILING and old.get(k) not in FAILING]
    fixed = [k for k, s in new.items() if s == "passed" and old.get(k) in FAILING]
    return {"new_failures": rows(new_failures), "fixed": rows(fixed)}
