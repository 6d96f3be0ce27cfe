"""Docker target lifecycle: build the images under ``containers/``, run them, wait for sshd.

Usable without pytest::

    from pytest_fabricplus.containers import DockerTargets, DockerTargetsConfig

    with DockerTargets(DockerTargetsConfig()) as targets:
        targets.ping()
        for target in targets.start(("ubuntu", "centos7")).values():
            print(target.name, target.port, target.description)

Everything listens on 127.0.0.1 only: sshd is published on a docker-chosen free port of
the loopback interface, and we never talk to container bridge addresses.  Host keys are
not blindly accepted: the key sshd presents on the published port is compared with the
public key file read from inside the container through the Docker API.

Containers carry the label ``pytest-fabricplus=1`` plus a per-session label, so a later
run can remove what a crashed or interrupted run left behind (:meth:`remove_leftovers`).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import hashlib
import importlib
import os
import re
import secrets
import shutil
import socket
import string
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ...settings import DOCKER_TARGET_KINDS
from ...text import one_line

if TYPE_CHECKING:  # imported where used: the plugin loads this module in every process
    import paramiko

__all__ = [
    "DEFAULT_BASE_IMAGES",
    "LABEL_COMMON",
    "LABEL_KIND",
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
    "TargetCredentials",
    "containers_dir",
    "fetch_host_key",
    "image_tag",
    "wait_for_ssh_banner",
]

#: Target kinds shipped under ``containers/<kind>/Dockerfile``.
TARGET_KINDS: tuple[str, ...] = DOCKER_TARGET_KINDS

#: The bases the Dockerfiles default to (need an image registry).
DEFAULT_BASE_IMAGES: Mapping[str, str] = {"ubuntu": "ubuntu:22.04", "centos7": "centos:7"}

#: Built by ``scripts/build-base-images.sh`` from Debian's archive (no registry needed).
REGISTRY_FREE_BASE_IMAGE = "fabricplus-base/debian:bookworm"

#: Users created by ``containers/provision.sh``.
TEST_USERS: tuple[str, ...] = ("fpuser", "fpsu", "fpsudo", "fpnopass")
#: The login user (key + password; sudoer with password).
LOGIN_USER = "fpuser"

LABEL_COMMON = "pytest-fabricplus"
LABEL_SESSION = "pytest-fabricplus.session"
LABEL_KIND = "pytest-fabricplus.kind"
LABEL_KEEP = "pytest-fabricplus.keep"
LABEL_OWNER_HOST = "pytest-fabricplus.owner-host"
LABEL_OWNER_PID = "pytest-fabricplus.owner-pid"
LABEL_IMAGE_HASH = "pytest-fabricplus.context-hash"
LABEL_IMAGE_BASE = "pytest-fabricplus.base-image"
LABEL_IMAGE_BASE_ID = "pytest-fabricplus.base-image-id"

IMAGE_REPOSITORY = "pytest-fabricplus"
MARKER_FILE = "/etc/fabricplus-target"
HOST_KEY_TYPES: tuple[str, ...] = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa")
_HOST_KEY_FILES: Mapping[str, str] = {
    "ssh-ed25519": "/etc/ssh/ssh_host_ed25519_key.pub",
    "ecdsa-sha2-nistp256": "/etc/ssh/ssh_host_ecdsa_key.pub",
    "ssh-rsa": "/etc/ssh/ssh_host_rsa_key.pub",
}
# Bump when the way images are built changes in a way the file hash cannot see.
_HASH_VERSION = "1"
# Files in containers/ that never influence an image.
_HASH_SKIP_SUFFIXES = (".md", ".rst", ".txt")
_HASH_SKIP_NAMES = frozenset(
    {"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}
)
_LOOPBACK = "127.0.0.1"
_LAYER_LINE = re.compile(r"^ ---> ([0-9a-f]{12,64})\s*$")
_BUILD_LOG_TAIL = 40

DockerClient = Any  # docker.DockerClient; the docker SDK ships no type information.
ClientFactory = Callable[[], DockerClient]
OutputCallback = Callable[[str], None]

_DAEMON_HINT = (
    "Start a Docker daemon, e.g. 'sudo systemctl start docker' (systemd) or "
    "'sudo dockerd >/tmp/dockerd.log 2>&1 &', make sure your user may use its socket "
    "(the 'docker' group), or point DOCKER_HOST at a running daemon."
)


class DockerError(Exception):
    """Docker is unreachable, an image build failed, or a target did not come up.

    The message says what failed and, where it helps, what to do about it.
    """


# --------------------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetCredentials:
    """Passwords and the login key for the test users of one run.

    Passwords and the private key never appear in ``repr()``.  They are handed to the
    containers through environment variables read by ``containers/entrypoint.sh``.
    """

    passwords: Mapping[str, str] = field(repr=False)
    public_key: str | None = None
    private_key_path: Path | None = None
    generated: bool = False

    ENV_PREFIX = "FABRICPLUS_PASSWORD_"
    ENV_AUTHORIZED_KEYS = "FABRICPLUS_AUTHORIZED_KEYS"

    @classmethod
    def test_only_defaults(cls) -> TargetCredentials:
        """The TEST-ONLY passwords baked into the images (``<user>-test-only``), no key."""
        return cls(passwords={user: f"{user}-test-only" for user in TEST_USERS})

    @classmethod
    def generate(cls, key_dir: Path) -> TargetCredentials:
        """Fresh random passwords for every test user and an ed25519 login key.

        The private key is written to ``key_dir/id_ed25519`` (mode 0600).
        """
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        alphabet = string.ascii_letters + string.digits
        passwords = {
            user: "fp-" + "".join(secrets.choice(alphabet) for _ in range(20))
            for user in TEST_USERS
        }
        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        public = (
            key.public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode("ascii")
        )
        key_dir.mkdir(parents=True, exist_ok=True)
        key_path = key_dir / "id_ed25519"
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private)
        public_line = f"{public} pytest-fabricplus-test-only"
        (key_dir / "id_ed25519.pub").write_text(public_line + "\n", encoding="ascii")
        return cls(
            passwords=passwords, public_key=public_line, private_key_path=key_path, generated=True
        )

    def password(self, user: str) -> str:
        try:
            return self.passwords[user]
        except KeyError:
            raise DockerError(
                f"no password known for user {user!r}; test users are {', '.join(TEST_USERS)}"
            ) from None

    def environment(self) -> dict[str, str]:
        """The container environment that applies these credentials at start."""
        env: dict[str, str] = {}
        for user, password in sorted(self.passwords.items()):
            if not password or "\n" in password or "\r" in password or "\0" in password:
                raise DockerError(
                    f"invalid password for test user {user!r}: empty or contains a newline/NUL"
                )
            env[self.ENV_PREFIX + user.upper()] = password
        if self.public_key:
            env[self.ENV_AUTHORIZED_KEYS] = self.public_key
        return env


# --------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DockerTarget:
    """One running SSH target container, reachable on 127.0.0.1:port."""

    name: str
    """Alias, the same as the kind (``ubuntu``, ``centos7``)."""
    kind: str
    port: int
    container_id: str
    container_name: str
    image: str
    known_hosts_line: str
    """``[127.0.0.1]:PORT ssh-ed25519 AAAA...``, verified against the container's key file."""
    description: str
    """Contents of ``/etc/fabricplus-target``, e.g. ``centos7 (el7-emulated on debian base)``."""
    credentials: TargetCredentials = field(repr=False, compare=False)
    known_hosts_lines: tuple[str, ...] = ()
    """Every verified host key of the target (ed25519 first)."""
    host: str = _LOOPBACK
    login_user: str = LOGIN_USER
    users: tuple[str, ...] = TEST_USERS

    @property
    def su_works(self) -> bool:
        """Whether ``su - USER -c CMD`` with a password works non-interactively here.

        False on centos7 (real or emulated): use sudo there.  See containers/README.md.
        """
        return self.kind != "centos7"

    @property
    def emulated(self) -> bool:
        return "emulated" in self.description

    @property
    def key_filename(self) -> str | None:
        path = self.credentials.private_key_path
        return str(path) if path is not None else None

    def password(self, user: str | None = None) -> str:
        return self.credentials.password(user or self.login_user)

    def ssh_command(self, user: str | None = None, known_hosts_file: str | None = None) -> str:
        """An OpenSSH command line that connects to this target (no secrets in it)."""
        parts = ["ssh", "-p", str(self.port)]
        if self.key_filename:
            parts += ["-i", self.key_filename, "-o", "IdentitiesOnly=yes"]
        if known_hosts_file:
            parts += [
                "-o",
                f"UserKnownHostsFile={known_hosts_file}",
                "-o",
                "StrictHostKeyChecking=yes",
            ]
        parts.append(f"{user or self.login_user}@{self.host}")
        return " ".join(parts)

    def to_dict(self, include_secrets: bool = False) -> dict[str, Any]:
        """JSON-compatible form, e.g. for xdist ``workerinput``."""
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "host": self.host,
            "port": self.port,
            "container_id": self.container_id,
            "container_name": self.container_name,
            "image": self.image,
            "known_hosts_line": self.known_hosts_line,
            "known_hosts_lines": list(self.known_hosts_lines),
            "description": self.description,
            "login_user": self.login_user,
            "users": list(self.users),
            "key_filename": self.key_filename,
            "public_key": self.credentials.public_key,
        }
        if include_secrets:
            data["passwords"] = dict(self.credentials.passwords)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DockerTarget:
        key = data.get("key_filename")
        credentials = TargetCredentials(
            passwords=dict(data.get("passwords") or {}),
            public_key=data.get("public_key"),
            private_key_path=Path(key) if key else None,
        )
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            port=int(data["port"]),
            container_id=str(data["container_id"]),
            container_name=str(data["container_name"]),
            image=str(data["image"]),
            known_hosts_line=str(data["known_hosts_line"]),
            description=str(data["description"]),
            credentials=credentials,
            known_hosts_lines=tuple(data.get("known_hosts_lines") or (data["known_hosts_line"],)),
            host=str(data.get("host", _LOOPBACK)),
            login_user=str(data.get("login_user", LOGIN_USER)),
            users=tuple(data.get("users") or TEST_USERS),
        )


