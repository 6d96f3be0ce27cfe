"""How OpenSSH spells host keys: fingerprints and known_hosts host names (pure, no paramiko).

Used by ``ssh/hostkeys.py`` (which re-exports both) and by the Docker targets, which write
known_hosts lines for the keys they verified without loading the SSH stack.
"""

from __future__ import annotations

import base64
import hashlib

from .spec import DEFAULT_SSH_PORT

__all__ = ["fingerprint_of", "known_hosts_line", "known_hosts_name"]


def fingerprint_of(blob: bytes) -> str:
    """OpenSSH's ``SHA256:...`` fingerprint of a public key blob."""
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(host: str, port: int) -> str:
    """How known_hosts spells a host: ``host`` on port 22, else ``[host]:port``."""
    return host if port == DEFAULT_SSH_PORT else f"[{host}]:{port}"


def known_hosts_line(host: str, port: int, key_type: str, key_b64: str) -> str:
    """One known_hosts line: ``[host]:port key-type AAAA...``."""
    return f"{known_hosts_name(host, port)} {key_type} {key_b64}"
