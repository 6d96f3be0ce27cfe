"""Per-host outcome summary, JSON report, host properties on each test report.

Works from test reports alone, so it runs on the xdist controller too: workers attach the
host as user properties (which ``--junitxml`` writes as ``<property>`` elements).

Runs that did not finish say so. A test whose xdist worker died (xdist reports it with
``when="???"`` and no properties) gets its host and ``fabricplus_crashed: worker gwN`` from
``pytest_handlecrashitem`` (:mod:`.xdist`), is counted in the ``crashed`` column and reads
``crashed (worker gwN)`` in the JSON report. After Ctrl-C (or ``pytest.exit``) each test that
had started and not finished gets a report of its own (:func:`interrupted_reports`: a failed
call carrying its host and ``fabricplus_interrupted``, then the teardown that closes it), so
every view hears of it as it hears of any test: the terminal's line (``INTERRUPTED``), the
per-host table's ``interrupted`` column, JUnit (a ``<failure>`` with the property), the
compliance results (``error``: the control was not checked) and the JSON report, which also
carries ``interrupted`` and ``exit_status``.

The terminal's word for a test says what the other views say: ``WAIVED`` for a waived failure
(pytest's xfail) or a ``run: false`` check (a skip), ``NOT APPLICABLE`` for
:func:`~pytest_fabricplus.not_applicable`; the summary line keeps pytest's categories.

Upstream behaviour worked around here:

- pytest-xdist's crash report has no user properties and is never followed by a teardown
  report, and ``--junitxml`` writes a test's properties only when its teardown report
  arrives: a teardown report (passed, carrying the properties) is logged after the crash
  report so the JUnit test case gets its host.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ..fleet.affinity import host_of_nodeid
from ..hosts.spec import HostSpec
from ..secrets import SecretStore, redact_data

HOST_PROPERTY = "fabricplus_host"
ADDRESS_PROPERTY = "fabricplus_address"
#: each user a test ran as (``su_user`` marker, ``run_as`` blocks) and by which method
RUN_AS_PROPERTY = "fabricplus_run_as"
UNREACHABLE_PROPERTY = "fabricplus_unreachable"
HOST_KEY_PROPERTY = "fabricplus_host_key_accepted"
#: what a host's ssh arguments / client config ask for that we do not honour
SSH_CONFIG_PROPERTY = "fabricplus_ssh_config_warning"
_OUTCOMES = ("passed", "failed", "error", "skipped")
#: a test whose xdist worker died under it; the value names the worker (``worker gw1``)
CRASHED_PROPERTY = "fabricplus_crashed"
#: the ``when`` of pytest-xdist's report for a test whose worker crashed
CRASH_WHEN = "???"
#: outcome columns shown only when the run had them
_RARE_OUTCOMES = ("waived", "not-applicable", "crashed", "interrupted")
#: a test whose failure a compliance waiver covers (or that a ``run: false`` waiver skipped)
WAIVED_PROPERTY = "fabricplus_waived"
#: the reason a test gave to :func:`~pytest_fabricplus.not_applicable`
NOT_APPLICABLE_PROPERTY = "fabricplus_not_applicable"
#: a test that was running when the run was interrupted; the value says so, with the host
INTERRUPTED_PROPERTY = "fabricplus_interrupted"
_MESSAGE_LIMIT = 4000


def redact_report(report: pytest.TestReport, secrets: SecretStore) -> None:
    """Remove the run's secrets from everything a test report carries: the failure text
    (``--showlocals`` included), captured output and logs, user properties.

    Runs where the report is made (an xdist worker knows the secrets its tests read), so
    what reaches the controller, the terminal, JUnit XML and the JSON reports is clean.
    """
    if not secrets:
        return
    longrepr = report.longrepr
    if longrepr is not None:
        if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
            report.longrepr = (longrepr[0], longrepr[1], secrets.redact(str(longrepr[2])))
        else:
            text = str(longrepr)
            clean = secrets.redact(text)
            if clean != text:
                report.longrepr = clean
    report.sections = [(title, secrets.redact(body)) for title, body in report.sections]
    report.user_properties = [
        (name, secrets.redact(value) if isinstance(value, str) else value)
        for name, value in report.user_properties
    ]


class HostSummary:
    """Outcomes per host, collected from test reports."""

    def __init__(self, redact: Callable[[str], str] = str) -> None:
        self.redact = redact
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.address: dict[str, str] = {}
        self.unreachable: dict[str, str] = {}
        self.privilege: dict[str, set[str]] = defaultdict(set)
        self.host_keys: dict[str, str] = {}
        self.ssh_config: dict[str, None] = {}  # warnings, in order, once each
        self.tests: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)

    def add(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        host = props.get(HOST_PROPERTY)
        if host is None:
            return
        host = str(host)
        self.address.setdefault(host, str(props.get(ADDRESS_PROPERTY, "")))
        if UNREACHABLE_PROPERTY in props:
            self.unreachable.setdefault(host, self.redact(str(props[UNREACHABLE_PROPERTY])))
        if HOST_KEY_PROPERTY in props:
            self.host_keys.setdefault(host, str(props[HOST_KEY_PROPERTY]))
        for name, value in report.user_properties:
            if name == SSH_CONFIG_PROPERTY:
                self.ssh_config.setdefault(self.redact(str(value)), None)
        if report.when == "teardown":  # one entry per user the test ran as
            for name, value in report.user_properties:
                if name == RUN_AS_PROPERTY:
                    self.privilege[host].add(str(value))
        outcome: str | None = None
        shown: str | None = None  # the entry's outcome, when it says more than the column
        if report.when == CRASH_WHEN:
            outcome = "crashed"
            shown = f"crashed ({props.get(CRASHED_PROPERTY, 'worker ?')})"
        elif INTERRUPTED_PROPERTY in props and report.when in ("setup", "call") and report.failed:
            outcome = "interrupted"
        elif report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            outcome = report.outcome
            if report.when == "setup" and outcome == "failed":
                outcome = "error"
        elif report.when == "teardown" and report.outcome == "failed":
            outcome = "error"
        if outcome == "skipped" and WAIVED_PROPERTY in props:
            outcome = "waived"  # counted apart: a waived failure is neither a pass nor a skip
        elif outcome == "skipped" and NOT_APPLICABLE_PROPERTY in props:
            outcome = "not-applicable"  # not a skip: Heimdall leaves it out of the score
        entry = self.tests[host].setdefault(
            report.nodeid, {"nodeid": report.nodeid, "outcome": None, "duration": 0.0}
        )
        entry["duration"] = round(entry["duration"] + report.duration, 6)
        if outcome is not None:
            self.counts[host][outcome] += 1
            if entry["outcome"] in (None, "passed") or shown is not None:
                entry["outcome"] = shown or outcome
            if outcome != "passed":
                text = report.longreprtext or ""
                if report.skipped and isinstance(report.longrepr, tuple):
                    text = str(report.longrepr[2])
                entry["message"] = self.redact(text)[-_MESSAGE_LIMIT:]

    def interrupt(self, running: dict[str, str | None]) -> None:
        """The tests that had started and not finished when the run was interrupted
        (``nodeid`` -> host, when known) and got no report of their own
        (:func:`interrupted_reports` gives them one when pytest says it was interrupted)."""
        for nodeid, known in running.items():
            host = known or next((h for h, t in self.tests.items() if nodeid in t), None)
            if host is None:
                continue
            entry = self.tests[host].setdefault(
                nodeid, {"nodeid": nodeid, "outcome": None, "duration": 0.0}
            )
            if entry["outcome"] in (None, "passed"):  # a failed setup stays what it was
                self.counts[host]["interrupted"] += 1
                entry["outcome"] = "interrupted"

    @property
    def outcomes(self) -> tuple[str, ...]:
        """The columns: ``waived``, ``crashed``, ``interrupted`` only when the run had them."""
        rare = [o for o in _RARE_OUTCOMES if any(c[o] for c in self.counts.values())]
        return (*_OUTCOMES, *rare)

    def lines(self) -> list[str]:
        if not self.counts:
            return []
        width = max(len(h) for h in self.counts)
        outcomes = self.outcomes
        cols = [max(7, len(o)) for o in outcomes]
        header = f"{'host':<{width}}  " + "  ".join(
            f"{o:>{w}}" for o, w in zip(outcomes, cols, strict=True)
        )
        if self.unreachable:
            header += "  unreachable"
        rows = [header]
        for host in sorted(self.counts):
            c = self.counts[host]
            row = f"{host:<{width}}  " + "  ".join(
                f"{c[o]:>{w}}" for o, w in zip(outcomes, cols, strict=True)
            )
            if host in self.unreachable:
                row += f"  {self.unreachable[host]}"
            rows.append(row)
        return rows

    def document(self, meta: dict[str, Any]) -> dict[str, Any]:
        hosts = {}
        for host in sorted(self.tests):
            hosts[host] = {
                "address": self.address.get(host, ""),
                "unreachable": self.unreachable.get(host),
                "counts": {o: self.counts[host][o] for o in self.outcomes},
                "run_as": sorted(self.privilege.get(host, ())),
                "tests": list(self.tests[host].values()),
            }
        return {"version": 2, **meta, "hosts": hosts}


class HostReporter:
    """Registered plugin object: collects reports, prints the table, writes the JSON file."""

    def __init__(
        self,
        redact: Callable[[str], str] = str,
        json_path: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.summary = HostSummary(redact)
        self.json_path = json_path
        self.meta = meta or {}
        self.hosts: frozenset[str] = frozenset(self.meta.get("selected", ()))
        #: tests started and not finished (nodeid -> host), for an interrupted run
        self.running: dict[str, str | None] = {}
        #: the last report of each running test (its location, properties, xdist node)
        self._last: dict[str, pytest.TestReport] = {}
        self._locations: dict[str, tuple[str, int | None, str]] = {}
        self._items: dict[str, pytest.Item] = {}
        self.interrupted = False
        self._config: pytest.Config | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        self._config = config

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._config = session.config

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self.running[nodeid] = host_of_nodeid(nodeid, self.hosts)
        self._locations[nodeid] = location

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.running.pop(nodeid, None)
        self._last.pop(nodeid, None)
        self._locations.pop(nodeid, None)

    def pytest_keyboard_interrupt(self) -> None:
        """Before the session finishes (and every report file is written): each test still
        running gets its interrupted report, which every plugin hears as any other."""
        self.interrupted = True
        config = self._config
        if config is None:
            return
        for nodeid, host in list(self.running.items()):
            last = self._last.get(nodeid)
            if host is None or (last is not None and (last.when != "setup" or not last.passed)):
                continue  # not a host's test, or its last report already said what happened
            if last is None:  # stopped in its setup: what this process knows of the item
                item = self._items.get(nodeid)
                if item is None:  # it ran in another process: an xdist worker
                    _end_terminal_line(config)
                props = list(item.user_properties) if item is not None else []
                if HOST_PROPERTY not in dict(props):
                    props.append((HOST_PROPERTY, host))
                start = self._locations.get(nodeid) or (nodeid.split("::")[0], None, nodeid)
                reports = interrupted_reports(nodeid, start, host, props, None, "setup")
            else:
                props = list(last.user_properties)
                node = getattr(last, "node", None)
                reports = interrupted_reports(nodeid, last.location, host, props, node, "call")
            for report in reports:
                config.hook.pytest_runtest_logreport(report=report)
            self.running.pop(nodeid, None)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> None:
        """The item being run in this process (none on an xdist controller)."""
        self._items = {item.nodeid: item}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.summary.add(report)
        if report.when == CRASH_WHEN:
            self.running.pop(report.nodeid, None)
        elif report.nodeid in self.running:
            self._last[report.nodeid] = report

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(
        self, report: pytest.TestReport
    ) -> tuple[str, str, str | tuple[str, dict[str, bool]]] | None:
        """The terminal's word for a waived, not applicable, crashed or interrupted test
        (the category, which the summary line counts, stays pytest's)."""
        props = dict(getattr(report, "user_properties", ()))  # a CollectReport has none
        if HOST_PROPERTY not in props:
            return None
        if report.when == CRASH_WHEN and CRASHED_PROPERTY in props:
            return "failed", "C", ("CRASHED", {"red": True})
        if INTERRUPTED_PROPERTY in props and report.when in ("setup", "call") and report.failed:
            return "interrupted", "I", ("INTERRUPTED", {"red": True})
        if report.when != "call" and not (report.when == "setup" and report.skipped):
            return None
        if report.skipped and WAIVED_PROPERTY in props:
            category = "xfailed" if hasattr(report, "wasxfail") else "skipped"
            return category, "w", ("WAIVED", {"yellow": True})
        if report.skipped and NOT_APPLICABLE_PROPERTY in props:
            return "skipped", "n", ("NOT APPLICABLE", {"yellow": True})
        return None

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        lines = self.summary.lines()
        if lines:
            terminalreporter.write_sep("=", "fabricplus: results per host")
            for line in lines:
                terminalreporter.write_line(line)
        if self.summary.host_keys:
            terminalreporter.write_sep(
                "-", "fabricplus: host keys accepted without verification", yellow=True
            )
            for host in sorted(self.summary.host_keys):
                terminalreporter.write_line(f"WARNING {host}: {self.summary.host_keys[host]}")
        if self.summary.ssh_config:
            terminalreporter.write_sep(
                "-", "fabricplus: ssh arguments and config not honoured", yellow=True
            )
            for warning in self.summary.ssh_config:
                terminalreporter.write_line(f"WARNING {warning}")
        if self.summary.privilege and terminalreporter.config.getoption("verbose") > 0:
            terminalreporter.write_sep("-", "fabricplus: run as (su_user, run_as) per host")
            for host in sorted(self.summary.privilege):
                for choice in sorted(self.summary.privilege[host]):
                    terminalreporter.write_line(f"{host}: {self.summary.redact(choice)}")
        if self.json_path:
            terminalreporter.write_line(
                f"fabricplus: per-host JSON report written to {self.json_path}"
            )

    @pytest.hookimpl(trylast=True)  # the exit status as the compliance gate leaves it
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        status = int(session.exitstatus)
        self.interrupted = self.interrupted or status == pytest.ExitCode.INTERRUPTED
        if self.interrupted:
            self.summary.interrupt(self.running)
            self.running = {}
        if not self.json_path:
            return
        meta = {
            **self.meta,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "exit_status": status,
            "interrupted": self.interrupted,
        }
        path = Path(self.json_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        document = redact_data(self.summary.document(meta), self.summary.redact)
        path.write_text(json.dumps(document, indent=2) + "\n")


def interrupted_reports(
    nodeid: str,
    location: tuple[str, int | None, str],
    host: str,
    props: list[tuple[str, object]],
    node: object,
    when: str,
) -> list[pytest.TestReport]:
    """The reports of a test that was running on ``host`` when the run was interrupted: a
    failed ``when`` (``call`` after a passed setup, else ``setup``) naming host, test and
    xdist worker, carrying ``props`` (the host's properties) and :data:`INTERRUPTED_PROPERTY`,
    then the teardown that closes the test (``--junitxml`` writes a test's properties then).
    ``node``: the xdist worker of its earlier reports (JUnit's key), or None."""
    gateway = getattr(getattr(node, "gateway", None), "id", None)
    where = f"{host}, worker {gateway}" if gateway else host
    why = (
        f"interrupted: the run was stopped (KeyboardInterrupt) while {nodeid} "
        f"was running on {where}; it was not checked"
    )
    marked = [(k, v) for k, v in props if k != INTERRUPTED_PROPERTY]
    marked.append((INTERRUPTED_PROPERTY, why))
    out = []
    for phase, outcome, longrepr in ((when, "failed", why), ("teardown", "passed", None)):
        report = pytest.TestReport(
            nodeid=nodeid,
            location=location,
            keywords={},
            outcome=outcome,  # type: ignore[arg-type]
            longrepr=longrepr,
            when=phase,  # type: ignore[arg-type]
            user_properties=list(marked),
        )
        if node is not None:
            report.node = node  # type: ignore[attr-defined]
        out.append(report)
    return out


def _end_terminal_line(config: pytest.Config) -> None:
    """The next ``-v`` word starts a line of its own, with the test's name again.

    The xdist controller began the test's line (``nodeid ``) when the worker said the test
    started, and pytest appends the word of a report without an xdist ``node`` (the
    interrupted report of a test stopped in its setup names none) to that line. The workers
    write to the same terminal (their stderr: a warning, a log record, a traceback): had one
    written since, the name and ``INTERRUPTED`` would land on different lines, and the
    terminal would show no line for the test while every other view says it was interrupted.
    """
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    # pytest 7.4 does not export pytest.TerminalReporter: its attribute is read instead
    if terminal is not None and getattr(terminal, "currentfspath", None) is not None:
        terminal.currentfspath = -2  # pytest's "this line is taken": a new one is begun


def item_host(item: pytest.Item) -> HostSpec | None:
    """The host an item was parametrized with, if any."""
    callspec = getattr(item, "callspec", None)
    spec = callspec.params.get("host_spec") if callspec is not None else None
    return spec if isinstance(spec, HostSpec) else None