@dataclass(frozen=True)
class BuiltImage:
    """Result of :meth:`DockerTargets.ensure_images` for one kind."""

    kind: str
    tag: str
    image_id: str
    base_image: str
    built: bool
    """True when this call built the image, False when it was already there."""
    seconds: float


def _new_session_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class DockerTargetsConfig:
    """How targets are built and run.  All fields have working defaults."""

    base_images: Mapping[str, str] | None = None
    """Base image per kind.  None: use the Dockerfile default (``ubuntu:22.04``,
    ``centos:7``) when it is local or can be pulled, else :data:`REGISTRY_FREE_BASE_IMAGE`."""
    pull: bool = field(default_factory=lambda: os.environ.get("FABRICPLUS_DOCKER_PULL") != "0")
    """May missing registry bases be pulled?  False on machines without a registry (the
    environment variable ``FABRICPLUS_DOCKER_PULL=0`` sets that default: no pull is even
    attempted, so no traffic leaves the machine)."""
    session_id: str = field(default_factory=_new_session_id)
    label_value: str = "1"
    keep: bool = False
    """Leave the containers running at :meth:`DockerTargets.close` (for debugging)."""
    context_dir: Path | None = None
    """The ``containers/`` directory; found automatically when None."""
    run_dir: Path | None = None
    """Where the run's login key and known_hosts file go; a new temp dir when None."""
    generate_credentials: bool = True
    """Fresh passwords and key per run; False keeps the images' TEST-ONLY defaults."""
    startup_timeout: float = 30.0
    """Seconds to wait for a container's sshd banner."""
    api_timeout: int = 900
    """Docker API read timeout in seconds (a quiet build step must fit in it)."""


