"""ImageBuilder's choice of base image, against a fake Docker client (no daemon)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

docker = pytest.importorskip("docker")

from pytest_fabricplus.integrations.docker import (  # noqa: E402  (after the skip)
    REGISTRY_FREE_BASE_IMAGE,
    DockerError,
    DockerTargets,
    DockerTargetsConfig,
    ImageBuilder,
)


class FakeImages:
    def __init__(self, present: set[str], pullable: set[str]) -> None:
        self.present = present
        self.pullable = pullable
        self.pulled: list[str] = []

    def get(self, ref: str) -> Any:
        if ref not in self.present:
            raise docker.errors.ImageNotFound(ref)
        return type("Image", (), {"id": f"sha256:{ref}", "tags": [ref], "attrs": {}})()

    def pull(self, ref: str) -> None:
        self.pulled.append(ref)
        if ref not in self.pullable:
            raise docker.errors.APIError("pull access denied: no registry")
        self.present.add(ref)


class FakeClient:
    def __init__(self, present: Iterable[str] = (), pullable: Iterable[str] = ()) -> None:
        self.images = FakeImages(set(present), set(pullable))


def builder(client: FakeClient, **kw: Any) -> ImageBuilder:
    return ImageBuilder(lambda: client, **kw)


def test_a_configured_base_wins() -> None:
    client = FakeClient()
    assert builder(client, base_images={"ubuntu": "my/ubuntu:1"}).resolve_base_image("ubuntu") == (
        "my/ubuntu:1"
    )
    assert client.images.pulled == []


def test_the_registry_default_when_local_or_pullable() -> None:
    assert builder(FakeClient({"centos:7"}), pull=False).resolve_base_image("centos7") == "centos:7"
    client = FakeClient(pullable={"ubuntu:22.04"})
    assert builder(client, pull=True).resolve_base_image("ubuntu") == "ubuntu:22.04"
    assert client.images.pulled == ["ubuntu:22.04"]


def test_without_a_registry_the_registry_free_base() -> None:
    client = FakeClient({REGISTRY_FREE_BASE_IMAGE})
    assert builder(client, pull=True).resolve_base_image("centos7") == REGISTRY_FREE_BASE_IMAGE
    assert client.images.pulled == ["centos:7"]  # tried, failed
    quiet = FakeClient({REGISTRY_FREE_BASE_IMAGE})
    assert builder(quiet, pull=False).resolve_base_image("ubuntu") == REGISTRY_FREE_BASE_IMAGE
    assert quiet.images.pulled == []  # FABRICPLUS_DOCKER_PULL=0: not even tried


def test_no_base_at_all_says_how_to_build_one() -> None:
    with pytest.raises(DockerError) as info:
        builder(FakeClient(), pull=False).resolve_base_image("ubuntu")
    message = str(info.value)
    assert (
        "ubuntu:22.04 is not available locally (pulling disabled (FABRICPLUS_DOCKER_PULL=0))"
        in message
    )
    assert "python -m pytest_fabricplus build-base" in message
    assert not builder(FakeClient(), pull=False).image_ready("ubuntu")


def test_pull_default_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FABRICPLUS_DOCKER_PULL", "0")
    assert builder(FakeClient()).pull is False
    assert DockerTargetsConfig().pull is False
    monkeypatch.delenv("FABRICPLUS_DOCKER_PULL")
    assert builder(FakeClient()).pull is True


def test_the_lifecycle_takes_a_builder_and_shares_its_client_otherwise() -> None:
    client = FakeClient({REGISTRY_FREE_BASE_IMAGE})
    given = builder(client, pull=False)
    targets = DockerTargets(
        DockerTargetsConfig(pull=False), client_factory=lambda: client, images=given
    )
    assert targets.image_builder is given
    assert targets.resolve_base_image("ubuntu") == REGISTRY_FREE_BASE_IMAGE
    own = DockerTargets(
        DockerTargetsConfig(pull=False, base_images={"centos7": "x/c7:1"}),
        client_factory=lambda: client,
    )
    assert own.image_builder.client is client
    assert own.resolve_base_image("centos7") == "x/c7:1"
    assert own.images is own.image_builder.images
