"""The target images: where the build context is, which base they build on, building them.

The build context (``containers/`` at the top of the repository) is package data: the wheel
carries it as ``pytest_fabricplus/_containers`` (see ``[tool.setuptools]`` in
pyproject.toml), an editable install maps that name to the checkout's ``containers/``.
:func:`containers_dir` finds it through :mod:`importlib.resources` either way;
``FABRICPLUS_CONTAINERS_DIR`` points somewhere else.

Images are tagged ``pytest-fabricplus/<kind>:<hash of the build inputs>``: a run reuses an
image whose inputs did not change (no build at all), and rebuilds on top of a base image
that was rebuilt (``python -m pytest_fabricplus build-base --force``).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import importlib.resources
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...text import one_line
from .common import (
    LABEL_COMMON,
    LABEL_KIND,
    TARGET_KINDS,
    ClientSource,
    DockerClient,
    DockerError,
    check_kind,
    docker_call,
    load_docker,
    unique_kinds,
)

__all__ = [
    "BASE_IMAGE_BUILDER",
    "CONTAINERS_DIR_ENV",
    "DEFAULT_BASE_IMAGES",
    "IMAGE_REPOSITORY",
    "REGISTRY_FREE_BASE_IMAGE",
    "BuiltImage",
    "ImageBuilder",
    "base_image_builder",
    "containers_dir",
    "image_tag",
    "pull_by_default",
]

#: The bases the Dockerfiles default to (need an image registry).
DEFAULT_BASE_IMAGES: Mapping[str, str] = {"ubuntu": "ubuntu:22.04", "centos7": "centos:7"}

#: Built by ``python -m pytest_fabricplus build-base`` from Debian's archive (no registry).
REGISTRY_FREE_BASE_IMAGE = "fabricplus-base/debian:bookworm"

#: The registry-free base builder, relative to the build context.
BASE_IMAGE_BUILDER = "base/build-base-image.sh"

CONTAINERS_DIR_ENV = "FABRICPLUS_CONTAINERS_DIR"
IMAGE_REPOSITORY = "pytest-fabricplus"
_PACKAGE_DATA = "pytest_fabricplus._containers"

LABEL_IMAGE_HASH = "pytest-fabricplus.context-hash"
LABEL_IMAGE_BASE = "pytest-fabricplus.base-image"
LABEL_IMAGE_BASE_ID = "pytest-fabricplus.base-image-id"

# Bump when the way images are built changes in a way the file hash cannot see.
_HASH_VERSION = "1"
# Files in containers/ that never influence an image (a directory that is not the kind's
# own, e.g. base/ or __pycache__/, does not either).
_HASH_SKIP_SUFFIXES = (".md", ".rst", ".txt")
_HASH_SKIP_NAMES = frozenset(
    {"__init__.py", "compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}
)
_LAYER_LINE = re.compile(r"^ ---> ([0-9a-f]{12,64})\s*$")
_BUILD_LOG_TAIL = 40

OutputCallback = Callable[[str], None]


def pull_by_default() -> bool:
    """May missing registry bases be pulled?  ``FABRICPLUS_DOCKER_PULL=0`` says no (no
    pull is even attempted, so no traffic leaves the machine)."""
    return os.environ.get("FABRICPLUS_DOCKER_PULL") != "0"


def _shipped_context() -> Path | None:
    try:
        root = importlib.resources.files(_PACKAGE_DATA)
    except ModuleNotFoundError:  # an install without package data (a broken build)
        return None
    path = Path(str(root))
    return path if path.is_dir() else None


def containers_dir() -> Path:
    """The ``containers/`` build context: ``$FABRICPLUS_CONTAINERS_DIR``, else the copy
    shipped with the package.  Raises :class:`DockerError` naming where it looked."""
    env = os.environ.get(CONTAINERS_DIR_ENV)
    if env:
        if (Path(env) / "provision.sh").is_file():
            return Path(env)
        raise DockerError(
            f"{CONTAINERS_DIR_ENV}={env} is not a target build context (no provision.sh "
            "in it); point it at a copy of the containers/ directory, or unset it to use "
            "the one shipped with pytest-fabricplus"
        )
    shipped = _shipped_context()
    if shipped is not None and (shipped / "provision.sh").is_file():
        return shipped
    raise DockerError(
        f"cannot find the target build context: the package data {_PACKAGE_DATA} is "
        f"missing ({shipped or 'not installed'}); reinstall pytest-fabricplus, or set "
        f"{CONTAINERS_DIR_ENV} to a directory holding provision.sh"
    )


def base_image_builder() -> Path:
    """The registry-free base image builder shipped with the package (a bash script)."""
    shipped = _shipped_context()
    script = shipped / BASE_IMAGE_BUILDER if shipped is not None else None
    if script is None or not script.is_file():
        raise DockerError(
            f"the base image builder {BASE_IMAGE_BUILDER} is missing from the package data "
            f"{_PACKAGE_DATA} ({shipped or 'not installed'}); reinstall pytest-fabricplus"
        )
    return script


def _context_hash(context: Path, kind: str, base_image: str) -> str:
    digest = hashlib.sha256()
    digest.update(f"v{_HASH_VERSION}\0{kind}\0{base_image}\0".encode())
    files = []
    for path in sorted(context.rglob("*")):
        if not path.is_file():
            continue
        relpath = path.relative_to(context)
        if path.name in _HASH_SKIP_NAMES or path.suffix in _HASH_SKIP_SUFFIXES:
            continue
        # Another kind's directory does not influence this kind's image.
        if len(relpath.parts) > 1 and relpath.parts[0] != kind:
            continue
        files.append((relpath.as_posix(), path))
    if not any(rel == f"{kind}/Dockerfile" for rel, _ in files):
        raise DockerError(
            f"no Dockerfile for target kind {kind!r} in {context} (expected {kind}/Dockerfile)"
        )
    for rel, path in files:
        digest.update(rel.encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def image_tag(kind: str, base_image: str, context: Path | None = None) -> str:
    """``pytest-fabricplus/<kind>:<hash>`` — changes whenever the build inputs change."""
    digest = _context_hash(context or containers_dir(), kind, base_image)
    return f"{IMAGE_REPOSITORY}/{kind}:{digest[:16]}"


@dataclass(frozen=True)
class BuiltImage:
    """Result of :meth:`ImageBuilder.ensure_images` for one kind."""

    kind: str
    tag: str
    image_id: str
    base_image: str
    built: bool
    """True when this call built the image, False when it was already there."""
    seconds: float


class ImageBuilder:
    """Resolves base images and builds (or reuses) the target images of the context.

    ``client`` returns the Docker client (called on first use: the lifecycle that owns the
    client passes its own, so both share one connection).
    """

    def __init__(
        self,
        client: ClientSource,
        *,
        base_images: Mapping[str, str] | None = None,
        pull: bool | None = None,
        context_dir: Path | None = None,
        label_value: str = "1",
    ) -> None:
        self._client_source = client
        self.base_images = dict(base_images or {})
        """Base image per kind; a kind not in it: see :meth:`resolve_base_image`."""
        self.pull = pull_by_default() if pull is None else pull
        self._context_dir = context_dir
        self.label_value = label_value
        self.images: dict[str, BuiltImage] = {}
        """What :meth:`ensure_images` built or found, by kind."""

    @property
    def client(self) -> DockerClient:
        return self._client_source()

    @property
    def context(self) -> Path:
        """The build context (:func:`containers_dir` unless one was given)."""
        if self._context_dir is None:
            self._context_dir = containers_dir()
        return self._context_dir

    def resolve_base_image(self, kind: str) -> str:
        """The base image ``kind`` is built on: the configured one; else the Dockerfile's
        default (``ubuntu:22.04``, ``centos:7``) when it is local or can be pulled; else
        :data:`REGISTRY_FREE_BASE_IMAGE` when it exists."""
        check_kind(kind)
        configured = self.base_images.get(kind)
        if configured:
            return configured
        default = DEFAULT_BASE_IMAGES[kind]
        if self.get_image(default) is not None:
            return default
        pull_error = "pulling disabled (FABRICPLUS_DOCKER_PULL=0)"
        if self.pull:
            try:
                self.client.images.pull(default)
                return default
            except Exception as exc:  # registry unreachable, unknown image, auth...
                pull_error = f"pull failed: {one_line(exc, keep='start')}"
        if self.get_image(REGISTRY_FREE_BASE_IMAGE) is not None:
            return REGISTRY_FREE_BASE_IMAGE
        raise DockerError(
            f"no base image for target {kind!r}: {default} is not available locally "
            f"({pull_error}) and the registry-free base {REGISTRY_FREE_BASE_IMAGE} does not "
            "exist. Build it with 'sudo python -m pytest_fabricplus build-base' (debootstrap "
            "from Debian's archive, no registry needed), or let Docker pull "
            f"{default} (FABRICPLUS_DOCKER_PULL=1)."
        )

    def image_ready(self, kind: str) -> bool:
        """Whether :meth:`ensure_images` would reuse an image for ``kind`` (no build)."""
        try:
            tag = image_tag(kind, self.resolve_base_image(kind), self.context)
        except DockerError:
            return False
        return self.get_image(tag) is not None

    def ensure_images(
        self, kinds: Iterable[str] = TARGET_KINDS, on_output: OutputCallback | None = None
    ) -> dict[str, BuiltImage]:
        """Build every missing target image; reuse images whose build inputs did not change."""
        context = self.context
        result: dict[str, BuiltImage] = {}
        for kind in unique_kinds(kinds):
            started = time.monotonic()
            base = self.resolve_base_image(kind)
            tag = image_tag(kind, base, context)
            base_id = self._image_id(base)
            existing = self.get_image(tag)
            if existing is not None:
                labels = (existing.attrs.get("Config") or {}).get("Labels") or {}
                recorded_base = labels.get(LABEL_IMAGE_BASE_ID)
                if base_id is None or recorded_base in (None, base_id):
                    result[kind] = BuiltImage(
                        kind, tag, existing.id, base, False, time.monotonic() - started
                    )
                    continue
                # The base was rebuilt (e.g. build-base --force): rebuild on top of it.
            image_id = self._build(context, kind, base, tag, base_id, on_output)
            result[kind] = BuiltImage(kind, tag, image_id, base, True, time.monotonic() - started)
        self.images.update(result)
        return result

    def remove_stale_images(self, kinds: Iterable[str] = TARGET_KINDS) -> list[str]:
        """Remove this project's images of ``kinds`` other than the current ones.

        Call after :meth:`ensure_images`.  Images still used by a container (another
        session) are left alone.  Returns the removed tags.
        """
        removed: list[str] = []
        for kind in unique_kinds(kinds):
            current = self.images.get(kind)
            if current is None:
                continue
            with docker_call(f"listing the {kind} target images"):
                images = self.client.images.list(filters={"label": f"{LABEL_KIND}={kind}"})
            for image in images:
                labels = image.labels or {}
                if LABEL_IMAGE_HASH not in labels or image.id == current.image_id:
                    continue
                for tag in image.tags:
                    if not tag.startswith(f"{IMAGE_REPOSITORY}/{kind}:"):
                        continue
                    try:
                        self.client.images.remove(tag, noprune=False)
                    except Exception:  # in use by a container: keep it
                        continue
                    removed.append(tag)
        return removed

    def get_image(self, ref: str) -> Any:
        """The SDK image object for ``ref``, or None."""
        docker = load_docker()
        with docker_call(f"looking up image {ref}"):
            try:
                return self.client.images.get(ref)
            except docker.errors.ImageNotFound:
                return None

    # -- internals ----------------------------------------------------------------
    def _image_id(self, ref: str) -> str | None:
        image = self.get_image(ref)
        return str(image.id) if image is not None else None

    def _build(
        self,
        context: Path,
        kind: str,
        base: str,
        tag: str,
        base_id: str | None,
        on_output: OutputCallback | None,
    ) -> str:
        labels = {
            LABEL_COMMON + ".image": self.label_value,
            LABEL_KIND: kind,
            LABEL_IMAGE_HASH: tag.rsplit(":", 1)[1],
            LABEL_IMAGE_BASE: base,
        }
        if base_id:
            labels[LABEL_IMAGE_BASE_ID] = base_id
        tail: collections.deque[str] = collections.deque(maxlen=_BUILD_LOG_TAIL)
        error: str | None = None
        last_layer: str | None = None  # the classic builder's " ---> <id>" after each step
        try:
            stream = self.client.api.build(
                path=str(context),
                dockerfile=f"{kind}/Dockerfile",
                tag=tag,
                buildargs={"BASE_IMAGE": base},
                labels=labels,
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
            )
            for chunk in stream:
                if not isinstance(chunk, dict):
                    continue
                text = chunk.get("stream") or chunk.get("status") or ""
                if text:
                    for line in str(text).splitlines():
                        layer = _LAYER_LINE.match(line)
                        if layer:
                            last_layer = layer.group(1)
                        if line.strip():
                            tail.append(line.rstrip())
                            if on_output is not None:
                                on_output(line.rstrip())
                if "error" in chunk or "errorDetail" in chunk:
                    detail = chunk.get("errorDetail") or {}
                    error = str(chunk.get("error") or detail.get("message") or chunk)
                    tail.append(error)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            image = self.get_image(tag)
            if image is not None:
                return str(image.id)
            error = f"the build finished but image {tag} does not exist"
        self._remove_failed_layers(last_layer, base_id)
        log = "\n".join(f"    {line}" for line in tail) or "    (no output)"
        raise DockerError(
            f"building the {kind} target image {tag} (FROM {base}, context {context}, "
            f"Dockerfile {kind}/Dockerfile) failed: {error}\n"
            f"  last {len(tail)} lines of the build log:\n{log}"
        )

    def _remove_failed_layers(self, layer: str | None, base_id: str | None) -> None:
        """Drop the untagged image a failed build left on top of its last good step.

        Docker prunes its untagged, childless parents with it; tagged images (the base)
        and layers other images build on are never touched.
        """
        if not layer or (base_id and base_id.split(":")[-1].startswith(layer)):
            return
        with contextlib.suppress(Exception):
            image = self.get_image(layer)
            if image is not None and not image.tags:
                self.client.images.remove(image.id, noprune=False)
