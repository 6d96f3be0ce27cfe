"""Docker SDK errors become a ``DockerError`` naming the container or image and the
operation (no daemon: fake SDK objects raising the SDK's own exception classes)."""

from __future__ import annotations

from typing import Any

import pytest

docker = pytest.importorskip("docker")
requests = pytest.importorskip("requests")

from pytest_fabricplus import FabricPlusError  # noqa: E402  (after the skip)
from pytest_fabricplus.integrations.docker import (  # noqa: E402
    DockerError,
    DockerTargets,
    DockerTargetsConfig,
    ImageBuilder,
)
from pytest_fabricplus.integrations.docker.common import docker_call  # noqa: E402
from pytest_fabricplus.integrations.docker.images import BuiltImage  # noqa: E402


def test_docker_error_is_a_fabricplus_error() -> None:
    assert issubclass(DockerError, FabricPlusError)


@pytest.mark.parametrize(
    "exc",
    [
        docker.errors.APIError("500 Server Error: boom"),
        docker.errors.NotFound("No such container: abc"),
        docker.errors.ImageNotFound("No such image: x:1"),
        docker.errors.DockerException("Error while fetching server API version"),
        requests.exceptions.ConnectionError("Connection aborted."),
        requests.exceptions.ReadTimeout("Read timed out."),
    ],
    ids=type,
)
def test_sdk_errors_are_wrapped_naming_the_operation(exc: Exception) -> None:
    with pytest.raises(DockerError) as info, docker_call("stopping container c1"):
        raise exc
    assert str(info.value).startswith(f"stopping container c1 failed: {type(exc).__name__}: ")
    assert info.value.__cause__ is exc


def test_a_bug_is_not_wrapped() -> None:
    with pytest.raises(TypeError), docker_call("stopping container c1"):
        raise TypeError("ours")


class FakeContainers:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def run(self, image: str, **kwargs: Any) -> Any:
        raise self.error

    def get(self, container_id: str) -> Any:
        raise self.error

    def list(self, **kwargs: Any) -> Any:
        raise self.error


class FakeContainer:
    name = "pytest-fabricplus-s1-ubuntu"

    def exec_run(self, cmd: list[str], **kwargs: Any) -> Any:
        raise docker.errors.NotFound(f"No such container: {self.name}")

    def reload(self) -> None:
        raise requests.exceptions.ConnectionError("Connection aborted.")


class FakeClient:
    def __init__(self, error: Exception) -> None:
        self.containers = FakeContainers(error)


def fake_targets(error: Exception) -> DockerTargets:
    client = FakeClient(error)
    config = DockerTargetsConfig(session_id="s1", generate_credentials=False)
    targets = DockerTargets(config, client_factory=lambda: client)
    targets.images["ubuntu"] = BuiltImage("ubuntu", "fp/ubuntu:abc", "sha256:1", "b", False, 0)
    return targets


def test_containers_run_names_kind_container_and_image() -> None:
    targets = fake_targets(docker.errors.APIError("409 Conflict: name in use"))
    with pytest.raises(DockerError) as info:
        targets.start(["ubuntu"])
    assert str(info.value) == (
        "starting the ubuntu target container pytest-fabricplus-s1-ubuntu from image "
        "fp/ubuntu:abc failed: APIError: 409 Conflict: name in use"
    )


def test_exec_and_reload_name_the_container() -> None:
    targets = fake_targets(RuntimeError("unused"))
    with pytest.raises(DockerError, match=r"^running 'cat /etc/x' in container pytest-fab"):
        targets._exec(FakeContainer(), ["cat", "/etc/x"])
    with pytest.raises(
        DockerError,
        match=r"^reading the published ports of container pytest-fabricplus-s1-ubuntu failed: "
        r"ConnectionError",
    ):
        targets._published_port(FakeContainer())


def test_listing_leftovers_is_wrapped() -> None:
    targets = fake_targets(requests.exceptions.ConnectionError("Connection refused"))
    with pytest.raises(DockerError, match=r"^listing containers labelled pytest-fabricplus"):
        targets.remove_leftovers()


def test_image_lookup_other_than_not_found_is_wrapped() -> None:
    class Images:
        def get(self, ref: str) -> Any:
            raise docker.errors.APIError("500 Server Error: layer broken")

    client = type("Client", (), {"images": Images()})()
    builder = ImageBuilder(lambda: client)
    with pytest.raises(DockerError, match=r"^looking up image fp/ubuntu:1 failed: APIError: 500"):
        builder.get_image("fp/ubuntu:1")
