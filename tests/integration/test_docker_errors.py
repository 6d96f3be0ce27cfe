"""Docker SDK errors from a real daemon are ``DockerError``s naming container and operation.

Containers that do not exist (never created, or already removed): the daemon's own 404s,
no image needed. ``require_docker`` fails these tests without a daemon under the test
command.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from pytest_fabricplus import FabricPlusError
from pytest_fabricplus.integrations.docker import (
    DockerError,
    DockerTarget,
    DockerTargets,
    DockerTargetsConfig,
)
from pytest_fabricplus.integrations.docker.credentials import TargetCredentials


@pytest.fixture
def targets(require_docker: None) -> Iterator[DockerTargets]:
    with DockerTargets(DockerTargetsConfig(generate_credentials=False)) as targets:
        yield targets


def gone_target(name: str) -> DockerTarget:
    """A target whose container does not exist (removed behind our back)."""
    return DockerTarget(
        name=name,
        kind=name,
        port=1,
        container_id=secrets.token_hex(32),
        container_name=f"pytest-fabricplus-gone-{name}",
        image="none",
        known_hosts_line="",
        description=name,
        credentials=TargetCredentials.test_only_defaults(),
    )


def test_stop_and_restart_of_a_removed_container(targets: DockerTargets) -> None:
    targets.targets["ubuntu"] = gone_target("ubuntu")
    for call in (targets.stop_target, targets.restart_target):
        with pytest.raises(DockerError) as info:
            call("ubuntu")
        text = str(info.value)
        assert text.startswith(
            "finding container pytest-fabricplus-gone-ubuntu of the ubuntu target failed: "
            "NotFound: 404 Client Error"
        ), text
        assert isinstance(info.value, FabricPlusError)
    targets.targets.clear()


def test_exec_in_a_removed_container(targets: DockerTargets) -> None:
    # the SDK's container object for an id the daemon does not know (no API call yet)
    container = targets.client.containers.prepare_model(
        {"Id": secrets.token_hex(32), "Name": "/pytest-fabricplus-gone-exec"}
    )
    with pytest.raises(DockerError) as info:
        targets._exec(container, ["cat", "/etc/fabricplus-target"])
    assert str(info.value).startswith(
        "running 'cat /etc/fabricplus-target' in container pytest-fabricplus-gone-exec failed: "
        "NotFound: 404 Client Error"
    ), str(info.value)
