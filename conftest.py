"""The project's own test harness: real sshd targets on 127.0.0.1, an isolated HOME.

Fixtures here start real OpenSSH servers (testing/sshd.py) with real system users,
generated keys and random passwords, and write a known_hosts file for them. They need root
(to create users) and openssh-server; the README's test command sets both up.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# The plugin loads paramiko (and cryptography) only with the first connection. pytester's
# in-process runs drop modules first imported inside them from sys.modules afterwards;
# cryptography's Rust extension cannot be initialised twice ("AES in CTR mode is not
# supported" in the next run). Importing the SSH stack here, in the outer process, keeps
# one copy for every in-process run.
import pytest_fabricplus.ssh.connector  # noqa: F401
from testing.sshd import (
    LOGIN_USER,
    OTHER_USER,
    SERVICE_USER,
    SetupError,
    SshdServer,
    User,
    can_create_users,
    ensure_service_user,
    ensure_user,
    sudo_available,
    sudoers_dropin,
)

pytest_plugins = ["pytester"]

PASSWORD_ENV = "FPTEST_LOGIN_PASSWORD"
#: holds the su password of OTHER_USER (fptest2) while the ``su_password`` fixture is active
SU_PASSWORD_ENV = "FPTEST_SU_PASSWORD"
SUDOERS_PREFIX = "fabricplus-test-"
#: The local users' sudo rights for the su_user tests (TEST-ONLY, removed at session end):
#: fptest -> fptest2 and -> fptestsvc (nologin) with fptest's password; fptest2 -> fptest
#: without one. For fptest,
#: ``lecture=always`` makes sudo print its lecture as RHEL/CentOS do on a user's first sudo
#: (Debian's sudo is built without it), and ``timestamp_timeout=0`` makes every sudo ask,
#: so a wrong-password test cannot pass on cached credentials.
SUDOERS_RULES = f"""# pytest-fabricplus test session (pid {os.getpid()}); removed at the end of the session
Defaults:{LOGIN_USER} lecture=always, timestamp_timeout=0
{LOGIN_USER} ALL=({OTHER_USER}, {SERVICE_USER}) ALL
{OTHER_USER} ALL=({LOGIN_USER}) NOPASSWD: ALL
"""


@pytest.fixture(scope="session", autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No developer agent, known_hosts or ~/.ssh/config may change what the tests see."""
    home = tmp_path_factory.mktemp("home")
    (home / ".ssh").mkdir(mode=0o700)
    saved = {k: os.environ.get(k) for k in ("HOME", "SSH_AUTH_SOCK")}
    os.environ["HOME"] = str(home)
    os.environ.pop("SSH_AUTH_SOCK", None)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


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


@pytest.fixture(scope="session")
def ssh_users(tmp_path_factory: pytest.TempPathFactory) -> tuple[User, User]:
    if not can_create_users():
        pytest.skip(
            "real sshd targets need root and openssh-server (run the README's test command)"
        )
    keys = tmp_path_factory.mktemp("userkeys")
    ensure_service_user(SERVICE_USER)  # a sudo target of the su_user tests
    return ensure_user(LOGIN_USER, keys), ensure_user(OTHER_USER, keys)


@contextlib.contextmanager
def _target(path: Path, users: tuple[User, User]) -> Iterator[Target]:
    """Start an sshd in ``path`` with its own known_hosts file; stop it afterwards."""
    server = SshdServer(path, list(users)).start()
    known = server.workdir / "known_hosts"
    known.write_text(server.known_hosts_line + "\n")
    try:
        yield Target(server, users[0], users[1], known)
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def sshd(
    tmp_path_factory: pytest.TempPathFactory, ssh_users: tuple[User, User]
) -> Iterator[Target]:
    """A real sshd on 127.0.0.1 shared by the session (key and password logins)."""
    with _target(tmp_path_factory.mktemp("sshd"), ssh_users) as target:
        yield target


@pytest.fixture(scope="session")
def sshd2(
    tmp_path_factory: pytest.TempPathFactory, ssh_users: tuple[User, User]
) -> Iterator[Target]:
    """A second sshd (another port, another host key)."""
    with _target(tmp_path_factory.mktemp("sshd2"), ssh_users) as target:
        yield target


@pytest.fixture
def both_known_hosts(sshd: Target, sshd2: Target, tmp_path: Path) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(sshd.server.known_hosts_line + "\n" + sshd2.server.known_hosts_line + "\n")
    return path


@pytest.fixture
def login_password(sshd: Target, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, sshd.user.password)
    return sshd.user.password


@pytest.fixture(scope="session")
def sudoers(ssh_users: tuple[User, User]) -> Iterator[Path]:
    """A sudoers drop-in for the local test users (rules in ``SUDOERS_RULES``), one file per
    process (``fabricplus-test-<pid>``), validated with ``visudo -cf``, removed at the end."""
    yield from installed_sudoers(SUDOERS_PREFIX, SUDOERS_RULES, "su_user")


def installed_sudoers(prefix: str, rules: str, what: str) -> Iterator[Path]:
    """For a fixture: ``rules`` installed by :func:`sudoers_dropin` while it is active; skips
    without sudo, fails the setup when the rules do not parse."""
    if not sudo_available():
        pytest.skip(f"the {what} tests need sudo and visudo (apt-get install sudo)")
    try:
        with sudoers_dropin(prefix, rules) as path:
            yield path
    except SetupError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def su_password(ssh_users: tuple[User, User], monkeypatch: pytest.MonkeyPatch) -> str:
    """fptest2's password in ``$FPTEST_SU_PASSWORD`` (the su password of the su tests)."""
    monkeypatch.setenv(SU_PASSWORD_ENV, ssh_users[1].password)
    return ssh_users[1].password


#: The inner runs of this suite spell our options as pytest-testinfra does (``--hosts``,
#: ``--ssh-config``, ``--ssh-identity-file``, ``--sudo``, ...) and use the ``host`` fixture,
#: and pytest-testinfra is installed here (the ``dev`` extra): without the drop-in its plugin
#: would own those flags. So every inner run loads the drop-in, as a migrated testinfra
#: project does (``addopts = -p pytest_fabricplus.testinfra_dropin``); tests of the default,
#: coexisting mode take it away with the ``no_dropin`` fixture.
DROPIN_ADDOPTS = "-p pytest_fabricplus.testinfra_dropin"


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytest's ``pytester`` (which clears ``PYTEST_ADDOPTS``), its runs with the drop-in."""
    monkeypatch.setenv("PYTEST_ADDOPTS", DROPIN_ADDOPTS)
    return pytester


@pytest.fixture
def no_dropin(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs in the default mode: no testinfra drop-in."""
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