# --------------------------------------------------------------------------------------
# Helpers (module level, usable on their own)
# --------------------------------------------------------------------------------------


def containers_dir() -> Path:
    """Find the ``containers/`` build context.

    ``$FABRICPLUS_CONTAINERS_DIR`` wins; then a copy shipped inside the package; then the
    source checkout next to the package.
    """
    env = os.environ.get("FABRICPLUS_CONTAINERS_DIR")
    candidates = [Path(env)] if env else []
    package = Path(__file__).resolve().parents[2]  # pytest_fabricplus/
    candidates += [package / "containers", package.parent / "containers"]
    for candidate in candidates:
        if (candidate / "provision.sh").is_file():
            return candidate
    raise DockerError(
        "cannot find the containers/ build context (looked in "
        + ", ".join(str(c) for c in candidates)
        + "); set FABRICPLUS_CONTAINERS_DIR to the directory holding provision.sh"
    )


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


def wait_for_ssh_banner(
    port: int,
    host: str = _LOOPBACK,
    timeout: float = 30.0,
    max_attempts: int = 300,
    alive: Callable[[], str | None] | None = None,
) -> str:
    """Wait until ``host:port`` sends an ``SSH-2.0`` banner; return the banner line.

    Bounded by ``timeout`` seconds and ``max_attempts`` connection attempts.  ``alive`` is
    called between attempts and may return an error text to stop waiting early (e.g. the
    container exited).
    """
    if host != _LOOPBACK:
        raise DockerError(f"refusing to probe {host}: targets are only reached on {_LOOPBACK}")
    deadline = time.monotonic() + timeout
    last_error = "no attempt made"
    delay = 0.05
    for _attempt in range(max_attempts):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            with socket.create_connection((host, port), timeout=min(2.0, remaining)) as sock:
                sock.settimeout(min(2.0, max(0.1, deadline - time.monotonic())))
                data = b""
                while b"\n" not in data and len(data) < 256:
                    chunk = sock.recv(256)
                    if not chunk:
                        break
                    data += chunk
            line = data.split(b"\n", 1)[0].strip().decode("ascii", "replace")
            if line.startswith("SSH-2.0"):
                return line
            last_error = (
                f"unexpected answer {line!r}" if line else "connection closed without a banner"
            )
        except OSError as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        if alive is not None:
            problem = alive()
            if problem:
                raise DockerError(f"sshd on {host}:{port} did not come up: {problem}")
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 0.5)
    raise DockerError(
        f"no SSH banner from {host}:{port} within {timeout:.0f}s (last: {last_error})"
    )


