"""Controls, outcomes and InSpec's severity/impact mapping.

InSpec (``lib/inspec/impact.rb``) names impact scores after CVSS 3.0: none 0.0, low 0.1,
medium 0.4, high 0.7, critical 0.9; an impact maps to the highest name whose score it
reaches (``string_from_impact``), a name to its score (``impact_from_string``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: InSpec's Inspec::Impact::IMPACT_SCORES, in increasing order
IMPACT_SCORES: dict[str, float] = {
    "none": 0.0,
    "low": 0.1,
    "medium": 0.4,
    "high": 0.7,
    "critical": 0.9,
}
SEVERITIES: tuple[str, ...] = tuple(IMPACT_SCORES)
#: most severe first (terminal order, ``failed_by_severity``)
BY_SEVERITY: tuple[str, ...] = tuple(reversed(SEVERITIES))
#: ``not-applicable``: a test called :func:`~pytest_fabricplus.not_applicable` on the host
STATUSES: tuple[str, ...] = ("passed", "failed", "error", "skipped", "waived", "not-applicable")
CONTROL_KEYWORDS = ("title", "severity", "impact", "refs", "tags", "description")
#: the default when a control names neither (InSpec's default impact is 0.5: medium)
DEFAULT_IMPACT = 0.5


def severity_from_impact(impact: float) -> str:
    if not 0.0 <= impact <= 1.0:
        raise ValueError(f"impact {impact!r} is outside 0.0..1.0")
    for name in BY_SEVERITY:
        if impact >= IMPACT_SCORES[name]:
            return name
    return "none"  # pragma: no cover - 0.0 reaches "none"


def impact_from_severity(severity: str) -> float:
    try:
        return IMPACT_SCORES[severity.lower()]
    except KeyError:
        raise ValueError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}") from None


def _strings(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name}= must be a list of strings, got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class Control:
    """One control's metadata, from a ``control`` marker."""

    id: str
    title: str | None = None
    severity: str | None = None
    impact: float | None = None
    refs: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    description: str | None = None

    @classmethod
    def parse(cls, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Control:
        """Validate a marker's arguments (``ValueError`` says what is wrong)."""
        if len(args) != 1:
            raise ValueError(f"takes one control id, got {len(args)} positional arguments")
        cid = args[0]
        if not isinstance(cid, str) or not cid.strip():
            raise ValueError(f"the control id must be a non-empty string, got {cid!r}")
        unknown = sorted(set(kwargs) - set(CONTROL_KEYWORDS))
        if unknown:
            raise ValueError(
                f"unknown keyword(s) {', '.join(unknown)}; allowed: {', '.join(CONTROL_KEYWORDS)}"
            )
        for name in ("title", "description"):
            if name in kwargs and not isinstance(kwargs[name], str):
                raise ValueError(f"{name}= must be a string, got {kwargs[name]!r}")
        severity = kwargs.get("severity")
        if severity is not None:
            if not isinstance(severity, str) or severity.lower() not in IMPACT_SCORES:
                raise ValueError(f"severity={severity!r} is not one of {', '.join(SEVERITIES)}")
            severity = severity.lower()
        impact = kwargs.get("impact")
        if impact is not None:
            if (
                isinstance(impact, bool)
                or not isinstance(impact, (int, float))
                or not math.isfinite(impact)
                or not 0.0 <= impact <= 1.0
            ):
                raise ValueError(f"impact={impact!r} is not a number between 0.0 and 1.0")
            impact = float(impact)
        return cls(
            id=cid.strip(),
            title=kwargs.get("title"),
            severity=severity,
            impact=impact,
            refs=_strings("refs", kwargs["refs"]) if "refs" in kwargs else (),
            tags=_strings("tags", kwargs["tags"]) if "tags" in kwargs else (),
            description=kwargs.get("description"),
        )

    def given(self) -> dict[str, Any]:
        """The metadata fields this marker sets (for merging and conflict checks)."""
        out: dict[str, Any] = {}
        for name in CONTROL_KEYWORDS:
            value = getattr(self, name)
            if value not in (None, ()):
                out[name] = value
        return out

    def merge(self, other: Control) -> Control:
        """One control from two markers with the same id; a conflicting field is a ValueError."""
        mine, theirs = self.given(), other.given()
        clash = [k for k in mine.keys() & theirs.keys() if mine[k] != theirs[k]]
        if clash:
            raise ValueError(
                "; ".join(f"{k}={mine[k]!r} vs {k}={theirs[k]!r}" for k in sorted(clash))
            )
        return Control(id=self.id, **{**theirs, **mine})

    def resolved(self) -> tuple[str, float]:
        """(severity, impact): the one given derives the other, as InSpec maps them."""
        if self.impact is not None:
            severity = self.severity or severity_from_impact(self.impact)
            return severity, self.impact
        if self.severity is not None:
            return self.severity, impact_from_severity(self.severity)
        return severity_from_impact(DEFAULT_IMPACT), DEFAULT_IMPACT

    def to_json(self, tests: list[str]) -> dict[str, Any]:
        severity, impact = self.resolved()
        return {
            "id": self.id,
            "title": self.title,
            "severity": severity,
            "impact": impact,
            "refs": list(self.refs),
            "tags": list(self.tags),
            "description": self.description,
            "tests": tests,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Control:
        return cls(
            id=str(data["id"]),
            title=data.get("title"),
            severity=data.get("severity"),
            impact=data.get("impact"),
            refs=tuple(data.get("refs") or ()),
            tags=tuple(data.get("tags") or ()),
            description=data.get("description"),
        )


@dataclass
class TestResult:
    """One test of a control on one host (a pytest item)."""

    nodeid: str
    status: str  # passed|failed|error|skipped|waived|not-applicable
    message: str = ""
    duration: float = 0.0
    start_time: str | None = None
    #: the waiver's source (``file:line``) when it waived or expired on this result
    waiver: str | None = None
    waiver_expired: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "status": self.status,
            "message": self.message,
            "duration": round(self.duration, 6),
            "start_time": self.start_time,
        }


@dataclass
class ControlResult:
    """A control on one host: the combined status of its tests there."""

    control: str
    results: list[TestResult] = field(default_factory=list)

    @property
    def status(self) -> str:
        statuses = [r.status for r in self.results]
        # a test's evidence (a failure) outranks another test's "not applicable here"
        for status in ("error", "failed", "waived", "not-applicable", "passed"):
            if status in statuses:
                return status
        return "skipped"

    @property
    def message(self) -> str:
        status = self.status
        if status == "passed":
            return ""
        return next((r.message for r in self.results if r.status == status), "")


def os_release_platform(text: str) -> dict[str, str]:
    """InSpec's ``platform`` {name, release} from a host's ``/etc/os-release`` text: name is
    ``ID`` (``debian``, ``ubuntu``, ``rhel``), release ``VERSION_ID`` (``12``, ``22.04``),
    as InSpec's os detection names them; keys the file lacks are left out."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if not sep or key.startswith("#"):
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        fields[key.strip()] = value
    out = {}
    if fields.get("ID"):
        out["name"] = fields["ID"].lower()
    if fields.get("VERSION_ID"):
        out["release"] = fields["VERSION_ID"]
    return out
