"""Running commands as another user: ``Su``, ``Sudo`` and ``Auto`` strategies.

Usable without pytest::

    runner = PrivilegeRunner()
    result = runner.run(conn, RunAs("postgres", su_password="..."), "psql -c 'select 1'")

Upstream behaviour worked around here (one place each):

* fabricplus 1.0.1 ``ConnectionPlus.su`` builds ``su - USER -c "CMD"`` with an f-string and
  then calls ``.format()`` on the result, so its double-quote escaping is never applied and a
  ``{...}`` in CMD raises ``KeyError``/``IndexError``; ``$HOME``, ``$(...)`` and backticks are
  expanded by the *login* user's shell; its output starts with the ``Password:`` prompt and
  every line ends in CRLF (the pty); a wrong password ends as a generic ``UnexpectedExit``
  after ~3 s because its failure sentinel is sudo's "Sorry, try again.". We quote the command
  with ``shlex.quote`` (the target user's shell expands it), turn off the pty's NL->CRNL
  translation, cut su's chatter at a marker the command prints first, and classify su's own
  failure messages (:meth:`Su.why`).
* invoke's ``sudo`` passes the command unquoted after ``sudo -u USER`` (the login shell expands
  it) and runs it in the login user's directory: we run ``sudo -u USER -- sh -c ...`` with a
  login shell of the target user, like ``su -``. sudo's lecture and prompt on stderr are
  dropped (:func:`_run_marked`).
* invoke/Fabric apply ``cd()``, ``prefix()`` and ``env`` in the login user's shell, where
  ``su -``/sudo discard them: :func:`in_target_shell` applies them in the target's.
* su and sudo run the command where the SSH session's SIGKILL on a timeout cannot reach it:
  a watchdog in the target's shell ends it (:data:`_WATCHDOG`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
import shlex
import sys
import threading
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from fabric.runners import Result
from invoke.exceptions import Failure, ResponseNotAccepted, UnexpectedExit
from invoke.watchers import FailingResponder, Responder

from ..errors import CommandTimeout, ConnectionLost, PrivilegeError
from ..runas import RunAs
from ..secrets import redact
from ..text import ENV_NAME, one_line
from .channel import prefix_commands

#: how long the one-time ``auto`` probe of a (host, user) may take
PROBE_TIMEOUT = 15.0


class SwitchingConnection(Protocol):
    """What the strategies need of a connection (``FabricPlusConnection``, or a stand-in that
    runs commands locally, as the unit tests use)."""

    user: str
    command_cwds: list[str]
    command_prefixes: list[str]

    @property
    def spec(self) -> Any: ...

    def run_plain(self, command: str, **kwargs: Any) -> Any: ...


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


# Upstream behaviour (util-linux su, sudo, OpenSSH): ``su -c`` runs the command in a new
# session (setsid, see containers/README.md) and sudo in a process group of its own, both as
# the target user. When a command times out, FastRemote's SIGKILL to the SSH session's
# process group and the pty hangup end su/sudo but not the command: it was left running,
# reparented to init, and the login user may not signal it. So the target user's shell starts
# a watchdog first: once the shell's parent (su/sudo) is gone -- its parent pid in
# /proc/$$/stat is no longer $PPID, which POSIX keeps unchanged in subshells -- it kills the
# command's process group. Only the shell's own /proc entry is read: with /proc mounted
# hidepid=2 the target user cannot see su's. An EXIT trap ends the watchdog with the command.
# Needs /proc (Linux); without it the command runs as before, unguarded.
_WATCHDOG = (
    "if [ -r /proc/$$/stat ]; then ( "
    'while read -r s </proc/$$/stat && s=${s##*")"} && set -- $s && [ "$2" = "$PPID" ]; '
    "do sleep 1; done; kill -KILL 0 ) </dev/null >/dev/null 2>&1 & "
    'trap "kill $! 2>/dev/null" EXIT; fi'
)


def inner_command(command: str, marker: str, eof: bool = True) -> str:
    """What the target user's shell runs: the marker line, the watchdog, then ``command``;
    with ``eof``, stdin at end-of-file (``ssh -n``; su's is the pty, sudo's the channel
    its password was written to)."""
    stdin = "exec </dev/null; " if eof else ""
    return f"printf '%s\\n' {marker}; {stdin}{_WATCHDOG}; {command}"


def _stdin_eof(kwargs: Mapping[str, Any]) -> bool:
    """No ``in_stream`` given: the command gets end-of-file on stdin."""
    return kwargs.get("in_stream", False) is False


@dataclass
class _Outcome:
    result: Any
    started: bool  # whether the user's command ran (the marker was seen)


def in_target_shell(
    conn: SwitchingConnection, command: str, env: Mapping[str, Any] | None = None
) -> str:
    """``command`` with the connection's ``cd()``/``prefix()`` and ``env`` for the target shell.

    Upstream behaviour: invoke's ``Context._prefix_commands`` and Fabric's inline env put
    ``cd DIR && PREFIX && export K=V && `` on the command line Fabric sends, i.e. run by the
    *login* user's shell; ``su -`` and a login shell of sudo then start elsewhere with a
    fresh environment, so they were silently lost (and a ``cd`` into a directory only the
    target user may enter failed before su even ran). Here they go inside, and
    :func:`_run_marked` keeps them off the outer line.
    """
    command = prefix_commands(conn, command)
    config_env = getattr(getattr(getattr(conn, "config", None), "run", None), "env", None)
    merged = {**(config_env or {}), **(env or {})}
    exports = [f"{k}={shlex.quote(str(v))}" for k, v in sorted(merged.items()) if ENV_NAME.match(k)]
    return f"export {' '.join(exports)} && {command}" if exports else command


@contextlib.contextmanager
def _outer_line_unprefixed(conn: SwitchingConnection) -> Iterator[None]:
    """Fabric's ``cd()``/``prefix()`` state off while su/sudo's own line is sent."""
    cwds: list[str] = getattr(conn, "command_cwds", None) or []
    prefixes: list[str] = getattr(conn, "command_prefixes", None) or []
    if not cwds and not prefixes:
        yield
        return
    conn.command_cwds, conn.command_prefixes = [], []
    try:
        yield
    finally:
        conn.command_cwds, conn.command_prefixes = cwds, prefixes


def _run_marked(
    conn: SwitchingConnection,
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
        with _outer_line_unprefixed(conn):
            result = conn.run_plain(wrapped, **opts)
    except CommandTimeout as exc:
        raise CommandTimeout(exc.host, user_command, exc.timeout) from None
    except ConnectionLost as exc:  # named by the user's command, not su/sudo's wrapper
        raise ConnectionLost(exc.host, user_command, exc.detail) from None
    out: str = result.stdout
    if f"{marker}\r\n" in out:
        # the pty still translated NL to CRNL (stty missing or failed): undo it
        started, out = True, out.split(f"{marker}\r\n", 1)[1].replace("\r\n", "\n")
    elif f"{marker}\n" in out:
        # the command's own output, byte for byte (a CRLF it prints stays a CRLF)
        started, out = True, out.split(f"{marker}\n", 1)[1]
    else:
        started, out = False, out.replace("\r\n", "\n")  # su/sudo's messages, for errors
    result.stdout = out
    if prompt and prompt in result.stderr:
        # sudo -S writes its prompt on stderr, and before it its lecture ("We trust you have
        # received the usual lecture...", on by default on RHEL/CentOS for a user's first
        # sudo): everything up to the prompt is sudo's, not the command's.
        result.stderr = result.stderr.split(prompt, 1)[1]
    return _Outcome(result, started)


def _finish(
    conn: SwitchingConnection, outcome: _Outcome, command: str, kwargs: dict[str, Any], pty: bool
) -> Any:
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

    def command(self, run_as: RunAs, command: str, marker: str, eof: bool = True) -> str:
        inner = inner_command(command, marker, eof)
        dash = "- " if run_as.login else ""
        # stty: no NL->CRNL on the pty, so output keeps the command's own line endings.
        # LC_ALL=C: su's prompt and messages in English, whatever the host's locale.
        return (
            f"stty -onlcr 2>/dev/null; LC_ALL=C su {dash}{shlex.quote(run_as.user)} "
            f"-c {shlex.quote(inner)}"
        )

    def run(self, conn: SwitchingConnection, run_as: RunAs, command: str, **kwargs: Any) -> Any:
        host = conn.spec.describe()
        if run_as.su_password is None:
            raise PrivilegeError(
                self.no_login_shell(conn, run_as.user, host)
                or f"su as {run_as.user} on {host} needs the user's password: set "
                "--su-password-env, su_password_env in the inventory, or "
                "su_user(..., password_env=...)"
            )
        marker = _marker()
        watcher = _Once(r"[Pp]assword: ?", run_as.su_password + "\n", marker)
        wrapped = self.command(run_as, command, marker, _stdin_eof(kwargs))
        outcome = _run_marked(conn, wrapped, command, marker, [watcher], kwargs, pty=True)
        if not outcome.started:
            why = self.why(run_as, host, outcome.result, watcher.answered)
            if "does not exist" not in why:
                # a service account (locked, nologin): su can never work, whatever the
                # password; say that rather than "authentication failed"
                why = self.no_login_shell(conn, run_as.user, host) or why
            raise PrivilegeError(why)
        return _finish(conn, outcome, command, kwargs, pty=True)

    def no_login_shell(self, conn: SwitchingConnection, user: str, host: str) -> str | None:
        """The message for a ``user`` whose login shell refuses commands (``nologin``,
        ``false``), naming the shell and the fix; None otherwise or when it cannot be read.
        Asked only after su failed (one ``getent passwd``)."""
        try:
            result = conn.run_plain(
                f"getent passwd {shlex.quote(user)}", hide=True, warn=True, timeout=10
            )
        except (CommandTimeout, ConnectionLost):
            return None
        fields = result.stdout.strip().split(":") if result.exited == 0 else []
        shell = fields[6] if len(fields) >= 7 and fields[0] == user else ""
        if not shell.endswith(("/nologin", "/false")):
            return None
        return (
            f"su as {user} on {host}: {user}'s login shell is {shell}, so su cannot run "
            f'commands as it (a service account); use method="sudo" (or "auto"), which '
            "runs them with /bin/sh where the sudoers allow it"
        )

    def why(self, run_as: RunAs, host: str, result: Any, answered: bool) -> str:
        # classify su's own words, then redact what is shown (a short password could
        # otherwise mask part of "does not exist")
        raw = re.sub(r"^\s*[Pp]assword: ?", "", result.stdout)
        shown = one_line(redact(raw, run_as.secrets())) or "no output"
        user = run_as.user
        if "does not exist" in raw or "Unknown id" in raw or "unknown user" in raw:
            return f"su: user {user} does not exist on {host}"
        if "Authentication failure" in raw or "incorrect password" in raw:
            # A PAM module that refuses in the account/session stage (after the password
            # was accepted) says why before su's generic "Authentication failure"; e.g. the
            # el7 emulation (containers/README.md), pam_access, expired accounts.
            said = [
                line.strip()
                for line in raw.splitlines()
                if line.strip()
                and "Authentication failure" not in line
                and "incorrect password" not in line
            ]
            if said:
                why = one_line(redact(" ".join(said), run_as.secrets()))
                return f"su as {user} on {host} was refused: {why}"
            return f"su authentication failed for {user} on {host} ({shown})"
        if "currently not available" in raw or "nologin" in raw:
            return (
                f"su as {user} on {host}: {user} has no login shell (nologin), so su cannot "
                f"run commands as it; sudo can (method='sudo', or 'auto') ({shown})"
            )
        if not answered:
            return f"su as {user} on {host} did not ask for a password ({shown})"
        return f"su as {user} on {host} failed before running the command: {shown}"


class Sudo:
    """``sudo -u USER`` running the command in a login shell of USER (like ``su -``)."""

    name = "sudo"

    def __init__(self) -> None:
        self.requiretty: set[str] = set()  # hosts whose sudoers say "Defaults requiretty"

    def command(
        self, run_as: RunAs, command: str, marker: str, prompt: str, eof: bool = True
    ) -> str:
        auth = f"-S -p {shlex.quote(prompt)}" if run_as.sudo_password else "-n"
        inner = inner_command(command, marker, eof)
        if run_as.login:
            # sudo sets SHELL and (with -H) HOME to the target's: cd there, run its login
            # shell -- /bin/sh for a service account whose shell is nologin or false, which
            # would refuse every command ("This account is currently not available.")
            launcher = (
                'cd "$HOME" 2>/dev/null; case "${SHELL:-}" in ""|*/nologin|*/false) '
                'SHELL=/bin/sh ;; esac; exec "$SHELL" -l -c "$1"'
            )
            tail = f"sh -c {shlex.quote(launcher)} sh {shlex.quote(inner)}"
        else:
            tail = f"sh -c {shlex.quote(inner)}"
        return f"LC_ALL=C sudo {auth} -H -u {shlex.quote(run_as.user)} -- {tail}"

    def run(self, conn: SwitchingConnection, run_as: RunAs, command: str, **kwargs: Any) -> Any:
        host = conn.spec.describe()
        marker = _marker()
        prompt = f"[fabricplus:{secrets.token_hex(4)}] sudo password: "
        wrapped = self.command(run_as, command, marker, prompt, _stdin_eof(kwargs))
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
                    said = getattr(failure.result, "stderr", "") or ""
                    said = said.split(prompt, 1)[-1].replace(prompt, "")  # no lecture, prompts
                    raise PrivilegeError(
                        f"sudo authentication failed for {conn.user} (to run as {run_as.user}) "
                        f"on {host}: wrong sudo password",
                        output=redact(said, run_as.secrets()),
                    ) from None
                raise
            if outcome.started:
                return _finish(conn, outcome, command, kwargs, pty=pty)
            text = redact(outcome.result.stdout + outcome.result.stderr, run_as.secrets())
            if "must have a tty" in text and not pty:
                self.requiretty.add(host)  # sudoers "Defaults requiretty": retry with a pty
                pty = True
                continue
            # sudo's own words (on the pty's stdout when sudoers say requiretty)
            said = outcome.result.stderr if outcome.result.stderr.strip() else outcome.result.stdout
            # sudo quotes the command it refused: show the user's, not our wrapper around it
            inner = inner_command(command, marker, _stdin_eof(kwargs))
            said = redact(said.replace(prompt, "").replace(inner, command), run_as.secrets())
            raise PrivilegeError(self.why(conn, run_as, host, text), output=said)
        raise PrivilegeError(f"sudo as {run_as.user} on {host} failed")  # pragma: no cover

    def why(self, conn: SwitchingConnection, run_as: RunAs, host: str, text: str) -> str:
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
            # sudo's own text quotes our whole wrapper command: say it in our words
            return f"sudo: sudoers on {host} do not allow {conn.user} to run commands as {user}"
        if "command not found" in text or "sudo: not found" in text:
            return f"sudo is not installed on {host}"
        return f"sudo as {user} on {host} failed before running the command: {one_line(text)}"


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
        # which passwords each choice was probed with (keyed digests, never the values): a
        # "neither works" found with a wrong password must not fail a later test that has
        # the right one, so other passwords probe again
        self._probed_with: dict[tuple[str, str], bytes] = {}
        self._digest_key = secrets.token_bytes(16)

    def _secrets_digest(self, run_as: RunAs) -> bytes:
        text = f"{run_as.su_password or ''}\0{run_as.sudo_password or ''}"
        return hmac.new(self._digest_key, text.encode(), hashlib.sha256).digest()

    def method_for(self, conn: SwitchingConnection, run_as: RunAs) -> str:
        if run_as.method != "auto":
            return run_as.method
        key = (conn.spec.id or conn.spec.name, run_as.user)
        digest = self._secrets_digest(run_as)
        with self._lock:
            lock = self._host_locks.setdefault(key, threading.Lock())
        with lock:
            choice = self.choices.get(key)
            if choice is None or self._probed_with.get(key) != digest:
                choice = self._probe(conn, run_as)
                self.choices[key] = choice
                self._probed_with[key] = digest
        if choice.method == "none":
            raise PrivilegeError(
                f"cannot run commands as {run_as.user} on {conn.spec.describe()}: "
                + "; ".join(f"{m}: {r}" for m, r in choice.reasons.items())
            )
        return choice.method

    def _probe(self, conn: SwitchingConnection, run_as: RunAs) -> Choice:
        reasons: dict[str, str] = {}
        # short: the run's command timeout when that is shorter than PROBE_TIMEOUT
        limit = getattr(conn, "command_timeout", None)
        timeout = min(PROBE_TIMEOUT, limit) if limit else PROBE_TIMEOUT
        for name in ("su", "sudo"):
            with self._lock:
                self.probes += 1
            try:
                result = self.strategies[name].run(
                    conn, run_as, "id -un", hide=True, warn=True, timeout=timeout
                )
            except (PrivilegeError, CommandTimeout) as exc:
                reasons[name] = redact(str(exc), run_as.secrets())
                continue
            if result.exited == 0 and result.stdout.strip() == run_as.user:
                return Choice(name, reasons)
            reasons[name] = f"probe printed {one_line(result.stdout)!r}, exit {result.exited}"
        return Choice("none", reasons)

    def describe(self, spec: Any, user: str, method: str | None = None) -> str:
        """``user via su`` (and why not the other method), for reports.

        ``method``: what the test asked for (``RunAs.method``). A given su or sudo is reported
        as such, even where ``auto`` chose the other one for the same user on this host;
        without it (``None``) only ``auto``'s choice is known.
        """
        if method in ("su", "sudo"):
            return f"{user} via {method} (method given)"
        choice = self.choices.get((spec.name, user))
        return f"{user} via {choice.describe()}" if choice else f"{user} (method given)"

    def run(self, conn: SwitchingConnection, run_as: RunAs, command: str, **kwargs: Any) -> Any:
        method = self.method_for(conn, run_as)
        command = in_target_shell(conn, command, kwargs.get("env"))
        try:
            return self.strategies[method].run(conn, run_as, command, **kwargs)
        except PrivilegeError as exc:
            output = redact(exc.output, run_as.secrets())
            raise PrivilegeError(redact(str(exc), run_as.secrets()), output=output) from None
