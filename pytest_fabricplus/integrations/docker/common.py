"""What every part of the Docker targets shares: the error, the kinds, labels, the SDK loader.

Standard library only: the docker SDK loads on first use (:func:`load_docker`).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ...errors import DockerError
from ...settings import DOCKER_TARGET_KINDS
from ...text import one_line

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
    "docker_call",
    "load_docker",
    "sdk_errors",
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


def sdk_errors() -> tuple[type[Exception], ...]:
    """What the Docker SDK and the HTTP stack under it raise, as far as they are loaded:
    ``docker.errors.DockerException`` (``APIError``, ``NotFound``, ``ImageNotFound``, ...),
    urllib3's ``HTTPError``, and ``OSError`` (requests' ``RequestException`` is one)."""
    found: list[type[Exception]] = [OSError]
    for module, name in (("docker.errors", "DockerException"), ("urllib3.exceptions", "HTTPError")):
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            found.append(cls)
    return tuple(found)


@contextlib.contextmanager
def docker_call(operation: str) -> Iterator[None]:
    """A Docker SDK error raised inside becomes a :class:`DockerError` saying which
    ``operation`` (naming the container or image) failed and why; anything else (a bug)
    propagates as it is."""
    try:
        yield
    except DockerError:
        raise
    except Exception as exc:
        if not isinstance(exc, sdk_errors()):
            raise
        raise DockerError(
            f"{operation} failed: {type(exc).__name__}: {one_line(exc, keep='start')}"
        ) from exc


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
