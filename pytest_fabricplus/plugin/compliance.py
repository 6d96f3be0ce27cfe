"""The compliance layer's pytest glue: the ``control`` marker, waivers, the per-host
compliance section, the gate and the reports.

Every process (xdist workers too) checks the markers at collection, skips the checks a
``run: false`` waiver covers and turns a waived failure into a pass-like outcome (pytest's
xfail: ``report.wasxfail`` "waived ..."), so a waived failure never fails the run. The
reporting process (the xdist controller, or the only one) builds the per-host, per-control
results from test reports alone: workers attach the control and the waiver decision as user
properties, like :class:`~pytest_fabricplus.plugin.reporting.HostSummary`'s host.

A test declares its control not applicable on its host with :func:`not_applicable` (a skip
of its own kind): the control is ``not-applicable`` there, impact 0 in that host's InSpec
JSON (Heimdall: "Not Applicable", left out of the score), where a plain ``pytest.skip`` is
``skipped`` (Heimdall: "Not Reviewed", counted against the host).

When a compliance report is asked for, the platform (``/etc/os-release``'s ``ID`` and
``VERSION_ID``) is read once per host, over the test's own ``connection``, by the process
that ran the host's first test.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from ..compliance import baseline as baseline_mod
from ..compliance import scores
from ..compliance.document import ComplianceRun, RawResult
from ..compliance.html import write_html
from ..compliance.inspec import write_inspec_dir
from ..compliance.model import BY_SEVERITY, Control, os_release_platform
from ..compliance.waivers import Waiver, WaiverError, describe_status, find
from ..compliance.waivers import load as load_waivers
from ..errors import ConfigError
from ..fleet.state import RunState
from ..hosts.spec import HostSpec
from ..settings import DOCKER_TARGET_KINDS
from ..text import one_line
from .reporting import (
    ADDRESS_PROPERTY,
    CRASH_WHEN,
    CRASHED_PROPERTY,
    HOST_PROPERTY,
    INTERRUPTED_PROPERTY,
    NOT_APPLICABLE_PROPERTY,
    UNREACHABLE_PROPERTY,
    WAIVED_PROPERTY,
    item_host,
)

PLUGIN_NAME = "fabricplus-compliance"
CONTROL_PROPERTY = "fabricplus_control"
#: the waiver decision a process made for a report: "failed" (a waived failure, reported
#: as xfail) or "not-run" (a ``run: false`` waiver skipped the check)
START_PROPERTY = "fabricplus_start_time"
#: the host's /etc/os-release as InSpec's platform {name, release} (JSON)
PLATFORM_PROPERTY = "fabricplus_platform"
MARKER = (
    "control(id, title=..., severity='none|low|medium|high|critical', impact=0.0-1.0, "
    "refs=[...], tags=[...], description=...): this test is (part of) compliance control "
    "`id`; tests sharing an id form one control"
)
_MESSAGE_LIMIT = 4000


_Skipped: type[BaseException] = pytest.skip.Exception


class NotApplicable(_Skipped):  # type: ignore[misc,valid-type]
    """Raised by :func:`not_applicable`: a skip that says "this control does not apply here"."""


def not_applicable(reason: str) -> NoReturn:
    """Declare this test's control not applicable on this host, and stop the test.

    ``reason`` is the justification auditors read. The control gets the status
    ``not-applicable`` on the host, impact 0 in its InSpec JSON ("Not Applicable" in Heimdall
    and SAF) and is left out of the score -- as InSpec's ``only_applicable_if``. A plain
    ``pytest.skip`` stays ``skipped`` ("Not Reviewed"), which counts against the host.
    """
    __tracebackhide__ = True
    if not isinstance(reason, str) or not reason.strip():
        raise TypeError("not_applicable() needs a reason: not_applicable('no sshd on this host')")
    raise NotApplicable(msg=f"not applicable: {reason.strip()}", allow_module_level=False)


def _tool_version() -> str:
    # the package's __init__ is above this layer: ask the installed distribution
    try:
        return importlib.metadata.version("pytest-fabricplus")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a tree
        return "unknown"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def item_control(node: pytest.Item | pytest.Function) -> Control | None:
    """The closest ``control`` marker's control (validated at collection)."""
    marker = node.get_closest_marker("control")
    return None if marker is None else Control.parse(tuple(marker.args), marker.kwargs)


