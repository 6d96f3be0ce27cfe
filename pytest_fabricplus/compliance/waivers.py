"""Waivers: a YAML list of accepted failures, with a justification and an optional expiry.

```yaml
- control: CIS 5.2.10          # or  test: "test_ssh.py::test_root_*"  (a nodeid glob)
  hosts: "web*,!web3"          # optional; --hosts-limit patterns
  justification: legacy jump host, replaced in Q1
  expires: 2027-01-31          # optional; the waiver applies through that day
  run: false                   # optional; do not run the check at all, report it waived
```
Errors name ``FILE:line`` (PyYAML's node marks; lines from 1), host patterns included: a
glob whose ``[`` is never closed (``web[[``) or a bad ``~regex`` is an error at load.

A waiver's status, per host and overall, is decided here (:func:`host_word`,
:func:`overall_status`) and worded here (:func:`describe_status`) for every view:

* per host the waiver's host pattern selects: ``applied`` (it waived a failure or a
  ``run: false`` check), ``expired``, ``not-needed`` (every matching test ran there and
  passed), ``errored`` (waivers never cover errors), ``skipped``, ``shadowed`` (an earlier
  waiver decided), ``not-run`` (no matching test ran on that host in this run);
* overall: ``applied`` / ``expired`` where that happened anywhere, ``not-needed`` only when
  every host it selects is ``not-needed``, ``matched-no-control`` / ``matched-no-test`` when
  its control/test matched nothing in the run, ``matched-no-host`` when its ``hosts:``
  selects none of the run's hosts (a typo: ``db-1`` for ``db1``), else ``not-applied``.

Upstream behaviour worked around here:

* :func:`fnmatch.fnmatchcase` treats an unclosed ``[`` as a literal character, so
  ``web[[`` silently matches nothing: brackets are checked at load (:func:`check_pattern`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import yaml

from ..errors import ConfigError
from ..hosts.selection import apply_limit, split_patterns, terms
from ..hosts.spec import HostSpec
from ..text import NotUtf8, read_utf8

KEYS = ("control", "test", "hosts", "justification", "expires", "run")
#: YAML 1.1 booleans, as PyYAML reads them
_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


class WaiverError(ConfigError):
    """A waivers file that cannot be used (``FILE:line: what``)."""


@dataclass(frozen=True)
class Waiver:
    justification: str
    source: str  # "FILE:line"
    control: str | None = None
    test: str | None = None
    hosts: str | None = None
    expires: dt.date | None = None
    run: bool = True

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and today > self.expires

    def matches_test(self, control: str | None, nodeid: str, base: str) -> bool:
        if self.control is not None:
            return control == self.control
        assert self.test is not None
        return fnmatchcase(nodeid, self.test) or fnmatchcase(base, self.test)

    def matches_host(self, host: str, spec: HostSpec | None) -> bool:
        if self.hosts is None:
            return True
        patterns = split_patterns(self.hosts)
        if spec is not None:
            return bool(apply_limit([spec], patterns))
        include = [p for p in patterns if not p.startswith("!")]
        exclude = [p[1:] for p in patterns if p.startswith("!")]
        return (not include or any(fnmatchcase(host, p) for p in include)) and not any(
            fnmatchcase(host, p) for p in exclude
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "control": self.control,
            "test": self.test,
            "hosts": self.hosts,
            "justification": self.justification,
            "expires": self.expires.isoformat() if self.expires else None,
            "run": self.run,
            "source": self.source,
        }

    def describe(self) -> str:
        what = f"control {self.control}" if self.control is not None else f"test {self.test}"
        return what + (f" on {self.hosts}" if self.hosts else "")


@dataclass(frozen=True)
class Match:
    """The waiver that decides for one test on one host: valid, or expired (a failure stays)."""

    waiver: Waiver
    expired: bool


def find(
    waivers: Sequence[Waiver],
    control: str | None,
    nodeid: str,
    base: str,
    host: str,
    spec: HostSpec | None,
    today: dt.date,
) -> Match | None:
    """The first valid waiver for this test and host, else the first expired one, else None."""
    hits = [
        w for w in waivers if w.matches_test(control, nodeid, base) and w.matches_host(host, spec)
    ]
    for w in hits:
        if not w.expired(today):
            return Match(w, False)
    return Match(hits[0], True) if hits else None


#: per-host words, most telling first (a host's word is the first any of its tests gives)
HOST_WORDS = ("applied", "expired", "errored", "skipped", "shadowed", "not-run", "not-needed")
WAIVER_STATUSES = (
    "applied",
    "expired",
    "not-needed",
    "not-applied",
    "matched-no-host",
    "matched-no-control",
    "matched-no-test",
)
_HOST_TEXT = {
    "applied": "applied",
    "expired": "expired",
    "errored": "not applied, the control errored (waivers do not cover errors)",
    "skipped": "not applied, skipped",
    "shadowed": "not applied, an earlier waiver decided",
    "not-run": "did not run",
    "not-needed": "not needed, passed",
}


def host_word(outcome: str, chosen: bool, expired: bool) -> str:
    """This waiver's word for one test on one host: ``outcome`` is the test's
    (passed|failed|error|skipped|not-run|not-applicable), ``chosen`` whether this waiver is
    the one that decided for it, ``expired`` whether it had expired."""
    if chosen and expired:
        return "expired"
    if outcome == "error":
        return "errored"
    if outcome in ("passed", "not-applicable"):
        return "not-needed"
    if outcome == "skipped":
        return "skipped"
    return "applied" if chosen else "shadowed"  # failed / not-run (run: false)


def combine(words: Iterable[str]) -> str:
    """One host's word from its tests' words (``not-run`` for none)."""
    seen = set(words)
    return next((w for w in HOST_WORDS if w in seen), "not-run")


def overall_status(on_hosts: Mapping[str, str], matched_test: bool, kind: str) -> str:
    """The waiver's status from its per-host words; ``kind``: ``control`` or ``test``."""
    if not matched_test:
        return f"matched-no-{kind}"
    words = set(on_hosts.values())
    for word in ("applied", "expired"):
        if word in words:
            return word
    if not on_hosts:
        return "matched-no-host"
    return "not-needed" if words == {"not-needed"} else "not-applied"


