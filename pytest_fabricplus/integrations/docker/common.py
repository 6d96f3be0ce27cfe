"""What every part of the Docker targets shares: the error, the kinds, labels, the SDK loader.

Standard library only: the docker SDK loads on first use (:func:`load_docker`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

from ...settings import DOCKER_TARGET_KINDS

__all__ = [
    "LABEL_COMMON",
    "LABEL_KIND",
    "LABEL_SESSION",
    "LOOPBACK",
    "TARGET_KINDS",
    "ClientSource",
    "DockerClient",
    "DockerError",
    "check_kind",
    "load_docker",
    "unique_kinds",
]

#: Target kinds shipped under ``containers/<kind>/Dockerfile``.
TARGET_KINDS: tuple[str, ...] = DOCKER_TARGET_KINDS

#: Targets are reached on the loopback interface only (never container bridge addresses).
LOOPBACK = "127.0.0.1"

LABEL_COMMON = "pytest-fabricplus"
LABEL_SESSION = "pytest-fabricplus.session"
LABEL_KIND = "pytest-fabricplus.kind"

DockerClient = Any  # docker.DockerClient; the docker SDK ships no type information.
#: Returns the (lazily created) client: the image builder and the lifecycle share one.
ClientSource = Callable[[], DockerClient]


class DockerError(Exception):
    """Docker is unreachable, an image build failed, or a target did not come up.

    The message says what failed and, where it helps, what to do about it.
    """


def check_kind(kind: str) -> None:
    if kind not in TARGET_KINDS:
        raise DockerError(
            f"unknown Docker target kind {kind!r}; choose from {', '.join(TARGET_KINDS)}"
        )


def unique_kinds(kinds: Iterable[str]) -> list[str]:
    """``kinds`` checked, in order, without repeats."""
    result: list[str] = []
    for kind in kinds:
        check_kind(kind)
        if kind not in result:
            result.append(kind)
    return result


def load_docker() -> Any:
    """The docker SDK, or a :class:`DockerError` saying how to install it."""
    try:
        return importlib.import_module("docker")
    except ImportError as exc:
        raise DockerError(
            "the 'docker' Python package is required for Docker targets: "
            "pip install 'pytest-fabricplus[docker]'"
        ) from exc