def base_nodeid(nodeid: str, host: str | None) -> str:
    """The nodeid without the host parameter: ``t.py::test[web1]`` -> ``t.py::test``."""
    if host is None:
        return nodeid
    for old, new in ((f"[{host}]", ""), (f"-{host}]", "]"), (f"[{host}-", "[")):
        if old in nodeid:
            return nodeid.replace(old, new, 1)
    return nodeid


def platform(spec: HostSpec) -> dict[str, str]:
    """A host's platform when the run knows it (the kind of a ``--docker-targets``
    container), else ``{}``."""
    kinds = sorted(set(spec.tags) & set(DOCKER_TARGET_KINDS))
    if spec.source == "--docker-targets" and kinds:
        return {"name": kinds[0]}
    return {}


def _message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
        reason = str(longrepr[2])
        return reason[len("Skipped: ") :] if reason.startswith("Skipped: ") else reason
    text = report.longreprtext or ""
    crash = getattr(getattr(longrepr, "reprcrash", None), "message", None)
    if crash:
        return f"{crash}\n\n{text[-_MESSAGE_LIMIT:]}"
    return text[-_MESSAGE_LIMIT:]


class CompliancePlugin:
    """Registered by the session in ``pytest_sessionstart`` (each process)."""

    def __init__(self, config: pytest.Config, state: RunState) -> None:
        self.config = config
        self.state = state
        settings = state.settings
        self.reporting = not hasattr(config, "workerinput")
        self.today = dt.date.today()
        self.waivers: list[Waiver] = []
        if settings.waivers:
            try:
                self.waivers = load_waivers(settings.waivers)
            except WaiverError as exc:
                raise pytest.UsageError(f"--waivers: {exc}") from None
        self.baseline: dict[str, Any] | None = None
        if settings.compliance_baseline and self.reporting:
            try:
                doc = baseline_mod.load(settings.compliance_baseline)
            except ConfigError as exc:
                raise pytest.UsageError(f"--compliance-baseline: {exc}") from None
            self.baseline = {"file": settings.compliance_baseline, "document": doc}
        self.run = ComplianceRun(
            self.waivers,
            state.by_id,
            self.today,
            state.secrets.redact,
            selected=[h.id for h in state.selected],
        )
        self.run.platform = {h.id: platform(h) for h in state.selected}
        self._platform_read: set[str] = set()  # hosts this process asked
        self._platform_heard: set[str] = set()  # hosts the reporting process heard of
        self._known: dict[str, tuple[Control, str]] = {}
        self._pending: dict[str, RawResult] = {}
        self.started = _now()
        self._t0 = time.monotonic()
        self.document: dict[str, Any] | None = None
        self._written: list[str] = []
        self._gate: list[str] = []

    @property
    def active(self) -> bool:
        """Controls or waivers in the run, or a compliance option asked for."""
        s = self.state.settings
        asked = (s.compliance_json, s.compliance_fail_under, s.inspec_json, s.compliance_report)
        return bool(self.run.controls or self.waivers or any(a is not None for a in asked))

    # -- collection ---------------------------------------------------------------------
    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        definition = metafunc.definition
        marker = definition.get_closest_marker("control")
        if marker is None:
            return
        where = f"{definition.nodeid}: @pytest.mark.control"
        try:
            control = Control.parse(tuple(marker.args), marker.kwargs)
        except ValueError as exc:
            raise pytest.Collector.CollectError(f"{where}: {exc}") from None
        known = self._known.get(control.id)
        if known is None:
            self._known[control.id] = (control, definition.nodeid)
            return
        try:
            merged = known[0].merge(control)
        except ValueError as exc:
            raise pytest.Collector.CollectError(
                f"{where}: control {control.id!r} is given conflicting metadata by "
                f"{known[1]} and {definition.nodeid}: {exc}"
            ) from None
        self._known[control.id] = (merged, known[1])

    # -- running ------------------------------------------------------------------------
    def _decision(self, item: pytest.Item, spec: HostSpec, control: Control | None) -> Any:
        if not self.waivers:
            return None
        base = base_nodeid(item.nodeid, spec.id)
        cid = control.id if control is not None else None
        return find(self.waivers, cid, item.nodeid, base, spec.id, spec, self.today)

    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        spec = item_host(item)
        if spec is None:
            return
        control = item_control(item)
        if control is not None:
            meta = {"id": control.id, **control.given()}
            meta["base"] = base_nodeid(item.nodeid, spec.id)
            item.user_properties.append((CONTROL_PROPERTY, json.dumps(meta)))
        if control is not None or self.waivers:
            item.user_properties.append((START_PROPERTY, _now()))
        match = self._decision(item, spec, control)
        if match is not None and not match.expired and not match.waiver.run:
            # the host's properties are on the item already (the session's tryfirst setup)
            item.user_properties.append((WAIVED_PROPERTY, "not-run"))
            w = match.waiver
            pytest.skip(f"waived, not run (run: false, {w.source}): {w.justification}")

    def _wants_platform(self) -> bool:
        s = self.state.settings
        return bool(s.compliance_json or s.inspec_json or s.compliance_report)

    def _read_platform(self, item: pytest.Item, spec: HostSpec, report: pytest.TestReport) -> None:
        """Once per host and process: /etc/os-release over the test's own connection."""
        if spec.id in self._platform_read or not self._wants_platform():
            return
        funcargs = getattr(item, "funcargs", None) or {}
        conn = funcargs.get("connection")
        if conn is None or not hasattr(conn, "run_plain"):
            return
        self._platform_read.add(spec.id)
        try:
            result = conn.run_plain("cat /etc/os-release", hide=True, warn=True, timeout=15)
        except Exception:  # a host lost by now stays "unknown"; its tests say why
            return
        found = os_release_platform(str(getattr(result, "stdout", "") or ""))
        if found:
            report.user_properties = [
                *report.user_properties,
                (PLATFORM_PROPERTY, json.dumps(found)),
            ]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        spec = item_host(item)
        if spec is None:
            return report
        if (
            report.skipped
            and call.excinfo is not None
            and call.excinfo.errisinstance(NotApplicable)
        ):
            reason = str(getattr(call.excinfo.value, "msg", "") or "")
            report.user_properties = [*report.user_properties, (NOT_APPLICABLE_PROPERTY, reason)]
            # on the item too: the teardown report carries it (JUnit writes properties then)
            item.user_properties.append((NOT_APPLICABLE_PROPERTY, reason))
            if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
                # pytest words a skip's subclass by its dotted name: say what a skip says
                report.longrepr = (report.longrepr[0], report.longrepr[1], f"Skipped: {reason}")
        if report.when == "call":
            self._read_platform(item, spec, report)
        if report.when != "call" or not report.failed or not self.waivers:
            return report
        if hasattr(report, "wasxfail"):
            return report
        match = self._decision(item, spec, item_control(item))
        if match is None:
            return report
        w = match.waiver
        if match.expired:
            report.sections.append(
                (
                    "fabricplus waiver",
                    f"waiver {w.source} expired on {w.expires}: {w.justification}",
                )
            )
            return report
        # a waived failure does not fail the run: reported as pytest's xfail, with its reason
        report.user_properties = [*report.user_properties, (WAIVED_PROPERTY, "failed")]
        item.user_properties.append((WAIVED_PROPERTY, "failed"))  # JUnit, as above
        report.outcome = "skipped"
        report.wasxfail = f"waived ({w.source}): {w.justification}"
        return report

    # -- reporting (the xdist controller, or the only process) ---------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.reporting:
            return
        props = dict(report.user_properties)
        host = props.get(HOST_PROPERTY)
        if host is None:
            return
        host = str(host)
        self.run.address.setdefault(host, str(props.get(ADDRESS_PROPERTY, "")))
        if UNREACHABLE_PROPERTY in props:
            self.run.unreachable.setdefault(host, str(props[UNREACHABLE_PROPERTY]))
        if PLATFORM_PROPERTY in props and host not in self._platform_heard:
            # what the host says beats what the run guessed (a container target's kind)
            self._platform_heard.add(host)
            self.run.platform[host] = dict(json.loads(str(props[PLATFORM_PROPERTY])))
        cid = ""
        raw_meta = props.get(CONTROL_PROPERTY)
        base = base_nodeid(report.nodeid, host)
        if raw_meta is not None:
            meta = json.loads(str(raw_meta))
            base = meta.pop("base", base)
            cid = str(meta["id"])
            self.run.add_control(Control.from_json(meta), base)
        pending = self._pending.get(report.nodeid)
        if pending is None:
            pending = self._pending[report.nodeid] = RawResult(
                host=host,
                control=cid,
                nodeid=report.nodeid,
                base=base,
                outcome="passed",
                start_time=str(props[START_PROPERTY]) if START_PROPERTY in props else None,
            )
        pending.duration += report.duration
        if cid:
            pending.control = cid
        waived = props.get(WAIVED_PROPERTY)
        outcome: str | None = None
        if report.when == "setup" and report.outcome != "passed":
            outcome = "skipped" if report.skipped else "error"
            if waived == "not-run":
                outcome = "not-run"
            elif report.skipped and NOT_APPLICABLE_PROPERTY in props:
                outcome = "not-applicable"
        elif report.when == "call":
            if INTERRUPTED_PROPERTY in props:  # stopped while it ran: not checked
                outcome = "error"
            elif report.skipped and NOT_APPLICABLE_PROPERTY in props:
                outcome = "not-applicable"
            elif waived == "failed":
                outcome = "failed"
            elif hasattr(report, "wasxfail"):  # pytest's own xfail: expected, not counted
                outcome = "skipped" if report.skipped else "passed"
            else:
                outcome = report.outcome
        elif report.when == CRASH_WHEN or (
            report.when == "teardown" and report.failed and pending.outcome == "passed"
        ):  # a crash: its xdist worker died, the control was not checked (xdist.py closes it)
            outcome = "error"
        if outcome is not None:
            pending.outcome = outcome
            pending.message = _message(report)
            if INTERRUPTED_PROPERTY in props:  # its own words, without xdist's header
                pending.message = str(props[INTERRUPTED_PROPERTY])
            elif report.when == CRASH_WHEN and CRASHED_PROPERTY in props:
                # the words of every other view: "crashed (worker gw1)", then xdist's
                pending.message = f"crashed ({props[CRASHED_PROPERTY]}): {pending.message}"
        if report.when == "teardown":
            del self._pending[report.nodeid]
            if not pending.control and not self.waivers:
                return
            self.run.add(pending)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.reporting or not self.active:
            return
        settings = self.state.settings
        threshold = settings.compliance_fail_under
        status = int(session.exitstatus)
        finished = _now()
        meta = {
            "tool": "pytest-fabricplus",
            "tool_version": _tool_version(),
            "started": self.started,
            "finished": finished,
            "duration": round(time.monotonic() - self._t0, 3),
            "inventory": self.state.source,
            "selected": [h.id for h in self.state.selected],
        }
        self.document = self.run.document(meta, threshold, status, self.baseline)
        if threshold is not None:
            # one rule for this run and merge-reports: no verdict without hosts
            self._gate = scores.gate_failures(self.document, threshold)
            if status in (2, 3, 4):
                self._gate.append(f"the run did not finish (exit status {status})")
            if self._gate and status == 0:
                status = 1
            elif not self._gate and status == 1:
                status = 0  # failures the gate allows (as before: the score decides)
            session.exitstatus = status
            self.document["exit_status"] = status
        if not (settings.compliance_json or settings.inspec_json or settings.compliance_report):
            return
        # every report is written from one redacted copy of the document
        clean = self.state.secrets.redact_data(self.document)
        if settings.compliance_json:
            path = Path(settings.compliance_json)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(clean, indent=2) + "\n")
            self._written.append(f"compliance JSON written to {path}")
        if settings.inspec_json:
            files = write_inspec_dir(clean, settings.inspec_json)
            self._written.append(
                f"InSpec JSON written to {settings.inspec_json} ({len(files)} hosts)"
            )
        if settings.compliance_report:
            page = write_html(clean, settings.compliance_report)
            self._written.append(f"HTML compliance report written to {page}")

    @pytest.hookimpl(trylast=True)  # after the per-host table
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.reporting or self.document is None:
            return
        tr = terminalreporter
        doc = self.document
        redact = self.state.secrets.redact
        hosts = doc["hosts"]
        tr.write_sep("=", "fabricplus: compliance per host")
        if hosts:
            width = max(4, *(len(h) for h in hosts))
            sev = "  ".join(f"{s:>8}" for s in BY_SEVERITY)
            tr.write_line(f"{'host':<{width}}  {'score':>7}  failed: {sev}  {'waived':>6}")
            for host, data in hosts.items():
                score = "n/s" if data["score"] is None else f"{data['score']:.1f}%"
                counts = "  ".join(f"{data['failed_by_severity'][s]:>8}" for s in BY_SEVERITY)
                tr.write_line(
                    f"{host:<{width}}  {score:>7}          {counts}  {data['counts']['waived']:>6}"
                )
        failures = self.run.failures()
        if failures:
            tr.write_sep("-", "unwaived failures, most severe first", red=True)
            for host, cid, message in failures:
                control = doc["controls"].get(cid, {})
                first = one_line((message or "").strip().splitlines()[0] if message else "")
                title = control.get("title") or ""
                tr.write_line(
                    redact(
                        f"{control.get('severity', '?').upper():<8} {host}  {cid}  {title}: {first}"
                    )
                )
        waived = [
            (h, cid, r)
            for h, data in hosts.items()
            for cid, r in data["controls"].items()
            if r["status"] == "waived"
        ]
        if waived:
            tr.write_sep("-", "waived")
            for host, cid, r in waived:
                w = r["waiver"] or {}
                until = f", expires {w['expires']}" if w.get("expires") else ""
                how = " (not run)" if w.get("run") is False else ""
                tr.write_line(
                    f"{host}  {cid}{how}: {w.get('justification')} [{w.get('source')}{until}]"
                )
        notes = [
            w
            for w in doc["waivers"]
            if w["status"] != "applied" or set(w.get("on_hosts", {}).values()) != {"applied"}
        ]
        if notes:
            tr.write_sep("-", "waivers: where they applied and where not", yellow=True)
            for w in notes:
                what = f"control {w['control']}" if w["control"] else f"test {w['test']}"
                tr.write_line(f"{w['source']}: waiver for {what}: {describe_status(w)}")
        base = doc.get("baseline")
        if base is not None:
            tr.write_sep("-", f"compared with the baseline {base['file']}")
            tr.write_line(f"new failures: {len(base['new_failures'])}, fixed: {len(base['fixed'])}")
            for row in base["new_failures"]:
                tr.write_line(f"NEW FAILURE {row['host']}  {row['control']}")
            for row in base["fixed"]:
                tr.write_line(f"FIXED       {row['host']}  {row['control']}")
        unscored = [h for h, d in hosts.items() if d["score"] is None]
        if unscored:
            tr.write_line(
                "n/s: not scored (unreachable, or nothing that counts ran): " + ", ".join(unscored)
            )
        tr.write_line(f"score: {scores.FORMULA}")
        if doc["threshold"] is not None:
            rule = f"threshold {doc['threshold']:g}%: {scores.GATE_RULE}"
            if self._gate:
                tr.write_sep("-", f"compliance gate: FAILED ({rule})", red=True)
                for line in self._gate:
                    tr.write_line(f"BELOW THRESHOLD {line}" if "% is below" in line else line)
            else:
                tr.write_line(
                    f"compliance gate: passed (every selected host scored >= "
                    f"{doc['threshold']:g}%, no errors; {scores.GATE_RULE})"
                )
        for line in self._written:
            tr.write_line(f"fabricplus: {line}")
