"""The compliance run: test results per host and control, waivers applied, and the JSON
document (version 1) the report writers read.

Fed one :class:`RawResult` per test and host (from pytest reports, on the xdist controller
too); it decides each status with the waivers, so every process that applies a waiver
(an xdist worker skipping a ``run: false`` check) and the one that reports agree.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..hosts.spec import HostSpec
from . import baseline as baseline_mod
from . import scores
from .model import BY_SEVERITY, Control, ControlResult, TestResult
from .waivers import Waiver, find

VERSION = 1


@dataclass
class RawResult:
    """What pytest said about one test on one host, before waivers."""

    host: str
    control: str
    nodeid: str
    base: str  # the nodeid without the host parameter
    outcome: str  # passed|failed|error|skipped|not-run (a run: false waiver skipped it)
    message: str = ""
    duration: float = 0.0
    start_time: str | None = None


@dataclass
class WaiverUse:
    applied_to: set[str] = field(default_factory=set)
    expired_on: set[str] = field(default_factory=set)
    not_needed_on: set[str] = field(default_factory=set)


class ComplianceRun:
    def __init__(
        self,
        waivers: Sequence[Waiver] = (),
        specs: Mapping[str, HostSpec] | None = None,
        today: dt.date | None = None,
        redact: Callable[[str], str] = str,
    ) -> None:
        self.waivers = list(waivers)
        self.specs = dict(specs or {})
        self.today = today or dt.date.today()
        self.redact = redact
        self.controls: dict[str, Control] = {}
        self.tests: dict[str, list[str]] = {}
        self.hosts: dict[str, dict[str, ControlResult]] = {}
        self.address: dict[str, str] = {}
        self.platform: dict[str, dict[str, str]] = {}
        self.use: dict[str, WaiverUse] = {w.source: WaiverUse() for w in self.waivers}
        self._waiver_by_source = {w.source: w for w in self.waivers}
        #: every (control, nodeid, base) seen, for "matches nothing in the run"
        self._seen: set[tuple[str, str, str]] = set()

    # -- feeding -------------------------------------------------------------------------
    def add_control(self, control: Control, base: str) -> None:
        known = self.controls.get(control.id)
        # conflicts are collection errors; the controller keeps the first it hears of
        with contextlib.suppress(ValueError):
            self.controls[control.id] = control if known is None else known.merge(control)
        tests = self.tests.setdefault(control.id, [])
        if base not in tests:
            tests.append(base)

    def add(self, raw: RawResult) -> TestResult:
        self._seen.add((raw.control, raw.nodeid, raw.base))
        message = self.redact(raw.message)
        result = TestResult(raw.nodeid, raw.outcome, message, raw.duration, raw.start_time)
        match = find(
            self.waivers,
            raw.control,
            raw.nodeid,
            raw.base,
            raw.host,
            self.specs.get(raw.host),
            self.today,
        )
        if match is not None:
            w = match.waiver
            use = self.use[w.source]
            result.waiver = w.source
            if match.expired:
                result.waiver_expired = True
                use.expired_on.add(raw.host)
                if raw.outcome in ("failed", "error"):
                    result.message = (
                        f"waiver expired on {w.expires} ({w.source}: {w.justification}); " + message
                    )
            elif raw.outcome == "not-run" or (raw.outcome == "failed"):
                result.status = "waived"
                use.applied_to.add(raw.host)
                if raw.outcome == "not-run":
                    result.message = f"not run (run: false): {w.justification}"
                else:
                    result.message = f"waived: {w.justification}; " + message
            elif raw.outcome == "passed":
                use.not_needed_on.add(raw.host)
        if result.status == "not-run":  # a run: false waiver that no longer matches
            result.status = "skipped"
        host = self.hosts.setdefault(raw.host, {})
        host.setdefault(raw.control, ControlResult(raw.control)).results.append(result)
        return result

    # -- reading -------------------------------------------------------------------------
    def severity(self, control: str) -> str:
        known = self.controls.get(control)
        return (known or Control(control)).resolved()[0]

    def counts(self, host: str) -> dict[str, int]:
        return scores.counts(r.status for r in self.hosts.get(host, {}).values())

    def score(self, host: str) -> float | None:
        return scores.score(self.counts(host))

    def scores(self) -> dict[str, float | None]:
        return {h: self.score(h) for h in sorted(self.hosts)}

    def failures(self) -> list[tuple[str, str, str]]:
        """Unwaived failures and errors (host, control, first line of message), most severe
        first, then by host and control."""
        rank = {s: i for i, s in enumerate(BY_SEVERITY)}
        rows = [
            (host, cid, r.message)
            for host, results in self.hosts.items()
            for cid, r in results.items()
            if r.status in ("failed", "error")
        ]
        rows.sort(key=lambda row: (rank[self.severity(row[1])], row[0], row[1]))
        return rows

    def errored(self) -> bool:
        return any(self.counts(h)["error"] for h in self.hosts)

    def waiver_status(self, w: Waiver) -> str:
        use = self.use[w.source]
        if use.applied_to:
            return "applied"
        if use.expired_on:
            return "expired"
        if use.not_needed_on:
            return "not-needed"
        matched = any(w.matches_test(c, n, b) for c, n, b in self._seen)
        return "not-needed" if matched else "unmatched"

    def waiver_rows(self) -> list[dict[str, Any]]:
        rows = []
        for w in self.waivers:
            use = self.use[w.source]
            rows.append(
                {
                    **w.to_json(),
                    "justification": self.redact(w.justification),
                    "status": self.waiver_status(w),
                    "applied_to": sorted(use.applied_to),
                    "expired_on": sorted(use.expired_on),
                    "not_needed_on": sorted(use.not_needed_on - use.applied_to),
                }
            )
        return rows

    def statuses(self) -> dict[tuple[str, str], str]:
        return {(h, c): r.status for h, rs in self.hosts.items() for c, r in rs.items()}

    def _waiver_json(self, result: ControlResult) -> dict[str, Any] | None:
        source = next((r.waiver for r in result.results if r.waiver), None)
        if source is None:
            return None
        w = self._waiver_by_source[source]
        expired = any(r.waiver_expired for r in result.results if r.waiver == source)
        return {
            "justification": self.redact(w.justification),
            "expires": w.expires.isoformat() if w.expires else None,
            "run": w.run,
            "source": w.source,
            "expired": expired,
        }

    def document(
        self,
        meta: Mapping[str, Any],
        threshold: float | None,
        exit_status: int,
        baseline: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The JSON document (version 1); ``meta``: tool, times, inventory, selected..."""
        controls = {}
        for cid in sorted(set(self.controls) | {c for rs in self.hosts.values() for c in rs}):
            control = self.controls.get(cid, Control(cid))
            controls[cid] = control.to_json(list(self.tests.get(cid, [])))
        hosts: dict[str, Any] = {}
        for host in sorted(self.hosts):
            results = self.hosts[host]
            c = self.counts(host)
            failed = [
                self.severity(cid) for cid, r in results.items() if r.status in ("failed", "error")
            ]
            hosts[host] = {
                "address": self.address.get(host, ""),
                "platform": dict(self.platform.get(host, {})),
                "score": scores.score(c),
                "counts": c,
                "failed_by_severity": scores.failed_by_severity(failed),
                "controls": {
                    cid: {
                        "status": r.status,
                        "message": r.message,
                        "duration": round(sum(t.duration for t in r.results), 6),
                        "start_time": min(
                            (t.start_time for t in r.results if t.start_time), default=None
                        ),
                        "waiver": self._waiver_json(r),
                        "results": [t.to_json() for t in r.results],
                    }
                    for cid, r in sorted(results.items())
                },
            }
        base: dict[str, Any] | None = None
        if baseline is not None:
            base = {
                "file": baseline["file"],
                **baseline_mod.diff(baseline_mod.statuses(baseline["document"]), self.statuses()),
            }
        return {
            "version": VERSION,
            **meta,
            "threshold": threshold,
            "exit_status": exit_status,
            "controls": controls,
            "hosts": hosts,
            "waivers": self.waiver_rows(),
            "baseline": base,
        }
