"""The project's own test harness: real sshd targets on 127.0.0.1, an isolated HOME.

Fixtures here start real OpenSSH servers (testing/sshd.py) with real system users,
generated keys and random passwords, and write a known_hosts file for them. They need root
(to create users) and openssh-server; the README's test command sets both up.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

# A test command started in the background of a non-interactive shell (`bash run-tests.sh &`)
# inherits SIGINT ignored, and Python keeps an ignored SIGINT ignored: the interrupt tests
# (which interrupt this process, its xdist workers and the runs they start) would then test
# nothing, and the handler checks fail. Python's default handler back: its children start
# with the default disposition again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# The plugin loads paramiko (and cryptography) only with the first connection. pytester's
# in-process runs drop modules first imported inside them from sys.modules afterwards;
# cryptography's Rust extension cannot be initialised twice ("AES in CTR mode is not
# supported" in the next run). Importing the SSH stack here, in the outer process, keeps
# one copy for every in-process run.
import pytest_fabricplus.ssh.connector  # noqa: F401
from testing.need import NEED_SSHD, need
from testing.sshd import (
    LOGIN_USER,
    OTHER_USER,
    SERVICE_USER,
    User,
    ensure_service_user,
    ensure_user,
    missing_for_targets,
)
from testing.targets import (
    DROPIN_ADDOPTS,
    PASSWORD_ENV,
    SU_PASSWORD_ENV,
    SUDOERS_PREFIX,
    SUDOERS_RULES,
    Target,
    installed_sudoers,
    started_target,
)

pytest_plugins = ["pytester"]


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


@pytest.fixture(scope="session")
def ssh_users(tmp_path_factory: pytest.TempPathFactory) -> tuple[User, User]:
    missing = missing_for_targets()
    if missing:
        need(NEED_SSHD, missing)
    keys = tmp_path_factory.mktemp("userkeys")
    ensure_service_user(SERVICE_USER)  # a sudo target of the su_user tests
    return ensure_user(LOGIN_USER, keys), ensure_user(OTHER_USER, keys)


@pytest.fixture(scope="session")
def sshd(
    tmp_path_factory: pytest.TempPathFactory, ssh_users: tuple[User, User]
) -> Iterator[Target]:
    """A real sshd on 127.0.0.1 shared by the session (key and password logins)."""
    with started_target(tmp_path_factory.mktemp("sshd"), ssh_users) as target:
        yield target


@pytest.fixture(scope="session")
def sshd2(
    tmp_path_factory: pytest.TempPathFactory, ssh_users: tuple[User, User]
) -> Iterator[Target]:
    """A second sshd (another port, another host key)."""
    with started_target(tmp_path_factory.mktemp("sshd2"), ssh_users) as target:
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


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytest's ``pytester`` (which clears ``PYTEST_ADDOPTS``), its runs with the drop-in."""
    monkeypatch.setenv("PYTEST_ADDOPTS", DROPIN_ADDOPTS)
    return pytester


@pytest.fixture
def no_dropin(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs in the default mode: no testinfra drop-in."""
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)


# The test command (scripts/run-tests.sh) runs tests/plugin's non-container tests in its
# background jobs on the oldest Python at the floors and on the newest Python; with those jobs
# on, and no paths given, it sets this for the main run, which then runs only tests/plugin's
# container tests (the one Docker daemon is the main run's). pytest lists them as deselected.
PLUGIN_TESTS_ELSEWHERE = "FABRICPLUS_PLUGIN_TESTS_ELSEWHERE"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(PLUGIN_TESTS_ELSEWHERE) != "1":
        return
    plugin_dir = Path(__file__).parent / "tests" / "plugin"
    kept, dropped = [], []
    for item in items:
        in_plugin = plugin_dir in Path(str(item.path)).parents
        (dropped if in_plugin and item.get_closest_marker("docker") is None else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
