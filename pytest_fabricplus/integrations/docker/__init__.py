"""Docker SSH targets: the shipped ``ubuntu`` and ``centos7`` containers, run for a session.

One module per concern:

* ``credentials`` — the test users' passwords (TEST-ONLY defaults or fresh per run), the
  login key;
* ``images`` — the build context (package data, found through ``importlib.resources``), the
  base image (registry, or the registry-free one), building and reusing the images;
* ``probe`` — the daemon socket, sshd's banner, host-key fetch and verification;
* ``targets`` — the lifecycle: start, verify, stop, restart, remove, leftovers, keep;
* ``common`` — the error, the kinds and labels they share.

Importing this package loads the standard library only: the docker SDK loads with the
first client, paramiko with the first host-key check, cryptography when a key is made.
"""

from __future__ import annotations

from .common import LABEL_COMMON, LABEL_KIND, LABEL_SESSION, TARGET_KINDS, DockerError
from .credentials import LOGIN_USER, TEST_USERS, TargetCredentials
from .images import (
    DEFAULT_BASE_IMAGES,
    REGISTRY_FREE_BASE_IMAGE,
    BuiltImage,
    ImageBuilder,
    base_image_builder,
    containers_dir,
    image_tag,
)
from .probe import fetch_host_key, verified_known_hosts, wait_for_ssh_banner
from .targets import (
    LABEL_KEEP,
    LABEL_OWNER_HOST,
    LABEL_OWNER_PID,
    DockerTarget,
    DockerTargets,
    DockerTargetsConfig,
)

__all__ = [
    "DEFAULT_BASE_IMAGES",
    "LABEL_COMMON",
    "LABEL_KEEP",
    "LABEL_KIND",
    "LABEL_OWNER_HOST",
    "LABEL_OWNER_PID",
    "LABEL_SESSION",
    "LOGIN_USER",
    "REGISTRY_FREE_BASE_IMAGE",
    "TARGET_KINDS",
    "TEST_USERS",
    "BuiltImage",
    "DockerError",
    "DockerTarget",
    "DockerTargets",
    "DockerTargetsConfig",
    "ImageBuilder",
    "TargetCredentials",
    "base_image_builder",
    "containers_dir",
    "fetch_host_key",
    "image_tag",
    "verified_known_hosts",
    "wait_for_ssh_banner",
]
