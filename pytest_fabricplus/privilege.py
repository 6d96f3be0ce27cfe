"""Running commands as another user: ``Su``, ``Sudo`` and ``Auto`` strategies.

Usable without pytest::

    runner = PrivilegeRunner()
    result = runner.run(conn, RunAs("postgres", password="..."), "psql -c 'select 1'")

Upstream behaviour worked around here (one place each):

* fabricplus 1.0.1 ``ConnectionPlus.su`` builds ``su - USER -c "CMD"`` escaping only double
  quotes, so ``$HOME``, ``$(...)`` and backticks are expanded by the *login* user's shell; its
  output starts with the ``Password:`` prompt and every line ends in CRLF (the pty); a wrong
  password ends as a generic ``UnexpectedExit`` after ~2.4 s because its failure sentinel is
  sudo's "Sorry, try again.". We quote the command with ``shlex.quote`` (the target user's
  shell expands it), turn off the pty's NL->CRNL translation, cut su's chatter at a marker the
  command prints first, and classify su's own failure messages.
* invoke's ``sudo`` passes the command unquoted after ``sudo -u USER`` (the login shell expands
  it) and runs it in the login user's directory: we run ``sudo -u USER -- sh -c ...`` with a
  login shell of the target user, like ``su -``.
"""

from __future__ import annotations

import re
import secrets
import shlex
import sys
import threading
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fabric.runners import Result
from invoke.exceptions import Failure, ResponseNotAccepted, UnexpectedExit
from invoke.watchers import FailingResponder, Responder

from .errors import CommandTimeout, PrivilegeError

METHODS = ("auto", "su", "sudo")
#: how long the one-time ``auto`` probe of a (host, user) may take
PROBE_TIMEOUT = 15.0


@dataclass(frozen=True)
class RunAs:
    """Whom to run as, how, and with which secrets (held here, never shown)."""

    user: str
    method: str = "auto"
    su_password: str | None = field(default=None, repr=False)
    sudo_password: str | None = field(default=None, repr=False)
    login: bool = True

    def __post_init__(self) -> None:
        if not self.user or not re.match(r"^[A-Za-z0-9_.][A-Za-z0-9_.\-$]*$", self.user):
            raise ValueError(f"invalid user name {self.user!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")

    def secrets(self) -> list[str]:
        return [s for s in (self.su_password, self.sudo_password) if s]


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


class _Once(Responder):
    """Answer su's prompt once, and never once the command runs (its own output)."""

    def __init__(self, pattern: str, response: str, marker: str) -> None:
        super().__init__(pattern, response)
        self.answered = False
        self.marker = marker

    def submit(self, stream: str) -> Generator[str, None, None]:
        if self.answered or self.marker in stream:
            return
        for response in super().submit(stream):
            self.answered = True
            yield response


def _marker() -> str:
    return f"__fabricplus_{secrets.token_hex(6)}__"


def _tail(text: str, limit: int = 300) -> str:
    text = " ".join(text.strip().split())
    return text if len(text) <= limit else "..." + text[-limit:]


@dataclass
class _Outcome:
    result: Any
    started: bool  # whether the user's command ran (the marker was seen)


def _run_marked(
    conn: Any,
    wrapped: str,
    user_command: str,
    marker: str,
    watchers: list[Any],
    kwargs: dict[str, Any],
    pty: bool,
    prompt: str = "",
) -> _Outcome:
    opts = dict(kwargs)
    opts.update(hide=True, warn=True, pty=pty, watchers=[*opts.pop("watchers", []), *watchers])
    opts.pop("echo", None)
    try:
        result = conn.run_plain(wrapped, **opts)
    except CommandTimeout as exc:
        raise CommandTimeout(exc.host, user_command, exc.timeout) from None
    out = result.stdout.replace("\r\n", "\n")
    started = f"{marker}\n" in out
    result.stdout = out.split(f"{marker}\n", 1)[1] if started else out
    if prompt:
        result.stderr = result.stderr.replace(prompt, "", 1)  # sudo -S prompts on stderr
    return _Outcome(result, started)


def _finish(conn: Any, outcome: _Outcome, command: str, kwargs: dict[str, Any], pty: bool) -> Any:
    raw = outcome.result
    result = Result(
        stdout=raw.stdout,
        stderr=raw.stderr,
        encoding=raw.encoding,
        command=command,
        shell=raw.shell,
        env=raw.env,
        exited=raw.exited,
        pty=pty,
        hide=raw.hide,
        connection=conn,
    )
    hide = kwargs.get("hide")
    if hide not in (True, "both", "out", "stdout") and result.stdout:
        sys.stdout.write(result.stdout)
    if hide not in (True, "both", "err", "stderr") and result.stderr:
        sys.stderr.write(result.stderr)
    if result.exited != 0 and not kwargs.get("warn"):
        raise UnexpectedExit(result)
    return result


