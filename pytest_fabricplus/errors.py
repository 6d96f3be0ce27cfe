"""Exceptions raised by pytest-fabricplus. None of them ever carries a secret's value."""

from __future__ import annotations


class FabricPlusError(Exception):
    """Base class of every error this project raises on purpose."""


class InventoryError(FabricPlusError):
    """A host list or inventory file that cannot be used; names ``file:line`` and the text."""

    def __init__(self, message: str, *, source: str = "", line: int = 0, text: str = "") -> None:
        self.source = source
        self.line = line
        self.text = text
        self.reason = message
        where = f"{source}:{line}: " if source and line else (f"{source}: " if source else "")
        shown = f" in {text.strip()!r}" if text.strip() else ""
        super().__init__(f"{where}{message}{shown}")


class ConfigError(FabricPlusError):
    """An option, ini value or environment variable that cannot be used."""


class HostUnreachable(FabricPlusError):
    """A host that could not be connected to or authenticated against.

    ``cause`` is one short word users can grep and count by: ``refused``, ``timeout``,
    ``dns``, ``auth``, ``host-key``, ``jump``, ``proxy``, ``ssh`` (protocol error),
    ``closed``, ``unreachable`` (another network error), ``config`` (ssh config, a key file
    that cannot be read). Only such causes: a bug while connecting is raised as it is.
    """

    def __init__(self, host: str, cause: str, detail: str, message: str | None = None) -> None:
        self.host = host
        self.cause = cause
        self.detail = detail
        super().__init__(message or f"cannot connect to {host}: {detail}")


class HostKeyError(HostUnreachable):
    """The server's host key is unknown (policy ``reject``) or differs from known_hosts."""

    def __init__(self, host: str, detail: str) -> None:
        super().__init__(host, "host-key", detail)


class ConnectionLost(HostUnreachable):
    """The connection died while a command ran (host down, sshd killed, network cut)."""

    def __init__(self, host: str, command: str, detail: str) -> None:
        self.command = command
        super().__init__(
            host,
            "closed",
            detail,
            f"connection to {host} was lost while running {command!r}: {detail}",
        )


class CommandTimeout(FabricPlusError):
    """A remote command ran longer than the command timeout."""

    def __init__(self, host: str, command: str, timeout: float) -> None:
        self.host = host
        self.command = command
        self.timeout = timeout
        super().__init__(
            f"command {command!r} on {host} did not finish within {timeout:g}s "
            "(--command-timeout); the command was interrupted"
        )


class PrivilegeError(FabricPlusError):
    """Running a command as another user failed (su/sudo).

    ``output``: what su/sudo themselves printed (redacted, our wrapper's prompts removed),
    for callers that report the failure as the command's result -- testinfra's
    ``host.sudo()`` gives the sudo process's exit status 1 and its stderr, not an exception.
    """

    def __init__(self, message: str, output: str = "") -> None:
        self.output = output
        super().__init__(message)


class DockerError(FabricPlusError):
    """Docker is unreachable, an image build failed, a target did not come up, or a Docker
    SDK call failed (the container or image and the operation are named).

    The message says what failed and, where it helps, what to do about it.
    """


class ShellUnavailable(FabricPlusError):
    """No usable POSIX shell on the target: run commands through ``exec`` instead."""

    def __init__(self, host: str, detail: str) -> None:
        self.host = host
        self.detail = detail
        super().__init__(f"no persistent POSIX shell on {host}: {detail}")


class ShellLost(FabricPlusError):
    """The shell (or its channel, or the transport) went away while a command ran."""

    def __init__(self, host: str, command: str, detail: str) -> None:
        self.host = host
        self.command = command
        self.detail = detail
        super().__init__(f"the remote shell on {host} was lost while running {command!r}: {detail}")


class RunInterrupted(FabricPlusError):
    """The run was interrupted (SIGINT, SIGTERM, Ctrl-C) while this host was in use: its
    running commands were killed on the host and the connection closed; no new command
    starts on it."""

    def __init__(self, host: str, what: str) -> None:
        self.host = host
        self.what = what
        super().__init__(
            f"{what} on {host}: the run was interrupted (SIGINT/SIGTERM); commands still "
            "running there were killed"
        )
