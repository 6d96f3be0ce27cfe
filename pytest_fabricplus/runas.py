"""Run as another user: whom, how, and with which secrets (no Fabric import).

One concept, one noun: "run as". Users spell it ``@pytest.mark.su_user(...)`` (the marker's
public name, which also covers sudo), the ``run_as`` fixture and ``connection.as_user(...)``;
each becomes a :class:`RunAsRequest` (the arguments, validated) and then a :class:`RunAs`
(with the secrets read). *How* the switch happens (su, sudo, auto) is
:mod:`pytest_fabricplus.ssh.privilege`. This module is the light half: the pytest side uses
it in every process, including the xdist controller, which never imports paramiko.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .hosts.spec import SU_METHODS, USER_NAME
from .text import ENV_NAME

METHODS = SU_METHODS


@dataclass(frozen=True)
class RunAs:
    """Whom to run as, how, and with which secrets (held here, never shown)."""

    user: str
    method: str = "auto"
    su_password: str | None = field(default=None, repr=False)
    sudo_password: str | None = field(default=None, repr=False)
    login: bool = True

    def __post_init__(self) -> None:
        if not self.user or not USER_NAME.match(self.user):
            raise ValueError(f"invalid user name {self.user!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")

    def secrets(self) -> list[str]:
        return [s for s in (self.su_password, self.sudo_password) if s]


MARKER_KEYWORDS = ("method", "password_env", "login")


@dataclass(frozen=True)
class RunAsRequest:
    """The arguments of ``@pytest.mark.su_user(...)`` / ``run_as(...)``, validated."""

    user: str
    method: str | None = None
    password_env: str | None = None
    login: bool = True

    @classmethod
    def parse(cls, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> RunAsRequest:
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
            not isinstance(password_env, str) or not ENV_NAME.match(password_env)
        ):
            raise ValueError(
                f"password_env must name an environment variable, got {password_env!r}"
            )
        login = kwargs.get("login", True)
        if not isinstance(login, bool):
            raise ValueError(f"login must be True or False, got {login!r}")
        RunAs(args[0].strip())  # validates the user name
        return cls(args[0].strip(), method, password_env, login)
