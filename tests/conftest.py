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
* ``hub_executor``: the pool threads a fleet-mode ``Hub`` hands blocking calls to (the unit
  tests of ``ssh/cooperative.py`` and the persistent shell's in a hub).

Other than a missing daemon, any failure (image build, sshd not coming up) is an error that
says what went wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from pytest_fabricplus import ConnectionRegistry, Settings
from pytest_fabricplus.integrations.docker import (
    TARGET_KINDS,
    TEST_USERS,
    DockerError,
    DockerTargets,
    DockerTargetsConfig,
)
from pytest_fabricplus.ssh.connection import FabricPlusConnection
from testing.containers import PrivilegeTargets, password_env
from testing.need import NEED_DOCKER, need


@pytest.fixture(scope="session")
def require_docker() -> None:
    """A Docker daemon answers; else a failure under ``FABRICPLUS_NEED_DOCKER=1``, a skip
    otherwise (a green run of the test command means the container tests ran)."""
    probe = DockerTargets()
    try:
        probe.ping()
    except DockerError as exc:
        need(NEED_DOCKER, f"no Docker daemon answers (start dockerd): {exc}")
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


@pytest.fixture
def hub_executor() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(4)
    yield executor
    executor.shutdown(wait=True)
