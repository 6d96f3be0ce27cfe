"""Per-host scores: ``(passed + waived) / (passed + failed + error + waived)`` in percent.

Skipped controls are not applicable and not counted; a host with nothing counted has no
score (``None``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .model import BY_SEVERITY, STATUSES


def counts(statuses: Iterable[str]) -> dict[str, int]:
    out = dict.fromkeys(STATUSES, 0)
    for status in statuses:
        out[status] += 1
    return out


def score(c: Mapping[str, int]) -> float | None:
    good = c["passed"] + c["waived"]
    total = good + c["failed"] + c["error"]
    return None if total == 0 else round(100.0 * good / total, 2)


def failed_by_severity(failed: Iterable[str]) -> dict[str, int]:
    """Unwaived failures (and errors) counted by their control's severity, most severe first."""
    out = dict.fromkeys(BY_SEVERITY, 0)
    for severity in failed:
        out[severity] += 1
    return out


def below(scores: Mapping[str, float | None], threshold: float) -> dict[str, float | None]:
    """Hosts whose score is under the threshold (a host with no score is not below)."""
    return {h: s for h, s in sorted(scores.items()) if s is not None and s < threshold}
