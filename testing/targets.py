"""The sshd targets as tests use them: :class:`Target` (one running sshd and what reaches it),
the password variables and the sudoers rules of the session's test users.

The fixtures that start them (``sshd``, ``sshd2``, ``ssh_users``, ``sudoers``, ...) live in the
root ``conftest.py``; tests import the helpers and constants from here, never from a conftest
(which ``--import-mode=importlib`` does not make importable).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testing.need import NEED_SSHD, need
from testing.sshd import (
    LOGIN_USER,
    OTHER_USER,
    SERVICE_USER,
    SetupError,
    SshdServer,
    User,
    sudo_available,
    sudoers_dropin,
)

PASSWORD_ENV = "FPTEST_LOGIN_PASSWORD"
#: holds the su password of OTHER_USER (fptest2) while the ``su_password`` fixture is active
SU_PASSWORD_ENV = "FPTEST_SU_PASSWORD"
#: the suite's inner runs spell options as testinfra does (``--hosts``) and use ``host``:
#: with pytest-testinfra installed (dev extra) that needs the drop-in (``PYTEST_ADDOPTS``)
DROPIN_ADDOPTS = "-p pytest_fabricplus.testinfra_dropin"
SUDOERS_PREFIX = "fabricplus-test-"
#: The local users' sudo rights for the su_user tests (TEST-ONLY, removed at session end):
#: fptest -> fptest2 and -> fptestsvc (nologin) with fptest's password; fptest2 -> fptest
#: without one. For fptest,
#: ``lecture=always`` makes sudo print its lecture as RHEL/CentOS do on a user's first sudo
#: (Debian's sudo is built without it), and ``timestamp_timeout=0`` makes every sudo ask,
#: so a wrong-password test cannot pass on cached credentials.
SUDOERS_RULES = f"""\
# pytest-fabricplus test session (pid {os.getpid()}); removed at the end of the session
Defaults:{LOGIN_USER} lecture=always, timestamp_timeout=0
{LOGIN_USER} ALL=({OTHER_USER}, {SERVICE_USER}) ALL
{OTHER_USER} ALL=({LOGIN_USER}) NOPASSWD: ALL
"""


@dataclass
class Target:
    """One running sshd and everything a test needs to reach it."""

    server: SshdServer
    user: User
    other: User
    known_hosts: Path

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def address(self) -> str:
        return f"{self.user.name}@{self.host}:{self.port}"

    def args(
        self, *extra: str, hosts: str | Path | None = None, known_hosts: Path | None = None
    ) -> list[str]:
        """Command-line arguments for an inner pytest run against this target.

        ``hosts`` (a host list or an inventory file) replaces this target's address and
        ``known_hosts`` its known_hosts file: each option is passed exactly once (not
        overridden by a later ``--hosts=`` in ``extra``, which argparse order would let win).
        """
        repeated = [a for a in extra if a.split("=")[0] in ("--hosts", "--known-hosts")]
        assert not repeated, f"pass hosts= / known_hosts= instead of {repeated}"
        return [
            f"--hosts={hosts or self.address}",
            f"--known-hosts={known_hosts or self.known_hosts}",
            f"--ssh-identity-file={self.user.key_path}",
            "-p",
            "no:cacheprovider",
            *extra,
        ]


@contextlib.contextmanager
def started_target(path: Path, users: tuple[User, User]) -> Iterator[Target]:
    """Start an sshd in ``path`` with its own known_hosts file; stop it afterwards."""
    server = SshdServer(path, list(users)).start()
    known = server.workdir / "known_hosts"
    known.write_text(server.known_hosts_line + "\n")
    try:
        yield Target(server, users[0], users[1], known)
    finally:
        server.cleanup()


def installed_sudoers(prefix: str, rules: str, what: str) -> Iterator[Path]:
    """For a fixture: ``rules`` installed by :func:`sudoers_dropin` while it is active; without
    sudo a skip (a failure under ``FABRICPLUS_NEED_SSHD=1``), a failed setup when the rules
    do not parse."""
    if not sudo_available():
        need(NEED_SSHD, f"the {what} tests need sudo and visudo (apt-get install sudo)")
    try:
        with sudoers_dropin(prefix, rules) as path:
            yield path
    except SetupError as exc:
        pytest.fail(str(exc))
