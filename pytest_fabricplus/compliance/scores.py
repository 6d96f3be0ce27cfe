"""Per-host scores as MITRE Heimdall and the SAF CLI compute them from our InSpec JSON, and
the gate (``--compliance-fail-under``, ``merge-reports --fail-under``).

Heimdall (``libs/inspecjs``, ``ExecControl.compute_status``) gives each control one status
from its results and impact, in this order:

1. a result with a backtrace (our ``error``)                      -> Profile Error
2. ``waiver_data.skipped_due_to_waiver`` (a ``run: false`` waiver)
   or impact 0 (severity ``none``, or ``not_applicable()`` here)  -> Not Applicable
3. no results                                                     -> Profile Error
4. a failed result (a failure, *also a waived one*: InSpec keeps
   the results of a ``run: true`` waiver and Heimdall counts them) -> Failed
5. a passed result                                                -> Passed
6. only skipped results (a plain ``pytest.skip``)                 -> Not Reviewed

and a score of ``Passed / (Passed + Failed + Not Reviewed + Profile Error)`` (Not Applicable
left out). ``saf summary`` and ``saf threshold`` compute the same and round it to a whole
percent (``Math.round``). Our ``score`` is that figure to two decimals; ``None`` ("not
scored") when nothing counts -- Heimdall and SAF show 0 there.

The gate applies, per host, what ``saf threshold -I "{compliance.min: T}, {error.total.max:
0}"`` applies to that host's InSpec JSON: the whole-percent score (``Math.round``) below T,
any Profile Error (an errored control, an unreachable host), a host with nothing scored,
and a selected host with no results at all fail it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from .model import BY_SEVERITY, STATUSES

#: Heimdall's control statuses that our runs produce
HDF_STATUSES: tuple[str, ...] = (
    "Passed",
    "Failed",
    "Not Reviewed",
    "Profile Error",
    "Not Applicable",
)
FORMULA = (
    "Passed / (Passed + Failed + Not Reviewed + Profile Error), as Heimdall and saf compute it"
)
GATE_RULE = (
    'saf threshold "{compliance.min: T}, {error.total.max: 0}" per host '
    "(score rounded to a whole percent)"
)


def counts(statuses: Iterable[str]) -> dict[str, int]:
    out = dict.fromkeys(STATUSES, 0)
    for status in statuses:
        out[status] += 1
    return out


def hdf_status(status: str, impact: float = 0.5, waiver_run: bool = True) -> str:
    """Heimdall's status of one control on one host from our status, its impact and (for
    ``waived``) whether the waiver ran the check."""
    if status == "error":
        return "Profile Error"
    if status == "not-applicable" or (status == "waived" and not waiver_run) or impact == 0:
        return "Not Applicable"
    if status in ("failed", "waived"):
        return "Failed"
    if status == "passed":
        return "Passed"
    if status == "skipped":
        return "Not Reviewed"
    return "Profile Error"  # a control with no results


def hdf_counts(
    entries: Mapping[str, Mapping[str, Any]], impacts: Mapping[str, float]
) -> dict[str, int]:
    """Heimdall's counts for one host from its ``controls`` entries (the JSON document's)."""
    out = dict.fromkeys(HDF_STATUSES, 0)
    for cid, entry in entries.items():
        waiver = entry.get("waiver") or {}
        run = bool(waiver.get("run", True)) or bool(waiver.get("expired"))
        out[hdf_status(str(entry.get("status")), impacts.get(cid, 0.5), run)] += 1
    return out


def score(c: Mapping[str, int]) -> float | None:
    """The score from Heimdall's counts (:func:`hdf_counts`), two decimals; None: nothing counts."""
    total = c["Passed"] + c["Failed"] + c["Not Reviewed"] + c["Profile Error"]
    return None if total == 0 else round(100.0 * c["Passed"] / total, 2)


def saf_round(value: float) -> int:
    """JavaScript's ``Math.round`` (halves up), as ``saf threshold`` rounds the score."""
    return math.floor(value + 0.5)


def failed_by_severity(failed: Iterable[str]) -> dict[str, int]:
    """Unwaived failures (and errors) counted by their control's severity, most severe first."""
    out = dict.fromkeys(BY_SEVERITY, 0)
    for severity in failed:
        out[severity] += 1
    return out


def host_gate(host: str, data: Mapping[str, Any], threshold: float) -> str | None:
    """Why one host fails the gate (a line naming it), or None. ``data``: the document's
    host entry (``score``, ``hdf_counts`` or ``counts``, ``unreachable``)."""
    if data.get("missing"):
        return f"{host}: {data['missing']} (not scored)"
    if data.get("unreachable"):
        return f"{host}: unreachable: {data['unreachable']} (not scored)"
    hdf = data.get("hdf_counts")
    errors = int(hdf["Profile Error"]) if hdf else int((data.get("counts") or {}).get("error", 0))
    value = data.get("score")
    if value is None:
        return f"{host}: not scored (no control that counts ran on it)"
    if saf_round(float(value)) < threshold:
        return f"{host}: score {float(value):.2f}% is below {threshold:g}%"
    if errors:
        return f"{host}: {errors} control(s) errored (Profile Error)"
    return None


def below(scores: Mapping[str, float | None], threshold: float) -> dict[str, float | None]:
    """Hosts whose score fails the threshold as ``saf threshold`` rounds it, or have none."""
    return {h: s for h, s in sorted(scores.items()) if s is None or saf_round(float(s)) < threshold}


def rescore(document: dict[str, Any]) -> None:
    """Recompute every host's ``hdf_counts`` and ``score`` from its controls (a merged or
    older document), so the score always is the InSpec JSON's Heimdall figure."""
    impacts = {
        str(cid): float(meta.get("impact", 0.5)) for cid, meta in document["controls"].items()
    }
    for host in document["hosts"].values():
        hdf = hdf_counts(host.get("controls") or {}, impacts)
        host["hdf_counts"] = hdf
        host["score"] = None if host.get("unreachable") or host.get("missing") else score(hdf)


def unscored(document: Mapping[str, Any]) -> list[str]:
    """Lines naming what this document has no verdict for: a selected host without results,
    a run or shard that tested nothing, the problems a merge found (``problems``)."""
    hosts = document.get("hosts") or {}
    lines = [str(p) for p in document.get("problems") or []]
    missing = [str(h) for h in document.get("selected") or [] if str(h) not in hosts]
    lines.extend(f"{h}: selected, but no result for it in this run (not scored)" for h in missing)
    if not hosts and not lines:
        lines.append(
            f"no host was tested (exit status {document.get('exit_status')}): nothing to score"
        )
    return lines


def gate_failures(document: Mapping[str, Any], threshold: float | None) -> list[str]:
    """One line per reason the run fails its verdict (empty: it passes).

    With a threshold: :func:`host_gate` for every host; without one: any unwaived failure
    or error. Either way, :func:`unscored` -- no verdict without hosts."""
    lines = unscored(document)
    for hid, host in (document.get("hosts") or {}).items():
        if threshold is not None:
            line = host_gate(str(hid), host, threshold)
            if line is not None:
                lines.append(line)
            continue
        c = host.get("counts") or {}
        failed, errors = int(c.get("failed", 0)), int(c.get("error", 0))
        if host.get("missing"):
            lines.append(f"{hid}: {host['missing']}")
        elif host.get("unreachable"):
            lines.append(f"{hid}: unreachable: {host['unreachable']}")
        elif failed or errors:
            lines.append(f"{hid}: {failed} failed, {errors} errored control(s)")
    return lines