class Su:
    """``su - USER -c CMD`` through a pty, answering su's password prompt."""

    name = "su"

    def command(self, run_as: RunAs, command: str, marker: str) -> str:
        inner = f"printf '%s\\n' {marker}; {command}"
        dash = "- " if run_as.login else ""
        # stty: no NL->CRNL on the pty, so output keeps the command's own line endings.
        # LC_ALL=C: su's prompt and messages in English, whatever the host's locale.
        return (
            f"stty -onlcr 2>/dev/null; LC_ALL=C su {dash}{shlex.quote(run_as.user)} "
            f"-c {shlex.quote(inner)}"
        )

    def run(self, conn: Any, run_as: RunAs, command: str, **kwargs: Any) -> Any:
        host = conn.spec.describe()
        if run_as.su_password is None:
            raise PrivilegeError(
                f"su as {run_as.user} on {host} needs the user's password: set "
                "--su-password-env, su_password_env in the inventory, or "
                "su_user(..., password_env=...)"
            )
        marker = _marker()
        watcher = _Once(r"[Pp]assword: ?", run_as.su_password + "\n", marker)
        wrapped = self.command(run_as, command, marker)
        outcome = _run_marked(conn, wrapped, command, marker, [watcher], kwargs, pty=True)
        if not outcome.started:
            raise PrivilegeError(self.why(run_as, host, outcome.result, watcher.answered))
        return _finish(conn, outcome, command, kwargs, pty=True)

    def why(self, run_as: RunAs, host: str, result: Any, answered: bool) -> str:
        text = redact(result.stdout, run_as.secrets())
        text = re.sub(r"^\s*[Pp]assword: ?", "", text)
        user = run_as.user
        if "does not exist" in text or "Unknown id" in text or "unknown user" in text:
            return f"su: user {user} does not exist on {host}"
        if "Authentication failure" in text or "incorrect password" in text:
            return f"su authentication failed for {user} on {host} ({_tail(text)})"
        if not answered:
            return (
                f"su as {user} on {host} did not ask for a password ({_tail(text) or 'no output'})"
            )
        shown = _tail(text) or "no output"
        return f"su as {user} on {host} failed before running the command: {shown}"


class Sudo:
    """``sudo -u USER`` running the command in a login shell of USER (like ``su -``)."""

    name = "sudo"

    def __init__(self) -> None:
        self.requiretty: set[str] = set()  # hosts whose sudoers say "Defaults requiretty"

    def command(self, run_as: RunAs, command: str, marker: str, prompt: str) -> str:
        auth = f"-S -p {shlex.quote(prompt)}" if run_as.sudo_password else "-n"
        inner = f"printf '%s\\n' {marker}; {command}"
        if run_as.login:
            # sudo sets SHELL and (with -H) HOME to the target's: cd there, run its login shell
            launcher = 'cd "$HOME" 2>/dev/null; exec "${SHELL:-/bin/sh}" -l -c "$1"'
            tail = f"sh -c {shlex.quote(launcher)} sh {shlex.quote(inner)}"
        else:
            tail = f"sh -c {shlex.quote(inner)}"
        return f"LC_ALL=C sudo {auth} -H -u {shlex.quote(run_as.user)} -- {tail}"

    def run(self, conn: Any, run_as: RunAs, command: str, **kwargs: Any) -> Any:
        host = conn.spec.describe()
        marker = _marker()
        prompt = f"[fabricplus:{secrets.token_hex(4)}] sudo password: "
        wrapped = self.command(run_as, command, marker, prompt)
        pty = bool(kwargs.pop("pty", False)) or host in self.requiretty
        for _attempt in range(2):
            watchers: list[Any] = []
            if run_as.sudo_password:
                watchers.append(
                    FailingResponder(
                        re.escape(prompt), run_as.sudo_password + "\n", "Sorry, try again."
                    )
                )
            prefix = "stty -onlcr 2>/dev/null; " if pty else ""
            try:
                outcome = _run_marked(
                    conn, prefix + wrapped, command, marker, watchers, kwargs, pty, prompt
                )
            except Failure as failure:
                if isinstance(failure.reason, ResponseNotAccepted):
                    raise PrivilegeError(
                        f"sudo authentication failed for {conn.user} (to run as {run_as.user}) "
                        f"on {host}: wrong sudo password"
                    ) from None
                raise
            if outcome.started:
                return _finish(conn, outcome, command, kwargs, pty=pty)
            text = redact(outcome.result.stdout + outcome.result.stderr, run_as.secrets())
            if "must have a tty" in text and not pty:
                self.requiretty.add(host)  # sudoers "Defaults requiretty": retry with a pty
                pty = True
                continue
            raise PrivilegeError(self.why(conn, run_as, host, text))
        raise PrivilegeError(f"sudo as {run_as.user} on {host} failed")  # pragma: no cover

    def why(self, conn: Any, run_as: RunAs, host: str, text: str) -> str:
        user = run_as.user
        if "unknown user" in text or "does not exist" in text:
            return f"sudo: user {user} does not exist on {host}"
        if "password is required" in text:
            return (
                f"sudo as {user} on {host} asks {conn.user} for a password and none is set "
                "(--sudo-password-env or sudo_password_env in the inventory)"
            )
        if "incorrect password" in text or "Sorry, try again" in text:
            return f"sudo authentication failed for {conn.user} (to run as {user}) on {host}"
        if "not allowed" in text or "not in the sudoers" in text or "may not run" in text:
            return f"sudo: {conn.user} may not run commands as {user} on {host} ({_tail(text)})"
        if "command not found" in text or "sudo: not found" in text:
            return f"sudo is not installed on {host}"
        return f"sudo as {user} on {host} failed before running the command: {_tail(text)}"


