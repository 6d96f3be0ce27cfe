"""Fixtures shared by tests/integration and tests/upstream: Docker and the container targets.

* ``require_docker`` (session) is the one place that decides "no Docker daemon": under
  ``FABRICPLUS_NEED_DOCKER=1`` (exported by scripts/run-tests.sh, the test command) a missing
  daemon fails every test that needs one; otherwise those tests are skipped, with the reason.
* ``session_targets`` (session) starts the ``ubuntu`` and ``centos7`` targets of
  ``containers/`` once per test session (per process), with generated passwords and key,
  and removes them at the end. test_containers.py, test_testinfra_peer.py and the privilege
  fixtures below share it; a test that stops, restarts or removes a container starts a set
  of its own instead.
* ``privilege_targets`` / ``target_registry`` / ``open_target``: the same targets through the
  core API (Connector, ConnectionRegistry), no pytest plugin.

Other than a missing daemon, any failure (image build, sshd not coming up) is an error that
says what went wrong.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_fabricplus import ConnectionRegistry, Connector, HostSpec, Settings
from pytest_fabricplus.integrations.docker import (
    TARGET_KINDS,
    TEST_USERS,
    DockerError,
    DockerTarget,
    DockerTargets,
    DockerTargetsConfig,
)
from pytest_fabricplus.ssh.connection import FabricPlusConnection

#: set to 1 by scripts/run-tests.sh: the container tests are part of the suite
NEED_DOCKER_ENV = "FABRICPLUS_NEED_DOCKER"


def kind_id(kind: str) -> str:
    """A target kind as a test id: ``centos7`` is ``centos7-el7emu``. On a registry-free base
    its su refusal is the project's own PAM emulation (containers/el7-su-emulation), so what
    those tests check there is our handling of the refusal, not CentOS 7 itself."""
    return "centos7-el7emu" if kind == "centos7" else kind


@pytest.fixture(scope="session")
def require_docker() -> None:
    """A Docker daemon answers; else a failure under ``FABRICPLUS_NEED_DOCKER=1``, a skip
    otherwise (a green run of the test command means the container tests ran)."""
    probe = DockerTargets()
    try:
        probe.ping()
    except DockerError as exc:
        if os.environ.get(NEED_DOCKER_ENV) == "1":
            pytest.fail(
                f"no Docker daemon answers, and {NEED_DOCKER_ENV}=1 says the container tests "
                f"must run: {exc}",
                pytrace=False,
            )
        pytest.skip(f"no Docker daemon answers ({NEED_DOCKER_ENV}=1 makes this a failure): {exc}")
    finally:
        probe.close()


@pytest.fixture(scope="session")
def session_targets(require_docker: None) -> Iterator[DockerTargets]:
    """The ``ubuntu`` and ``centos7`` targets, started once for the whole session."""
    targets = DockerTargets(DockerTargetsConfig())
    try:
        targets.remove_leftovers()  # containers of crashed runs (dead owner pid) only
        targets.ensure_images(TARGET_KINDS)
        targets.start(TARGET_KINDS)
        yield targets
    finally:
        targets.close()


def password_env(user: str) -> str:
    """The environment variable (of the Connector's env mapping) holding ``user``'s password."""
    return f"FPIT_PASSWORD_{user.upper()}"


@dataclass
class PrivilegeTargets:
    """Started targets plus what the core API needs to reach them (no pytest plugin)."""

    docker: DockerTargets
    targets: dict[str, DockerTarget]
    settings: Settings
    env: dict[str, str] = field(repr=False)
    _homes: dict[tuple[str, str], str] = field(default_factory=dict)
    _local: dict[tuple[str, str, str], tuple[int, str, str]] = field(default_factory=dict)

    def spec(self, kind: str, login: str = "fpuser") -> HostSpec:
        """``kind`` (alias and id) logging in as ``login``; su and sudo passwords by env.

        The su password is fpsu's; the sudo password the login user's, except for the
        NOPASSWD sudoer ``fpnopass``, which gets none (``sudo -n``).
        """
        target = self.targets[kind]
        name = kind if login == "fpuser" else f"{kind}-{login}"
        secrets = {"su_password_env": password_env("fpsu")}
        if login != "fpnopass":
            secrets["sudo_password_env"] = password_env(login)
        return HostSpec(
            host=target.host, port=target.port, user=login, alias=name, id=name, vars=secrets
        )

    def connector(self) -> Connector:
        """A new Connector (and so a new PrivilegeRunner: its own auto choices and probes)."""
        return Connector(self.settings, self.env)

    def local(self, kind: str, user: str, command: str) -> tuple[int, str, str]:
        """Ground truth: ``command`` in a login shell of ``user`` inside the container, in its
        home directory (where ``su -`` starts), i.e. ``docker exec -u USER -w HOME bash -lc``."""
        key = (kind, user, command)
        if key not in self._local:  # the same for every method: ask the container once
            container = self.docker.container(kind)
            code, (out, err) = container.exec_run(
                ["bash", "-lc", command], user=user, workdir=self.home(kind, user), demux=True
            )
            self._local[key] = (int(code), (out or b"").decode(), (err or b"").decode())
        return self._local[key]

    def home(self, kind: str, user: str) -> str:
        key = (kind, user)
        if key not in self._homes:
            container = self.docker.container(kind)
            code, out = container.exec_run(["getent", "passwd", user])
            assert code == 0, f"no user {user} in the {kind} target"
            self._homes[key] = out.decode().split(":")[5]
        return self._homes[key]


@pytest.fixture(scope="session")
def privilege_targets(session_targets: DockerTargets) -> PrivilegeTargets:
    """The session's container targets as the core API (no pytest plugin) reaches them."""
    docker = session_targets
    credentials = docker.credentials
    env = {password_env(user): credentials.password(user) for user in TEST_USERS}
    settings = Settings(
        known_hosts=str(docker.known_hosts_path),
        ssh_identity_file=docker.targets["ubuntu"].key_filename,
        command_timeout=30.0,
    )
    return PrivilegeTargets(docker, dict(docker.targets), settings, env)


@pytest.fixture(scope="session")
def target_registry(privilege_targets: PrivilegeTargets) -> Iterator[ConnectionRegistry]:
    """One connection per (target, login user) for the session, through one Connector."""
    registry = ConnectionRegistry(privilege_targets.connector())
    yield registry
    registry.close_all()


@pytest.fixture(scope="session")
def open_target(privilege_targets: PrivilegeTargets, target_registry: ConnectionRegistry) -> Any:
    """``open_target(kind, login="fpuser")`` -> the session's connection to it."""

    def get(kind: str, login: str = "fpuser") -> FabricPlusConnection:
        return target_registry.get(privilege_targets.spec(kind, login))

    return get
