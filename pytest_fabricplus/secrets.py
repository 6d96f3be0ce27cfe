"""The one secrets policy: which variable holds which password, the values read, redaction.

Passwords are given by reference: options, ini keys, inventory variables and markers name an
*environment variable*; no value is ever written in a file this project reads. Every value
the run reads -- login, sudo and su passwords from options, ini, environment, inventory,
``@pytest.mark.su_user(password_env=...)``, ``run_as(...)``, ``connection.su(password=...)``
and the container targets' generated passwords -- is added to the process's
:class:`SecretStore`, and everything the plugin prints or writes (terminal, captured output,
log records, JUnit XML, JSON reports, exception text) passes through its :meth:`redact`.

Redaction is by value, in every form a value takes in text (:func:`encodings`): as is,
escaped as Python's ``repr``/``str``/``ascii`` and ``shlex.quote`` show it (also twice:
pytest's assertion text shows ``repr`` of a ``repr``), JSON-escaped (ASCII or not),
percent-encoded (URL path and form), and base64 (standard and URL-safe, whole or inside
a longer base64 text such as an HTTP Basic ``user:password`` header).
One compiled pattern per store, longest first.

No paramiko, no pytest: the xdist controller uses this without loading the SSH stack.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .hosts.spec import HostSpec
    from .settings import Settings

MASK = "********"
#: the passwords a run can need, in the words used in messages
KINDS = {"login": "login password", "su": "su password", "sudo": "sudo password"}


class Secret(str):
    """A string that never shows its value in ``repr`` (tracebacks, ``--showlocals``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"'{MASK}'"


#: base64 fragments shorter than this (of a value inside a longer base64 text) are not
#: masked: a few characters match too much unrelated text
_MIN_B64_FRAGMENT = 8


def _escapes(value: str) -> set[str]:
    """``value`` as one level of string escaping shows it (inside the quotes)."""
    forms = {value}
    for quoted in (repr(value), ascii(value)):
        inner = quoted[1:-1]
        # repr() picks the quote by content: the form in the other quotes too
        if quoted[0] == '"':
            forms |= {inner, inner.replace("'", "\\'")}
        else:
            forms |= {inner, inner.replace("\\'", "'")}
    forms.add(value.encode("unicode_escape").decode("ascii"))
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    return forms


def _base64_forms(value: str) -> set[str]:
    data = value.encode("utf-8")
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(data).decode("ascii")
        forms |= {whole, whole.rstrip("=")}
        # inside a longer base64 text the value starts at any byte offset modulo 3:
        # the characters that depend on the value's bytes alone
        for offset in (1, 2):
            text = encode(b"\0" * offset + data).decode("ascii")
            start = -(-8 * offset // 6)
            fragment = text[start : (8 * offset + 8 * len(data)) // 6]
            if len(fragment) >= _MIN_B64_FRAGMENT:
                forms.add(fragment)
        if len(whole.rstrip("=")) > _MIN_B64_FRAGMENT:
            forms.add(whole[: (8 * len(data)) // 6])  # followed by more bytes
    return forms


def encodings(secret: str) -> set[str]:
    """Every text form of ``secret`` that redaction masks (the value itself included)."""
    if not secret:
        return set()
    forms: set[str] = set()
    for once in _escapes(secret):
        forms |= _escapes(once)  # repr of a repr: pytest's ``where '...' = repr(...)``
    for quote in (urllib.parse.quote, urllib.parse.quote_plus):
        forms.add(quote(secret, safe=""))
        forms.add(quote(secret, safe="/"))
    forms.add(urllib.parse.quote(secret, safe="/:@!$&'()*+,;="))  # as in a URL's userinfo
    forms |= {_lower_percent(f) for f in forms if "%" in f}
    forms.add(secret.replace("'", "'\"'\"'"))  # inside shlex.quote()'s quotes
    forms |= _base64_forms(secret)
    return {f for f in forms if f}


def _lower_percent(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def _pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern matching every form of every secret, longest first (a form that
    contains a shorter one must not be left half shown)."""
    forms: set[str] = set()
    for secret in secrets:
        forms |= encodings(secret)
    if not forms:
        return None
    return re.compile("|".join(map(re.escape, sorted(forms, key=lambda f: (-len(f), f)))))


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret, in every encoding :func:`encodings` lists, replaced by
    ``********``."""
    pattern = _pattern(secrets)
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def password_variable(
    kind: str, spec: HostSpec | None, settings: Settings, override: str | None = None
) -> tuple[str | None, bool]:
    """The environment variable that holds ``kind``'s password for ``spec``, and whether the
    host's own inventory entry named it. The one place this is decided.

    Precedence: ``override`` (a marker's or ``run_as(...)``'s ``password_env``) > the host's
    inventory variable > the command line / ini / ``FABRICPLUS_*`` option. The sudo password
    falls back to the login password (sudo asks for the login user's own password).
    """
    host_vars: Mapping[str, str] = spec.vars if spec is not None else {}
    if kind == "login":
        own = spec.password_env if spec is not None else None
        return own or settings.ssh_password_env, bool(own)
    if kind == "su":
        own = host_vars.get("su_password_env")
        return override or own or settings.su_password_env, bool(own) and not override
    if kind == "sudo":
        own = host_vars.get("sudo_password_env")
        if own or settings.sudo_password_env:
            return own or settings.sudo_password_env, bool(own)
        return password_variable("login", spec, settings)
    raise ValueError(f"unknown password kind {kind!r}")


def check_password_variables(
    settings: Settings, env: Mapping[str, str], specs: Iterable[HostSpec]
) -> None:
    """Fail before any connection when a named password variable is not set."""
    for spec in specs:
        for kind in ("login", "su", "sudo"):
            name, own = password_variable(kind, spec, settings)
            if name and name not in env:
                where = f" (named by {spec.source})" if spec.source and own else ""
                raise ConfigError(
                    f"environment variable {name}{where} holds the {KINDS[kind]} for "
                    f"{spec.name} but is not set"
                )


class SecretStore:
    """The secret values one process has read (thread-safe); redacts them from text.

    Owned by the run (``RunState``) and handed to the ``Connector``: no module-level state.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env: Mapping[str, str] = dict(env or {})
        self._values: set[str] = set()
        self._ordered: tuple[str, ...] = ()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, *values: str | None) -> None:
        new = {v for v in values if v} - self._values
        if new:
            with self._lock:
                self._values |= new
                self._ordered = tuple(sorted(self._values, key=len, reverse=True))
                self._pattern = _pattern(self._ordered)

    def values(self) -> tuple[str, ...]:
        """Longest first."""
        return self._ordered

    def __bool__(self) -> bool:
        return bool(self._ordered)

    def read(self, variable: str | None, what: str) -> Secret | None:
        """The value of environment variable ``variable`` (remembered for redaction)."""
        if not variable:
            return None
        if variable not in self.env:
            raise ConfigError(f"environment variable {variable} ({what}) is not set")
        value = Secret(self.env[variable])
        self.add(value)
        return value

    def add_variables(self, names: Iterable[str | None]) -> None:
        """Remember the values of these variables, where set (nothing is raised)."""
        self.add(*(self.env.get(n) for n in names if n))

    def redact(self, text: str) -> str:
        """``text`` without any of the store's values, in any encoding (:func:`encodings`)."""
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def redact_data(self, data: Any) -> Any:
        """A copy of JSON-like ``data`` with every string redacted (:func:`redact_data`)."""
        return redact_data(data, self.redact)

    def __repr__(self) -> str:
        return f"<SecretStore {len(self._ordered)} values>"


def redact_data(data: Any, redact: Callable[[str], str]) -> Any:
    """A copy of JSON-like ``data`` (dicts, lists, strings) with every string redacted, keys
    included: a document is redacted value by value, never as its JSON text (a mask must not
    cut through the syntax)."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {redact_data(k, redact): redact_data(v, redact) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact_data(v, redact) for v in data]
    return data


def variables_named(settings: Settings, specs: Iterable[HostSpec]) -> set[str]:
    """Every password variable the settings and these hosts name."""
    names: set[str] = set()
    for spec in [None, *specs]:
        for kind in KINDS:
            name, _ = password_variable(kind, spec, settings)
            if name:
                names.add(name)
    return names


#: ``password_env="NAME"`` as test code writes it (``su_user`` markers, ``run_as(...)``)
_PASSWORD_ENV_ARG = re.compile(
    r"""\bpassword_env\s*=\s*(?:[rRuU])?(['"])([A-Za-z_][A-Za-z0-9_]*)\1"""
)


def password_env_arguments(source: str) -> set[str]:
    """The variables a Python source names as ``password_env="NAME"`` (literal strings only):
    what the xdist controller forwards for markers and ``run_as`` it never collects."""
    return {m.group(2) for m in _PASSWORD_ENV_ARG.finditer(source)}


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the store's secrets from each record's message."""

    def __init__(self, store: SecretStore) -> None:
        super().__init__("fabricplus-redact")
        self.store = store

    def filter(self, record: logging.LogRecord) -> bool:
        if self.store:
            message = record.getMessage()
            redacted = self.store.redact(message)
            if redacted != message or record.args:
                record.msg, record.args = redacted, None
            if record.exc_info and not record.exc_text:
                record.exc_text = self.store.redact(
                    logging.Formatter().formatException(record.exc_info)
                )
        return True
