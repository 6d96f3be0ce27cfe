"""Choosing hosts: ``--hosts-limit`` patterns and ``@pytest.mark.hosts`` arguments."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

from .spec import HostSpec


def _names(spec: HostSpec) -> list[str]:
    names = [spec.id, spec.host, str(spec.address), *sorted(spec.groups)]
    if spec.alias:
        names.append(spec.alias)
    return [n for n in names if n]


def matches(spec: HostSpec, pattern: str) -> bool:
    """Whether ``pattern`` (a glob) names this host, one of its groups, or ``tag:T``/``group:G``."""
    if pattern.startswith("tag:"):
        return any(fnmatchcase(t, pattern[4:]) for t in spec.tags)
    if pattern.startswith("group:"):
        return any(fnmatchcase(g, pattern[6:]) for g in spec.groups)
    return any(fnmatchcase(n, pattern) for n in _names(spec))


def split_patterns(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def apply_limit(specs: Sequence[HostSpec], patterns: Iterable[str]) -> list[HostSpec]:
    """Keep hosts matching any positive pattern (all, if none) and no ``!negative`` one."""
    pats = list(patterns)
    include = [p for p in pats if not p.startswith("!")]
    exclude = [p[1:] for p in pats if p.startswith("!")]
    return [
        s
        for s in specs
        if (not include or any(matches(s, p) for p in include))
        and not any(matches(s, p) for p in exclude)
    ]


def unmatched(specs: Sequence[HostSpec], patterns: Iterable[str]) -> list[str]:
    """Patterns that name no host at all (typos, unknown groups or tags)."""
    return [p for p in patterns if not any(matches(s, p.lstrip("!")) for s in specs)]


def describe_choices(specs: Sequence[HostSpec]) -> str:
    groups = sorted({g for s in specs for g in s.groups})
    tags = sorted({t for s in specs for t in s.tags})
    parts = [f"hosts: {', '.join(s.id for s in specs[:10])}{' ...' if len(specs) > 10 else ''}"]
    if groups:
        parts.append(f"groups: {', '.join(groups)}")
    if tags:
        parts.append(f"tags: {', '.join('tag:' + t for t in tags)}")
    return "; ".join(parts)