def fetch_host_key(
    port: int, key_type: str = "ssh-ed25519", host: str = _LOOPBACK, timeout: float = 10.0
) -> paramiko.PKey:
    """The host key sshd presents for ``key_type`` (key exchange only, no authentication)."""
    if host != _LOOPBACK:
        raise DockerError(f"refusing to contact {host}: targets are only reached on {_LOOPBACK}")
    import paramiko

    sock = socket.create_connection((host, port), timeout=timeout)
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        options = transport.get_security_options()
        options.key_types = (
            [key_type] if key_type != "ssh-rsa" else ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
        )
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    except paramiko.SSHException as exc:
        raise DockerError(
            f"SSH key exchange with {host}:{port} for {key_type} failed: {exc}"
        ) from exc
    finally:
        transport.close()
        sock.close()


def _known_hosts_line(host: str, port: int, key_type: str, key_b64: str) -> str:
    host_part = host if port == 22 else f"[{host}]:{port}"
    return f"{host_part} {key_type} {key_b64}"


def _load_docker() -> Any:
    try:
        return importlib.import_module("docker")
    except ImportError as exc:
        raise DockerError(
            "the 'docker' Python package is required for Docker targets: pip install docker"
        ) from exc


# --------------------------------------------------------------------------------------
# Lifecycle
# --------------------------------------------------------------------------------------


