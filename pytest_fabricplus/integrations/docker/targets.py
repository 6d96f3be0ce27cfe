"""Docker target lifecycle: run the target images, wait for sshd, verify it, remove it.

Usable without pytest::

    from pytest_fabricplus.integrations.docker import DockerTargets, DockerTargetsConfig

    with DockerTargets(DockerTargetsConfig()) as targets:
        targets.ping()
        for target in targets.start(("ubuntu", "centos7")).values():
            print(target.name, target.port, target.description)

Images come from an :class:`~.images.ImageBuilder` (``images.py``); the daemon, banner and
host-key probes are in ``probe.py``; passwords and the login key in ``credentials.py``.

Everything listens on 127.0.0.1 only: sshd is published on a docker-chosen free port of
the loopback interface, and we never talk to container bridge addresses.  Host keys are
not blindly accepted: the key sshd presents on the published port is compared with the
public key file read from inside the container through the Docker API.

Containers carry the label ``pytest-fabricplus=1`` plus a per-session label, so a later
run can remove what a crashed or interrupted run left behind (:meth:`remove_leftovers`).

The docker SDK loads with the first client; importing this module loads only the standard
library (the plugin imports it in every process, for the ``docker_targets`` fixture).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from ...text import one_line
from .common import (
    LABEL_COMMON,
    LABEL_KIND,
    LABEL_SESSION,
    LOOPBACK,
    TARGET_KINDS,
    ClientSource,
    DockerClient,
    DockerError,
    docker_call,
    load_docker,
    unique_kinds,
)
from .credentials import LOGIN_USER, TEST_USERS, TargetCredentials
from .images import BuiltImage, ImageBuilder, OutputCallback, pull_by_default
from .probe import (
    DAEMON_HINT,
    daemon_address,
    probe_daemon_socket,
    verified_known_hosts,
    wait_for_ssh_banner,
)

__all__ = [
    "LABEL_KEEP",
    "LABEL_OWNER_HOST",
    "LABEL_OWNER_PID",
    "MARKER_FILE",
    "DockerTarget",
    "DockerTargets",
    "DockerTargetsConfig",
]

LABEL_KEEP = "pytest-fabricplus.keep"
LABEL_OWNER_HOST = "pytest-fabricplus.owner-host"
LABEL_OWNER_PID = "pytest-fabricplus.owner-pid"
#: What a target is (``centos7 (el7-emulated on debian base)``), written by provision.sh.
MARKER_FILE = "/etc/fabricplus-target"


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
    host: str = LOOPBACK
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
            host=str(data.get("host", LOOPBACK)),
            login_user=str(data.get("login_user", LOGIN_USER)),
            users=tuple(data.get("users") or TEST_USERS),
        )


def _new_session_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass(frozen=True)
class DockerTargetsConfig:
    """How targets are built and run.  All fields have working defaults.

    ``base_images``, ``pull``, ``context_dir`` and ``label_value`` configure the default
    :class:`~.images.ImageBuilder`.
    """

    base_images: Mapping[str, str] | None = None
    """Base image per kind.  None: use the Dockerfile default (``ubuntu:22.04``,
    ``centos:7``) when it is local or can be pulled, else :data:`REGISTRY_FREE_BASE_IMAGE`."""
    pull: bool = field(default_factory=pull_by_default)
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


class DockerTargets:
    """Run, verify, stop and remove the SSH target containers of one session.

    Images come from an :class:`~.images.ImageBuilder` (given, or made from the config);
    :meth:`ensure_images` and friends are the builder's, here for convenience.
    """

    def __init__(
        self,
        config: DockerTargetsConfig | None = None,
        client_factory: ClientSource | None = None,
        images: ImageBuilder | None = None,
    ) -> None:
        self.config = config or DockerTargetsConfig()
        self._client_factory = client_factory
        self._client: DockerClient = None
        self.image_builder = (
            images
            if images is not None
            else ImageBuilder(
                lambda: self.client,
                base_images=self.config.base_images,
                pull=self.config.pull,
                context_dir=self.config.context_dir,
                label_value=self.config.label_value,
            )
        )
        """Builds or finds the images :meth:`start` runs (by default one sharing this
        lifecycle's client and configured from :attr:`config`)."""
        self._run_dir: Path | None = None
        self._owns_run_dir = False
        self._credentials: TargetCredentials | None = None
        self.targets: dict[str, DockerTarget] = {}

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
                    docker = load_docker()
                    probe_daemon_socket(daemon_address())
                    self._client = docker.from_env(timeout=self.config.api_timeout)
            except DockerError:
                raise
            except Exception as exc:  # the SDK raises DockerException, requests errors, OSError
                raise DockerError(
                    f"cannot connect to the Docker daemon ({daemon_address()}): {exc}. "
                    + DAEMON_HINT
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
                f"no Docker daemon answers at {daemon_address()}: {exc}. {DAEMON_HINT}"
            ) from exc
        if not ok:
            raise DockerError(
                f"the Docker daemon at {daemon_address()} did not answer ping. {DAEMON_HINT}"
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

    # -- images (the builder's) ---------------------------------------------------
    @property
    def images(self) -> dict[str, BuiltImage]:
        """The images :meth:`ensure_images` built or found, by kind."""
        return self.image_builder.images

    def resolve_base_image(self, kind: str) -> str:
        return self.image_builder.resolve_base_image(kind)

    def image_ready(self, kind: str) -> bool:
        return self.image_builder.image_ready(kind)

    def ensure_images(
        self, kinds: Iterable[str] = TARGET_KINDS, on_output: OutputCallback | None = None
    ) -> dict[str, BuiltImage]:
        return self.image_builder.ensure_images(kinds, on_output)

    def remove_stale_images(self, kinds: Iterable[str] = TARGET_KINDS) -> list[str]:
        return self.image_builder.remove_stale_images(kinds)

    # -- containers ---------------------------------------------------------------
    def start(self, kinds: Iterable[str] = TARGET_KINDS) -> dict[str, DockerTarget]:
        """Run one container per kind (building images first when needed) and verify it.

        Returns the started targets by name.  On any failure the containers started by
        this call are removed before the error propagates.
        """
        wanted = unique_kinds(kinds)
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
                tag = self.images[kind].tag
                name = self._container_name(kind)
                with docker_call(f"starting the {kind} target container {name} from image {tag}"):
                    started[kind] = self.client.containers.run(
                        tag,
                        detach=True,
                        name=name,
                        labels=self._labels(kind),
                        environment=env,
                        ports={"22/tcp": (LOOPBACK, None)},
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
            with docker_call(f"reading the state of container {container.name} ({kind})"):
                container.reload()
            if container.status not in ("created", "running"):
                return f"container {container.name} is {container.status}; its log:\n" + _logs_tail(
                    container
                )
            return None

        wait_for_ssh_banner(port, timeout=self.config.startup_timeout, alive=alive)
        description = self._exec(container, ["cat", MARKER_FILE]).strip() or kind
        lines = verified_known_hosts(
            port,
            lambda path: self._exec(container, ["cat", path], check=False),
            f"{kind}: container {container.name}",
        )
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
            with docker_call(f"reading the published ports of container {container.name}"):
                container.reload()
            ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
            bindings = ports.get("22/tcp") or []
            for binding in bindings:
                if binding.get("HostIp") != LOOPBACK:
                    raise DockerError(
                        f"container {container.name} publishes sshd beyond {LOOPBACK}: "
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
            f"container {container.name}: no {LOOPBACK} port published for 22/tcp "
            f"within {timeout:.0f}s"
        )

    def _exec(self, container: Any, cmd: Sequence[str], check: bool = True) -> str:
        with docker_call(f"running '{' '.join(cmd)}' in container {container.name}"):
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
        with docker_call(f"finding container {target.container_name} of the {name} target"):
            return self.client.containers.get(target.container_id)

    def stop_target(self, name: str, timeout: int = 5) -> None:
        """Stop a target's container (sshd goes away); :meth:`restart_target` brings it back."""
        container = self.container(name)
        with docker_call(f"stopping container {container.name} of the {name} target"):
            container.stop(timeout=timeout)

    def restart_target(self, name: str) -> DockerTarget:
        """(Re)start a target's container and verify it again; the port may change."""
        target = self._target(name)
        container = self.container(name)
        with docker_call(f"restarting container {container.name} of the {name} target"):
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
                ignore_removed=True,
                all=True,
                filters={"label": f"{LABEL_SESSION}={self.config.session_id}"},
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
        with docker_call(f"listing containers labelled {LABEL_COMMON}"):
            containers = self.client.containers.list(
                ignore_removed=True, all=True, filters={"label": LABEL_COMMON}
            )
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

    def _write_known_hosts(self) -> None:
        lines = [line for target in self.targets.values() for line in target.known_hosts_lines]
        self.known_hosts_path.write_text("".join(line + "\n" for line in lines), encoding="ascii")


# --------------------------------------------------------------------------------------
# Small private helpers
# --------------------------------------------------------------------------------------


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
