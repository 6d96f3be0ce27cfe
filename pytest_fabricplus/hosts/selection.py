"""Choosing hosts: ``--hosts-limit`` patterns and ``@pytest.mark.hosts`` arguments.

Ansible's host patterns, as ``ansible -l`` reads them, plus our own spellings:

- ``all`` / ``*``: every host; ``ungrouped``: hosts in no group
- a glob on id, alias, host, ``user@host:port`` or a group name (``web*``, ``10.0.0.*``)
- ``~REGEX``: a regular expression matched (from the start) against the same names
- ``tag:NAME`` / ``group:NAME``: our tags and groups (globs allowed)
- ``a,b`` and ``a:b``: union; ``a:&b``: intersection; ``a:!b`` (or ``!b``): exclusion.
  As in Ansible, unions are taken first, then intersections, then exclusions; no union
  means ``all``.

Our host ids may contain ``:`` (``127.0.0.1:2222``, ``user@host:22``, ``[::1]:22``), so a
``:`` splits only where it does not start a port number, is not inside brackets, does not
follow ``tag``/``group``, and the text is not the exact name of a host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

from .spec import HostSpec

_PREFIXES = ("tag", "group")


def _names(spec: HostSpec) -> list[str]:
    names = [spec.id, spec.host, str(spec.address), *sorted(spec.groups)]
    if spec.alias:
        names.append(spec.alias)
    return [n for n in names if n]


def _regex(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def matches(spec: HostSpec, pattern: str) -> bool:
    """Whether one term (no ``,``/``:`` operators) names this host.

    A glob, ``~regex``, ``all``, ``ungrouped``, ``tag:T`` or ``group:G``.
    """
    if pattern == "all":
        return True
    if pattern == "ungrouped" and "ungrouped" not in spec.groups:
        return not spec.groups
    if pattern.startswith("tag:"):
        return any(fnmatchcase(t, pattern[4:]) for t in spec.tags)
    if pattern.startswith("group:"):
        return any(fnmatchcase(g, pattern[6:]) for g in spec.groups)
    if pattern.startswith("~"):
        regex = _regex(pattern[1:])
        return regex is not None and any(regex.match(n) for n in _names(spec))
    return any(fnmatchcase(n, pattern) for n in _names(spec))


def split_patterns(text: str) -> list[str]:
    """A ``--hosts-limit`` value split at commas (``:`` is split by :func:`terms`)."""
    return [p.strip() for p in text.split(",") if p.strip()]


def _split_colons(text: str, known: set[str]) -> list[str]:
    """``web:&prod:!web2`` -> ``web``, ``&prod``, ``!web2``; ``10.0.0.1:2222`` stays whole."""
    if text.lstrip("!&") in known or text.startswith("~"):
        return [text]
    pieces: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        if char == ":" and depth == 0:
            pieces.append(current)
            current = ""
            continue
        current += char
    pieces.append(current)
    result: list[str] = []
    for piece in pieces:
        previous = result[-1] if result else None
        if previous is not None and not previous.startswith("~"):
            bare = previous.lstrip("!&")
            joined = f"{previous}:{piece}"
            if (
                piece.isdigit()  # a port: 10.0.0.1:2222, user@host:22
                or bare in _PREFIXES  # tag:NAME, group:NAME
                or joined.lstrip("!&") in known  # the exact name of a host
            ):
                result[-1] = joined
                continue
        result.append(piece)
    return [p for p in result if p]


def terms(patterns: Iterable[str], specs: Sequence[HostSpec] = ()) -> list[str]:
    """Every term of these patterns: ``web``, ``&prod``, ``!web2``, ``tag:pg``, ``~re``."""
    known = {n for s in specs for n in (s.id, str(s.address), s.alias or "") if ":" in n}
    out: list[str] = []
    for pattern in patterns:
        for item in split_patterns(pattern):
            out.extend(_split_colons(item, known))
    return out


def apply_limit(specs: Sequence[HostSpec], patterns: Iterable[str]) -> list[HostSpec]:
    """The hosts these patterns select, in ``specs`` order (Ansible's pattern semantics)."""
    parts = terms(patterns, specs)
    union = [p for p in parts if not p.startswith(("!", "&"))]
    intersect = [p[1:] for p in parts if p.startswith("&")]
    exclude = [p[1:] for p in parts if p.startswith("!")]
    return [
        s
        for s in specs
        if (not union or any(matches(s, p) for p in union))
        and all(matches(s, p) for p in intersect)
        and not any(matches(s, p) for p in exclude)
    ]


def unmatched(specs: Sequence[HostSpec], patterns: Iterable[str]) -> list[str]:
    """Terms that name no host at all (typos, unknown groups or tags, bad regexes)."""
    bad: list[str] = []
    for term in terms(patterns, specs):
        body = term.lstrip("!&")
        if body.startswith("~") and _regex(body[1:]) is None:
            try:
                re.compile(body[1:])
            except re.error as exc:
                bad.append(f"{term} (not a regular expression: {exc})")
            continue
        if not any(matches(s, body) for s in specs):
            bad.append(term)
    return bad


def describe_choices(specs: Sequence[HostSpec]) -> str:
    groups = sorted({g for s in specs for g in s.groups})
    tags = sorted({t for s in specs for t in s.tags})
    parts = [f"hosts: {', '.join(s.id for s in specs[:10])}{' ...' if len(specs) > 10 else ''}"]
    if groups:
        parts.append(f"groups: {', '.join(groups)}")
    if tags:
        parts.append(f"tags: {', '.join('tag:' + t for t in tags)}")
    return "; ".join(parts)
