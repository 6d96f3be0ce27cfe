"""The test users' passwords and login key: TEST-ONLY defaults, or fresh ones per run.

``cryptography`` (for the ed25519 key) loads only when credentials are generated.
"""

from __future__ import annotations

import os
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .common import DockerError

__all__ = ["LOGIN_USER", "TEST_USERS", "TargetCredentials", "generate_password", "write_login_key"]

#: Users created by ``containers/provision.sh``.
TEST_USERS: tuple[str, ...] = ("fpuser", "fpsu", "fpsudo", "fpnopass")
#: The login user (key + password; sudoer with password).
LOGIN_USER = "fpuser"

_ALPHABET = string.ascii_letters + string.digits


def generate_password(length: int = 20) -> str:
    """A random password (``fp-`` + letters and digits: safe in any shell or config file)."""
    return "fp-" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


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
        key_path, public_line = write_login_key(key_dir)
        return cls(
            passwords={user: generate_password() for user in TEST_USERS},
            public_key=public_line,
            private_key_path=key_path,
            generated=True,
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


def write_login_key(key_dir: Path) -> tuple[Path, str]:
    """A new ed25519 key pair in ``key_dir`` (private key mode 0600).

    Returns the private key's path and the public key's authorized_keys line.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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
    return key_path, public_line