def describe_status(row: Mapping[str, Any]) -> str:
    """The words every view shows for a waiver row (``status``, ``on_hosts``, ...)."""
    status = str(row.get("status"))
    if status == "matched-no-host":
        return f"{status}: hosts {row.get('hosts')!r} select none of this run's hosts"
    if status in ("matched-no-control", "matched-no-test"):
        what = row.get("control") or row.get("test")
        return f"{status}: {what!r} matches no {status.rsplit('-', 1)[1]} in this run"
    by_word: dict[str, list[str]] = {}
    for host, word in sorted((row.get("on_hosts") or {}).items()):
        by_word.setdefault(word, []).append(host)
    text = dict(_HOST_TEXT)
    if row.get("expires"):
        text["expired"] = f"expired ({row['expires']})"
    parts = [f"{text.get(w, w)} on {', '.join(by_word[w])}" for w in HOST_WORDS if w in by_word]
    return f"{status}: " + "; ".join(parts) if parts else status


def check_pattern(text: str) -> str | None:
    """What is wrong with a ``hosts:`` value (``None``: nothing)."""
    for term in terms([text]):
        body = term.lstrip("!&")
        if not body:
            return f"{term!r} is an empty pattern"
        if body.startswith("~"):
            try:
                re.compile(body[1:])
            except re.error as exc:
                return f"{term!r} is not a regular expression: {exc}"
            continue
        for prefix in ("tag:", "group:"):
            if body.startswith(prefix):
                body = body[len(prefix) :]
        i = 0
        while i < len(body):
            if body[i] == "[":
                # fnmatch: a set is "[" then at least one character (a leading "!" or "]"
                # belongs to it) then "]"
                j = i + 1
                if j < len(body) and body[j] == "!":
                    j += 1
                if j < len(body) and body[j] == "]":
                    j += 1
                close = body.find("]", j)
                if close < 0:
                    return (
                        f"{term!r}: the '[' at position {i + 1} is never closed "
                        "(write [[] for a literal '[')"
                    )
                i = close
            i += 1
    return None


def _where(path: str, node: yaml.Node) -> str:
    return f"{path}:{node.start_mark.line + 1}"


def _text(path: str, key: str, node: yaml.Node) -> str:
    import yaml

    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise WaiverError(f"{_where(path, node)}: {key} must be a non-empty text")
    return str(node.value).strip()


def parse(text: str, path: str) -> list[Waiver]:
    """Waivers from a file's text; ``path`` names it in errors."""
    import yaml  # on first use: every pytest process imports this module (the plugin)

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise WaiverError(f"{path}{line}: not valid YAML: {problem}") from None
    if root is None:
        return []
    if not isinstance(root, yaml.SequenceNode):
        raise WaiverError(f"{_where(path, root)}: a waivers file is a YAML list of entries")
    out: list[Waiver] = []
    for entry in root.value:
        where = _where(path, entry)
        if not isinstance(entry, yaml.MappingNode):
            raise WaiverError(f"{where}: a waiver is a mapping (control:/test:, justification:)")
        fields: dict[str, yaml.Node] = {}
        for key_node, value_node in entry.value:
            key = str(key_node.value)
            if key not in KEYS:
                raise WaiverError(
                    f"{_where(path, key_node)}: unknown key {key!r}; allowed: {', '.join(KEYS)}"
                )
            if key in fields:
                raise WaiverError(f"{_where(path, key_node)}: {key} given twice")
            fields[key] = value_node
        if ("control" in fields) == ("test" in fields):
            raise WaiverError(f"{where}: a waiver names exactly one of control: or test:")
        if "justification" not in fields:
            raise WaiverError(f"{where}: the waiver has no justification")
        values: dict[str, Any] = {
            k: _text(path, k, fields[k])
            for k in ("control", "test", "hosts", "justification")
            if k in fields
        }
        if "expires" in fields:
            node = fields["expires"]
            raw = str(node.value).strip() if isinstance(node, yaml.ScalarNode) else ""
            try:
                if len(raw) != 10:
                    raise ValueError
                values["expires"] = dt.date.fromisoformat(raw)
            except ValueError:
                raise WaiverError(
                    f"{_where(path, node)}: expires: {raw or node.tag!r} is not a date YYYY-MM-DD"
                ) from None
        if "run" in fields:
            node = fields["run"]
            raw = str(node.value).strip().lower() if isinstance(node, yaml.ScalarNode) else ""
            if raw not in _BOOLS:
                raise WaiverError(f"{_where(path, node)}: run: must be true or false")
            values["run"] = _BOOLS[raw]
        if "hosts" in values:
            problem = check_pattern(values["hosts"])
            if problem is not None:
                raise WaiverError(
                    f"{_where(path, fields['hosts'])}: hosts: {problem}; allowed: globs "
                    "(web*, db[12]), ~regex, tag:NAME, group:NAME, joined by , or : (!, &)"
                )
        out.append(Waiver(source=where, **values))
    return out


def load(path: str) -> list[Waiver]:
    try:
        text = read_utf8(path)
    except NotUtf8 as exc:
        raise WaiverError(f"{path}:{exc.line}: {exc}") from None
    except OSError as exc:
        raise WaiverError(f"{path}: cannot read the waivers file: {exc.strerror}") from None
    return parse(text, path)
