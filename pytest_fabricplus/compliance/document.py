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
from .waivers import Waiver, combine, find, host_word, overall_status

VERSION = 1


@dataclass
class RawResult:
    """What pytest said about one test on one host, before waivers."""

    host: str
    control: str
    nodeid: str
    base: str  # the nodeid without the host parameter
    #: passed|failed|error|skipped|not-applicable|not-run (a run: false waiver skipped it)
    outcome: str
    message: str = ""
    duration: float = 0.0
    start_time: str | None = None


@dataclass
class WaiverUse:
    #: host -> the words of every matching test there (:func:`waivers.host_word`)
    words: dict[str, list[str]] = field(default_factory=dict)


class ComplianceRun:
    def __init__(
        self,
        waivers: Sequence[Waiver] = (),
        specs: Mapping[str, HostSpec] | None = None,
        today: dt.date | None = None,
        redact: Callable[[str], str] = str,
        selected: Sequence[str] | None = None,
    ) -> None:
        self.waivers = list(waivers)
        self.specs = dict(specs or {})
        #: the hosts this run was to test (None: the hosts it has results for)
        self.selected = None if selected is None else list(selected)
        #: host -> why it could not be reached (an error for every control there)
        self.unreachable: dict[str, str] = {}
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
        spec = self.specs.get(raw.host)
        match = find(self.waivers, raw.control, raw.nodeid, raw.base, raw.host, spec, self.today)
        for w in self.waivers:
            if w.matches_test(raw.control, raw.nodeid, raw.base) and w.matches_host(raw.host, spec):
                chosen = match is not None and match.waiver is w
                word = host_word(
                    raw.outcome, chosen, chosen and match is not None and match.expired
                )
                self.use[w.source].words.setdefault(raw.host, []).append(word)
        if match is not None:
            w = match.waiver
            result.waiver = w.source
            if match.expired:
                result.waiver_expired = True
                if raw.outcome in ("failed", "error"):
                    result.message = (
                        f"waiver expired on {w.expires} ({w.source}: {w.justification}); " + message
                    )
            elif raw.outcome in ("not-run", "failed"):
                result.status = "waived"
                if raw.outcome == "not-run":
                    result.message = f"not run (run: false): {w.justification}"
                else:
                    result.message = f"waived: {w.justification}; " + message
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

    def hdf_counts(self, host: str) -> dict[str, int]:
        """Heimdall's status counts for the host (see :mod:`.scores`)."""
        entries = {
            cid: {"status": r.status, "waiver": self._waiver_json(r)}
            for cid, r in self.hosts.get(host, {}).items()
        }
        impacts = {cid: self._impact(cid) for cid in entries}
        return scores.hdf_counts(entries, impacts)

    def _impact(self, control: str) -> float:
        known = self.controls.get(control)
        return (known or Control(control)).resolved()[1]

    def score(self, host: str) -> float | None:
        if host in self.unreachable:
            return None
        return scores.score(self.hdf_counts(host))

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

    def waiver_hosts(self, w: Waiver) -> dict[str, str]:
        """The waiver's word for every run host its ``hosts:`` selects (:mod:`.waivers`)."""
        words = self.use[w.source].words
        candidates = self.selected if self.selected is not None else sorted(self.hosts)
        out = {
            h: combine(words.get(h, ())) for h in candidates if w.matches_host(h, self.specs.get(h))
        }
        for h, ws in words.items():  # a host with results outside the selection
            out.setdefault(h, combine(ws))
        return dict(sorted(out.items()))

    def waiver_status(self, w: Waiver) -> str:
        matched = any(w.matches_test(c, n, b) for c, n, b in self._seen)
        kind = "control" if w.control is not None else "test"
        return overall_status(self.waiver_hosts(w), matched, kind)

    def waiver_rows(self) -> list[dict[str, Any]]:
        rows = []
        for w in self.waivers:
            on_hosts = self.waiver_hosts(w)
            rows.append(
                {
                    **w.to_json(),
                    "justification": self.redact(w.justification),
                    "status": self.waiver_status(w),
                    "matched_test": any(w.matches_test(c, n, b) for c, n, b in self._seen),
                    "on_hosts": on_hosts,
                    "applied_to": [h for h, v in on_hosts.items() if v == "applied"],
                    "expired_on": [h for h, v in on_hosts.items() if v == "expired"],
                    "not_needed_on": [h for h, v in on_hosts.items() if v == "not-needed"],
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
                "score": self.score(host),
                "unreachable": self.unreachable.get(host),
                "counts": c,
                "hdf_counts": self.hdf_counts(host),
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
            "score_formula": scores.FORMULA,
            "gate_rule": scores.GATE_RULE if threshold is not None else None,
            "threshold": threshold,
            "exit_status": exit_status,
            "controls": controls,
            "hosts": hosts,
            "waivers": self.waiver_rows(),
            "baseline": base,
        }