class DockerTargets:
    """Build, run, verify and remove the SSH target containers of one session."""

    def __init__(
        self,
        config: DockerTargetsConfig | None = None,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.config = config or DockerTargetsConfig()
        self._client_factory = client_factory
        self._client: DockerClient = None
        self._run_dir: Path | None = None
        self._owns_run_dir = False
        self._credentials: TargetCredentials | None = None
        self.targets: dict[str, DockerTarget] = {}
        self.images: dict[str, BuiltImage] = {}

    # -- context manager ----------------------------------------------------------
    def __enter__(self) -> DockerTargets:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- client -------------------------------------------------------------------
    @property
    def client(self) -> DockerClient:
        if self._client is None:
            try:
                if self._client_factory is not None:
                    self._client = self._client_factory()
                else:
                    docker = _load_docker()
                    _probe_daemon_socket(_daemon_address())
                    self._client = docker.from_env(timeout=self.config.api_timeout)
            except DockerError:
                raise
            except Exception as exc:  # the SDK raises DockerException, requests errors, OSError
                raise DockerError(
                    f"cannot connect to the Docker daemon ({_daemon_address()}): {exc}. "
                    + _DAEMON_HINT
                ) from exc
        return self._client

    def ping(self) -> None:
        """Raise :class:`DockerError` saying how to start a daemon if none answers."""
        try:
            ok = self.client.ping()
        except DockerError:
            raise
        except Exception as exc:
            raise DockerError(
                f"no Docker daemon answers at {_daemon_address()}: {exc}. {_DAEMON_HINT}"
            ) from exc
        if not ok:
            raise DockerError(
                f"the Docker daemon at {_daemon_address()} did not answer ping. {_DAEMON_HINT}"
            )

    # -- run directory / credentials ----------------------------------------------
    @property
    def run_dir(self) -> Path:
        if self._run_dir is None:
            if self.config.run_dir is not None:
                self._run_dir = self.config.run_dir
                self._run_dir.mkdir(parents=True, exist_ok=True)
            else:
                self._run_dir = Path(
                    tempfile.mkdtemp(prefix=f"pytest-fabricplus-{self.config.session_id}-")
                )
                self._owns_run_dir = True
        return self._run_dir

    @property
    def credentials(self) -> TargetCredentials:
        if self._credentials is None:
            if self.config.generate_credentials:
                self._credentials = TargetCredentials.generate(self.run_dir)
            else:
                self._credentials = TargetCredentials.test_only_defaults()
        return self._credentials

    @property
    def known_hosts_path(self) -> Path:
        """A known_hosts file with the verified keys of all started targets."""
        return self.run_dir / "known_hosts"

    # -- images -------------------------------------------------------------------
    def resolve_base_image(self, kind: str) -> str:
        """The base image a kind is built on (see :attr:`DockerTargetsConfig.base_images`)."""
        _check_kind(kind)
        configured = (self.config.base_images or {}).get(kind)
        if configured:
            return configured
        default = DEFAULT_BASE_IMAGES[kind]
        if self._image_exists(default):
            return default
        pull_error = "pulling disabled"
        if self.config.pull:
            try:
                self.client.images.pull(default)
                return default
            except Exception as exc:  # registry unreachable, unknown image, auth...
                pull_error = f"pull failed: {one_line(exc, keep='start')}"
        if self._image_exists(REGISTRY_FREE_BASE_IMAGE):
            return REGISTRY_FREE_BASE_IMAGE
        raise DockerError(
            f"no base image for target {kind!r}: {default} is not available locally "
            f"({pull_error}) and the registry-free base {REGISTRY_FREE_BASE_IMAGE} does not "
            "exist. Build it with 'sudo scripts/build-base-images.sh' (debootstrap from "
            "Debian's archive), or configure a base image."
        )

    def image_ready(self, kind: str) -> bool:
        """Whether :meth:`ensure_images` would reuse an image for ``kind`` (no build)."""
        context = self.config.context_dir or containers_dir()
        try:
            tag = image_tag(kind, self.resolve_base_image(kind), context)
        except DockerError:
            return False
        return self._get_image(tag) is not None

    def ensure_images(
        self, kinds: Iterable[str] = TARGET_KINDS, on_output: OutputCallback | None = None
    ) -> dict[str, BuiltImage]:
        """Build every missing target image; reuse images whose build inputs did not change."""
        context = self.config.context_dir or containers_dir()
        result: dict[str, BuiltImage] = {}
        for kind in _unique_kinds(kinds):
            started = time.monotonic()
            base = self.resolve_base_image(kind)
            tag = image_tag(kind, base, context)
            base_id = self._image_id(base)
            existing = self._get_image(tag)
            if existing is not None:
                labels = (existing.attrs.get("Config") or {}).get("Labels") or {}
                recorded_base = labels.get(LABEL_IMAGE_BASE_ID)
                if base_id is None or recorded_base in (None, base_id):
                    result[kind] = BuiltImage(
                        kind, tag, existing.id, base, False, time.monotonic() - started
                    )
                    continue
                # The base was rebuilt (e.g. build-base-images.sh --force): rebuild on top of it.
            image_id = self._build(context, kind, base, tag, base_id, on_output)
            result[kind] = BuiltImage(kind, tag, image_id, base, True, time.monotonic() - started)
        self.images.update(result)
        return result

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
            LABEL_COMMON + ".image": self.config.label_value,
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
            image = self._get_image(tag)
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
            image = self._get_image(layer)
            if image is not None and not image.tags:
                self.client.images.remove(image.id, noprune=False)

    def remove_stale_images(self, kinds: Iterable[str] = TARGET_KINDS) -> list[str]:
        """Remove this project's images of ``kinds`` other than the current ones.

        Call after :meth:`ensure_images`.  Images still used by a container (another
        session) are left alone.  Returns the removed tags.
        """
        removed: list[str] = []
        for kind in _unique_kinds(kinds):
            current = self.images.get(kind)
            if current is None:
                continue
            for image in self.client.images.list(filters={"label": f"{LABEL_KIND}={kind}"}):
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

    # -- containers ---------------------------------------------------------------
    def start(self, kinds: Iterable[str] = TARGET_KINDS) -> dict[str, DockerTarget]:
        """Run one container per kind (building images first when needed) and verify it.

        Returns the started targets by name.  On any failure the containers started by
        this call are removed before the error propagates.
        """
        wanted = _unique_kinds(kinds)
        missing = [k for k in wanted if k not in self.images]
        if missing:
            self.ensure_images(missing)
        env = self.credentials.environment()
        started: dict[str, Any] = {}
        try:
            for kind in wanted:
                if kind in self.targets:
                    raise DockerError(
                        f"a {kind} target is already running in session {self.config.session_id}"
                    )
                started[kind] = self.client.containers.run(
                    self.images[kind].tag,
                    detach=True,
                    name=self._container_name(kind),
                    labels=self._labels(kind),
                    environment=env,
                    ports={"22/tcp": (_LOOPBACK, None)},
                    hostname=kind,
                    init=False,
                )
            result = {kind: self._verify(kind, container) for kind, container in started.items()}
        except BaseException:
            for container in started.values():
                _force_remove(container)
            raise
        self.targets.update(result)
        self._write_known_hosts()
        return result

    def _verify(self, kind: str, container: Any) -> DockerTarget:
        port = self._published_port(container)

        def alive() -> str | None:
            container.reload()
            if container.status not in ("created", "running"):
                return f"container {container.name} is {container.status}; its log:\n" + _logs_tail(
                    container
                )
            return None

        wait_for_ssh_banner(port, timeout=self.config.startup_timeout, alive=alive)
        description = self._exec(container, ["cat", MARKER_FILE]).strip() or kind
        lines = []
        for key_type in HOST_KEY_TYPES:
            expected = self._exec(
                container, ["cat", _HOST_KEY_FILES[key_type]], check=False
            ).split()
            if len(expected) < 2:
                if key_type == "ssh-ed25519":
                    raise DockerError(
                        f"{kind}: container {container.name} has no {_HOST_KEY_FILES[key_type]}"
                    )
                continue
            presented = fetch_host_key(port, key_type)
            presented_b64 = presented.get_base64()
            if presented_b64 != expected[1]:
                raise DockerError(
                    f"{kind}: the {key_type} host key presented on {_LOOPBACK}:{port} "
                    f"({_fingerprint(presented_b64)}) differs from the container's own "
                    f"{_HOST_KEY_FILES[key_type]} ({_fingerprint(expected[1])}); "
                    "refusing to trust it"
                )
            lines.append(_known_hosts_line(_LOOPBACK, port, expected[0], presented_b64))
        return DockerTarget(
            name=kind,
            kind=kind,
            port=port,
            container_id=str(container.id),
            container_name=str(container.name),
            image=self.images[kind].tag,
            known_hosts_line=lines[0],
            description=description,
            credentials=self.credentials,
            known_hosts_lines=tuple(lines),
        )

    def _published_port(self, container: Any, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        for _attempt in range(200):
            container.reload()
            ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
            bindings = ports.get("22/tcp") or []
            for binding in bindings:
                if binding.get("HostIp") != _LOOPBACK:
                    raise DockerError(
                        f"container {container.name} publishes sshd beyond {_LOOPBACK}: "
                        f"{bindings}; refusing to use it"
                    )
            for binding in bindings:
                if binding.get("HostPort"):
                    return int(binding["HostPort"])
            if container.status not in ("created", "running"):
                raise DockerError(
                    f"container {container.name} is {container.status} before sshd was "
                    "published; its log:\n" + _logs_tail(container)
                )
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        raise DockerError(
            f"container {container.name}: no {_LOOPBACK} port published for 22/tcp "
            f"within {timeout:.0f}s"
        )

    def _exec(self, container: Any, cmd: Sequence[str], check: bool = True) -> str:
        exit_code, output = container.exec_run(list(cmd), stdout=True, stderr=True, demux=False)
        text = output.decode("utf-8", "replace") if isinstance(output, bytes) else str(output or "")
        if check and exit_code != 0:
            raise DockerError(
                f"'{' '.join(cmd)}' in container {container.name} exited {exit_code}: "
                + text.strip()
            )
        return text if exit_code == 0 else ""

    def container(self, name: str) -> Any:
        """The docker SDK container object of a started target (for tests needing control)."""
        target = self._target(name)
        return self.client.containers.get(target.container_id)

    def stop_target(self, name: str, timeout: int = 5) -> None:
        """Stop a target's container (sshd goes away); :meth:`restart_target` brings it back."""
        self.container(name).stop(timeout=timeout)

    def restart_target(self, name: str) -> DockerTarget:
        """(Re)start a target's container and verify it again; the port may change."""
        target = self._target(name)
        container = self.client.containers.get(target.container_id)
        if container.status == "running":
            container.restart(timeout=5)
        else:
            container.start()
        fresh = self._verify(target.kind, container)
        self.targets[name] = fresh
        self._write_known_hosts()
        return fresh

    def stop(self, timeout: int = 5) -> None:
        """Stop all of this session's containers without removing them."""
        for name in list(self.targets):
            with contextlib.suppress(Exception):  # already gone: nothing to stop
                self.stop_target(name, timeout=timeout)

    def remove(self) -> None:
        """Force-remove all of this session's containers (also ones not in :attr:`targets`)."""
        errors: list[str] = []
        try:
            containers = self.client.containers.list(
                all=True, filters={"label": f"{LABEL_SESSION}={self.config.session_id}"}
            )
        except Exception as exc:
            containers = []
            errors.append(f"listing containers: {one_line(exc, keep='start')}")
        for container in containers:
            problem = _force_remove(container)
            if problem:
                errors.append(problem)
        self.targets.clear()
        if errors:
            raise DockerError("could not remove all target containers: " + "; ".join(errors))

    def close(self) -> str | None:
        """End of session: remove everything, or with ``keep`` leave it and say how to connect.

        Returns the "how to connect" text when containers were kept, else None.
        """
        message: str | None = None
        try:
            if self.config.keep and self.targets:
                message = self.keep_message()
            elif self._client is not None:  # no client: this session started nothing
                self.remove()
        finally:
            if not self.config.keep and self._owns_run_dir and self._run_dir is not None:
                shutil.rmtree(self._run_dir, ignore_errors=True)
                self._run_dir = None
            if self._client is not None:
                with contextlib.suppress(Exception):
                    self._client.close()
                self._client = None
        return message

    def keep_message(self) -> str:
        session = self.config.session_id
        lines = [
            f"pytest-fabricplus kept {len(self.targets)} Docker target(s) (session {session}):"
        ]
        for target in self.targets.values():
            lines.append(f"  {target.name}: {target.description}")
            lines.append(f"    {target.ssh_command(known_hosts_file=str(self.known_hosts_path))}")
        if self.credentials.generated:
            lines.append(f"  passwords: not printed; key and known_hosts in {self.run_dir}")
        else:
            lines.append(
                "  passwords: the TEST-ONLY defaults '<user>-test-only' (containers/README.md)"
            )
        lines.append(
            "  remove with: docker rm -f $(docker ps -aq --filter "
            f"label={LABEL_SESSION}={self.config.session_id})"
        )
        return "\n".join(lines)

    def remove_leftovers(self, include_kept: bool = False) -> list[str]:
        """Remove containers of earlier runs (label ``pytest-fabricplus``) that crashed or
        were interrupted.  Spares this session, containers of a pytest process still alive
        on this host, and (unless ``include_kept``) containers kept with ``keep``.

        Returns the names of the removed containers.
        """
        containers = self.client.containers.list(all=True, filters={"label": LABEL_COMMON})
        removed: list[str] = []
        errors: list[str] = []
        this_host = socket.gethostname()
        for container in containers:
            labels = container.labels or {}
            if labels.get(LABEL_SESSION) == self.config.session_id:
                continue
            if labels.get(LABEL_KEEP) == "1" and not include_kept:
                continue
            if labels.get(LABEL_OWNER_HOST) == this_host and _pid_alive(
                labels.get(LABEL_OWNER_PID)
            ):
                continue
            problem = _force_remove(container)
            if problem:
                errors.append(problem)
            else:
                removed.append(str(container.name))
        if errors:
            raise DockerError("could not remove leftover target containers: " + "; ".join(errors))
        return removed

    # -- internals ----------------------------------------------------------------
    def _target(self, name: str) -> DockerTarget:
        try:
            return self.targets[name]
        except KeyError:
            raise DockerError(
                f"no Docker target named {name!r} in this session "
                f"(running: {', '.join(self.targets) or 'none'})"
            ) from None

    def _container_name(self, kind: str) -> str:
        return f"pytest-fabricplus-{self.config.session_id}-{kind}"

    def _labels(self, kind: str) -> dict[str, str]:
        return {
            LABEL_COMMON: self.config.label_value,
            LABEL_SESSION: self.config.session_id,
            LABEL_KIND: kind,
            LABEL_KEEP: "1" if self.config.keep else "0",
            LABEL_OWNER_HOST: socket.gethostname(),
            LABEL_OWNER_PID: str(os.getpid()),
        }

    def _get_image(self, ref: str) -> Any:
        docker = _load_docker()
        try:
            return self.client.images.get(ref)
        except docker.errors.ImageNotFound:
            return None

    def _image_exists(self, ref: str) -> bool:
        return self._get_image(ref) is not None

    def _image_id(self, ref: str) -> str | None:
        image = self._get_image(ref)
        return str(image.id) if image is not None else None

    def _write_known_hosts(self) -> None:
        lines = [line for target in self.targets.values() for line in target.known_hosts_lines]
        self.known_hosts_path.write_text("".join(line + "\n" for line in lines), encoding="ascii")


# --------------------------------------------------------------------------------------
# Small private helpers
# --------------------------------------------------------------------------------------


def _check_kind(kind: str) -> None:
    if kind not in TARGET_KINDS:
        raise DockerError(
            f"unknown Docker target kind {kind!r}; choose from {', '.join(TARGET_KINDS)}"
        )


def _unique_kinds(kinds: Iterable[str]) -> list[str]:
    result: list[str] = []
    for kind in kinds:
        _check_kind(kind)
        if kind not in result:
            result.append(kind)
    return result


def _daemon_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def _probe_daemon_socket(address: str, timeout: float = 5.0) -> None:
    """Fail early, with the hint, when a unix-socket daemon is not there.

    Works around the docker SDK leaking the socket object when connecting to a unix socket
    fails (docker/transport/unixconn.py does not close it), which surfaces as a
    ResourceWarning, an error under ``filterwarnings = error``.
    """
    if not address.startswith("unix://"):
        return
    path = address[len("unix://") :]
    if not os.path.exists(path):
        raise DockerError(f"no Docker daemon: the socket {path} does not exist. {_DAEMON_HINT}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
    except OSError as exc:
        raise DockerError(f"no Docker daemon answers at {address}: {exc}. {_DAEMON_HINT}") from exc
    finally:
        sock.close()


def _fingerprint(key_b64: str) -> str:
    digest = hashlib.sha256(base64.b64decode(key_b64)).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def _logs_tail(container: Any, lines: int = 20) -> str:
    try:
        raw = container.logs(tail=lines)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    except Exception as exc:
        return f"    (logs unavailable: {one_line(exc, keep='start')})"
    return "\n".join(f"    {line}" for line in text.splitlines()) or "    (empty)"


def _force_remove(container: Any) -> str | None:
    try:
        container.remove(force=True, v=True)
        return None
    except Exception as exc:
        if type(exc).__name__ == "NotFound":
            return None
        return f"{getattr(container, 'name', container)}: {one_line(exc, keep='start')}"


def _pid_alive(pid_text: str | None) -> bool:
    if not pid_text or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
