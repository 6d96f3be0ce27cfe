"""Container targets for the integration tests: one set per session (per xdist worker).

``privilege_targets`` starts the ``ubuntu`` and ``centos7`` targets of ``containers/`` with
generated passwords and key, and removes them at the end. The tests are skipped, with the
reason, only when no Docker daemon answers; any other failure (image build, sshd not coming
up) is an error that says what went wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_fabricplus import ConnectionRegistry, Connector, HostSpec, Settings
from pytest_fabricplus.integrations.docker.targets import (
    TARGET_KINDS,
    TEST_USERS,
    DockerError,
    DockerTarget,
    DockerTargets,
    DockerTargetsConfig,
)
from pytest_fabricplus.ssh.connection import FabricPlusConnection


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
def privilege_targets() -> Iterator[PrivilegeTargets]:
    docker = DockerTargets(DockerTargetsConfig())
    try:
        docker.ping()
    except DockerError as exc:
        docker.close()
        pytest.skip(f"no Docker daemon answers: {exc}")
    try:
        started = docker.start(TARGET_KINDS)
        credentials = docker.credentials
        env = {password_env(user): credentials.password(user) for user in TEST_USERS}
        settings = Settings(
            known_hosts=str(docker.known_hosts_path),
            ssh_identity_file=started["ubuntu"].key_filename,
            command_timeout=30.0,
        )
        yield PrivilegeTargets(docker, started, settings, env)
    finally:
        docker.close()


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
