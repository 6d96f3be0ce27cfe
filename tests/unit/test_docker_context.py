"""The target build context is package data found through importlib.resources; image tags
hash only what goes into an image."""

from __future__ import annotations

import importlib.resources
import shutil
from pathlib import Path

import pytest

from pytest_fabricplus.integrations.docker import DockerError, containers_dir, image_tag
from pytest_fabricplus.integrations.docker.images import base_image_builder

BASE = "fabricplus-base/debian:bookworm"


def test_the_context_is_the_package_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FABRICPLUS_CONTAINERS_DIR", raising=False)
    shipped = Path(str(importlib.resources.files("pytest_fabricplus._containers")))
    assert containers_dir() == shipped
    assert (shipped / "provision.sh").is_file()
    assert base_image_builder() == shipped / "base" / "build-base-image.sh"


def test_the_environment_overrides_and_a_wrong_override_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "provision.sh").write_text("#!/bin/sh\n")
    monkeypatch.setenv("FABRICPLUS_CONTAINERS_DIR", str(tmp_path))
    assert containers_dir() == tmp_path
    monkeypatch.setenv("FABRICPLUS_CONTAINERS_DIR", str(tmp_path / "missing"))
    with pytest.raises(DockerError, match="is not a target build context"):
        containers_dir()


@pytest.fixture
def context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("FABRICPLUS_CONTAINERS_DIR", raising=False)
    copy = tmp_path / "containers"
    shutil.copytree(containers_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_tags_ignore_what_never_reaches_an_image(context: Path) -> None:
    before = {kind: image_tag(kind, BASE, context) for kind in ("ubuntu", "centos7")}
    (context / "README.md").write_text("changed")
    (context / "__init__.py").write_text("# changed")
    (context / "base" / "build-base-image.sh").write_text("# changed")
    (context / "compose.yaml").write_text("# changed")
    assert {kind: image_tag(kind, BASE, context) for kind in before} == before
    (context / "ubuntu" / "Dockerfile").write_text("FROM scratch\n")
    assert image_tag("ubuntu", BASE, context) != before["ubuntu"]
    assert image_tag("centos7", BASE, context) == before["centos7"]
    (context / "provision.sh").write_text("#!/bin/sh\n")
    assert image_tag("centos7", BASE, context) != before["centos7"]
