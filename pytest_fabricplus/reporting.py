"""Report header, per-host outcome summary, host properties on each test report."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

HOST_PROPERTY = "fabricplus_host"
ADDRESS_PROPERTY = "fabricplus_address"
PRIVILEGE_PROPERTY = "fabricplus_su_user"
_OUTCOMES = ("passed", "failed", "error", "skipped")


class HostSummary:
    """Counts outcomes per host from test reports (works on the xdist controller too)."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        self.address: dict[str, str] = {}
        self.privilege: dict[str, set[str]] = defaultdict(set)

    def add(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        host = props.get(HOST_PROPERTY)
        if host is None:
            return
        self.address.setdefault(str(host), str(props.get(ADDRESS_PROPERTY, "")))
        if PRIVILEGE_PROPERTY in props and report.when == "teardown":
            self.privilege[str(host)].add(str(props[PRIVILEGE_PROPERTY]))
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            outcome: str = report.outcome
            if report.when == "setup" and outcome == "failed":
                outcome = "error"
            self.counts[str(host)][outcome] += 1
        elif report.when == "teardown" and report.outcome == "failed":
            self.counts[str(host)]["error"] += 1

    def lines(self) -> list[str]:
        if not self.counts:
            return []
        width = max(len(h) for h in self.counts)
        header = f"{'host':<{width}}  " + "  ".join(f"{o:>7}" for o in _OUTCOMES)
        rows = [header]
        for host in sorted(self.counts):
            c = self.counts[host]
            rows.append(f"{host:<{width}}  " + "  ".join(f"{c[o]:>7}" for o in _OUTCOMES))
        return rows


class HostReporter:
    """Registered plugin object: collects reports and prints the per-host table."""

    def __init__(self) -> None:
        self.summary = HostSummary()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.summary.add(report)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        lines = self.summary.lines()
        if lines:
            terminalreporter.write_sep("=", "fabricplus: results per host")
            for line in lines:
                terminalreporter.write_line(line)
        if self.summary.privilege and terminalreporter.config.get_verbosity() > 0:
            terminalreporter.write_sep("-", "fabricplus: su_user per host")
            for host in sorted(self.summary.privilege):
                for choice in sorted(self.summary.privilege[host]):
                    terminalreporter.write_line(f"{host}: {choice}")