@dataclass
class Choice:
    """What ``auto`` decided for one (host, user), and why."""

    method: str
    reasons: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        why = "; ".join(f"{m}: {r}" for m, r in self.reasons.items())
        return f"{self.method}" + (f" ({why})" if why else "")


class PrivilegeRunner:
    """Runs commands as another user; remembers ``auto``'s choice per (host, user).

    One per process (the connection registry owns it); thread-safe.
    """

    def __init__(self) -> None:
        self.strategies: Mapping[str, Su | Sudo] = {"su": Su(), "sudo": Sudo()}
        self.choices: dict[tuple[str, str], Choice] = {}
        self.probes = 0
        self._lock = threading.Lock()
        self._host_locks: dict[tuple[str, str], threading.Lock] = {}

    def method_for(self, conn: Any, run_as: RunAs) -> str:
        if run_as.method != "auto":
            return run_as.method
        key = (conn.spec.id or conn.spec.name, run_as.user)
        with self._lock:
            lock = self._host_locks.setdefault(key, threading.Lock())
        with lock:
            choice = self.choices.get(key)
            if choice is None:
                choice = self._probe(conn, run_as)
                self.choices[key] = choice
        if choice.method == "none":
            raise PrivilegeError(
                f"cannot run commands as {run_as.user} on {conn.spec.describe()}: "
                + "; ".join(f"{m}: {r}" for m, r in choice.reasons.items())
            )
        return choice.method

    def _probe(self, conn: Any, run_as: RunAs) -> Choice:
        reasons: dict[str, str] = {}
        for name in ("su", "sudo"):
            self.probes += 1
            try:
                result = self.strategies[name].run(
                    conn, run_as, "id -un", hide=True, warn=True, timeout=PROBE_TIMEOUT
                )
            except (PrivilegeError, CommandTimeout) as exc:
                reasons[name] = redact(str(exc), run_as.secrets())
                continue
            if result.exited == 0 and result.stdout.strip() == run_as.user:
                return Choice(name, reasons)
            reasons[name] = f"probe printed {_tail(result.stdout)!r}, exit {result.exited}"
        return Choice("none", reasons)

    def describe(self, spec: Any, user: str) -> str:
        """``user via su`` (and why not the other method), for reports."""
        choice = self.choices.get((spec.id or spec.name, user))
        return f"{user} via {choice.describe()}" if choice else f"{user} (method given)"

    def run(self, conn: Any, run_as: RunAs, command: str, **kwargs: Any) -> Any:
        method = self.method_for(conn, run_as)
        try:
            return self.strategies[method].run(conn, run_as, command, **kwargs)
        except PrivilegeError as exc:
            raise PrivilegeError(redact(str(exc), run_as.secrets())) from None


MARKER_KEYWORDS = ("method", "password_env", "login")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class SuUserRequest:
    """The arguments of ``@pytest.mark.su_user(...)``, validated."""

    user: str
    method: str | None = None
    password_env: str | None = None
    login: bool = True

    @classmethod
    def parse(cls, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> SuUserRequest:
        """Validate marker arguments; ``ValueError`` says what is wrong."""
        unknown = sorted(set(kwargs) - set(MARKER_KEYWORDS))
        if unknown:
            raise ValueError(
                f"unknown keyword(s) {', '.join(unknown)}; allowed: {', '.join(MARKER_KEYWORDS)}"
            )
        if len(args) != 1 or not isinstance(args[0], str) or not args[0].strip():
            raise ValueError(f"takes one non-empty user name, got {args!r}")
        method = kwargs.get("method")
        if method is not None and method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        password_env = kwargs.get("password_env")
        if password_env is not None and (
            not isinstance(password_env, str) or not _ENV_NAME.match(password_env)
        ):
            raise ValueError(
                f"password_env must name an environment variable, got {password_env!r}"
            )
        login = kwargs.get("login", True)
        if not isinstance(login, bool):
            raise ValueError(f"login must be True or False, got {login!r}")
        RunAs(args[0].strip())  # validates the user name
        return cls(args[0].strip(), method, password_env, login)
