"""Whom to run as: the marker's arguments and the secrets they carry (no Fabric import).

The light half of :mod:`.privilege`: the pytest side (marker validation at collection,
report redaction) uses it in every process, including the xdist controller, which never
connects and so never imports paramiko, invoke or Fabric.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

METHODS = ("auto", "su", "sudo")


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
    """``text`` with every secret replaced by ``********``.

    Longest first: a secret that contains a shorter one must not be left half shown.
    """
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "********")
    return text


MARKER_KEYWORDS = ("method", "password_env", "login")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
