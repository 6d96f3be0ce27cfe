"""Is it there yet, and is it who it says: the daemon socket, sshd's banner, host keys.

* :func:`probe_daemon_socket` fails early, with a hint, when no daemon listens;
* :func:`wait_for_ssh_banner` waits until a port speaks SSH (bounded in time and attempts);
* :func:`verified_known_hosts` compares each host key sshd presents on the published port
  with the public key file read from inside the container, and returns known_hosts lines
  only for keys that match (:func:`fetch_host_key` does the key exchange).

Everything is reached on 127.0.0.1 only.  paramiko loads only when a host key is fetched.

Upstream behaviour worked around here:

* the docker SDK leaks the socket object when connecting to a unix socket fails
  (docker/transport/unixconn.py does not close it), which surfaces as a ResourceWarning,
  an error under ``filterwarnings = error``: :func:`probe_daemon_socket` connects first.
"""

from __future__ import annotations

import base64
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ...hosts.keys import fingerprint_of, known_hosts_line
from .common import LOOPBACK, DockerError

if TYPE_CHECKING:  # loaded by fetch_host_key: importing this module stays light
    import paramiko

__all__ = [
    "DAEMON_HINT",
    "HOST_KEY_FILES",
    "HOST_KEY_TYPES",
    "daemon_address",
    "fetch_host_key",
    "probe_daemon_socket",
    "verified_known_hosts",
    "wait_for_ssh_banner",
]

DAEMON_HINT = (
    "Start a Docker daemon, e.g. 'sudo systemctl start docker' (systemd) or "
    "'sudo dockerd >/tmp/dockerd.log 2>&1 &', make sure your user may use its socket "
    "(the 'docker' group), or point DOCKER_HOST at a running daemon."
)

#: The host key types verified, the first one required (and first in known_hosts).
HOST_KEY_TYPES: tuple[str, ...] = ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa")
HOST_KEY_FILES: Mapping[str, str] = {
    "ssh-ed25519": "/etc/ssh/ssh_host_ed25519_key.pub",
    "ecdsa-sha2-nistp256": "/etc/ssh/ssh_host_ecdsa_key.pub",
    "ssh-rsa": "/etc/ssh/ssh_host_rsa_key.pub",
}


def daemon_address() -> str:
    """Where the docker SDK will look for the daemon (``DOCKER_HOST`` or the default)."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def probe_daemon_socket(address: str, timeout: float = 5.0) -> None:
    """Raise :class:`DockerError` with :data:`DAEMON_HINT` when a unix-socket daemon is not
    there (other addresses are left to the SDK)."""
    if not address.startswith("unix://"):
        return
    path = address[len("unix://") :]
    if not os.path.exists(path):
        raise DockerError(f"no Docker daemon: the socket {path} does not exist. {DAEMON_HINT}")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
    except OSError as exc:
        raise DockerError(f"no Docker daemon answers at {address}: {exc}. {DAEMON_HINT}") from exc
    finally:
        sock.close()


def _refuse_remote(host: str) -> None:
    if host != LOOPBACK:
        raise DockerError(f"refusing to contact {host}: targets are only reached on {LOOPBACK}")


def wait_for_ssh_banner(
    port: int,
    host: str = LOOPBACK,
    timeout: float = 30.0,
    max_attempts: int = 300,
    alive: Callable[[], str | None] | None = None,
) -> str:
    """Wait until ``host:port`` sends an ``SSH-2.0`` banner; return the banner line.

    Bounded by ``timeout`` seconds and ``max_attempts`` connection attempts.  ``alive`` is
    called between attempts and may return an error text to stop waiting early (e.g. the
    container exited).
    """
    _refuse_remote(host)
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
    port: int, key_type: str = "ssh-ed25519", host: str = LOOPBACK, timeout: float = 10.0
) -> paramiko.PKey:
    """The host key sshd presents for ``key_type`` (key exchange only, no authentication)."""
    _refuse_remote(host)
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


def _fingerprint(key_b64: str) -> str:
    return fingerprint_of(base64.b64decode(key_b64))


def verified_known_hosts(
    port: int, read_key_file: Callable[[str], str], what: str, host: str = LOOPBACK
) -> list[str]:
    """known_hosts lines for every host key that sshd on ``host:port`` presents *and* the
    target's own key file holds (ed25519 first; the ed25519 key must exist).

    ``read_key_file(path)`` returns a public key file's text from inside the target ("" when
    it does not exist); ``what`` names the target in messages.  A presented key that differs
    from the file is refused (:class:`DockerError` with both fingerprints).
    """
    lines: list[str] = []
    for key_type in HOST_KEY_TYPES:
        path = HOST_KEY_FILES[key_type]
        expected = read_key_file(path).split()
        if len(expected) < 2:
            if key_type == HOST_KEY_TYPES[0]:
                raise DockerError(f"{what} has no {path}")
            continue
        presented = fetch_host_key(port, key_type, host=host).get_base64()
        if presented != expected[1]:
            raise DockerError(
                f"{what}: the {key_type} host key presented on {host}:{port} "
                f"({_fingerprint(presented)}) differs from the container's own "
                f"{path} ({_fingerprint(expected[1])}); refusing to trust it"
            )
        lines.append(known_hosts_line(host, port, expected[0], presented))
    return lines
