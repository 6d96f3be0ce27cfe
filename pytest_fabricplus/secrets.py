"""The one secrets policy: which variable holds which password, the values read, redaction.

Passwords are given by reference: options, ini keys, inventory variables and markers name an
*environment variable*; no value is ever written in a file this project reads. Every value
the run reads -- login, sudo and su passwords from options, ini, environment, inventory,
``@pytest.mark.su_user(password_env=...)``, ``run_as(...)``, ``connection.su(password=...)``
and the container targets' generated passwords -- is added to the process's
:class:`SecretStore`, and everything the plugin prints or writes (terminal, captured output,
log records, JUnit XML, JSON reports, exception text) passes through its :meth:`redact`.

No paramiko, no pytest: the xdist controller uses this without loading the SSH stack.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

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


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``********``.

    Longest first: a secret that contains a shorter one must not be left half shown.
    """
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, MASK)
    return text


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
        self._lock = threading.Lock()

    def add(self, *values: str | None) -> None:
        new = {v for v in values if v} - self._values
        if new:
            with self._lock:
                self._values |= new
                self._ordered = tuple(sorted(self._values, key=len, reverse=True))

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
        secrets = self._ordered
        if not secrets or not text:
            return text
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def __repr__(self) -> str:
        return f"<SecretStore {len(self._ordered)} values>"


def variables_named(settings: Settings, specs: Iterable[HostSpec]) -> set[str]:
    """Every password variable the settings and these hosts name."""
    names: set[str] = set()
    for spec in [None, *specs]:
        for kind in KINDS:
            name, _ = password_variable(kind, spec, settings)
            if name:
                names.add(name)
    return names


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
