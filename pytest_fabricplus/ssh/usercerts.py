"""User certificates offered as ``ssh`` offers them.

``ssh`` offers, for each identity ``KEY``, its certificate ``KEY-cert.pub`` (when present)
*and* the plain key, and pairs each ``CertificateFile`` with the identity whose public key
it certifies, whatever the file is called. So a host that trusts the user CA
(``TrustedUserCAKeys``) accepts the certificate, and a host that lists the key in
``authorized_keys`` (but does not trust that CA, or the certificate expired) accepts the key.

Upstream behaviour worked around here:

* paramiko's ``SSHClient`` (``_key_from_filepath``) loads ``KEY-cert.pub`` beside each
  ``key_filename`` and then offers *only* the certificate: a stale or untrusted certificate
  beside a key hid the key. We pass the plain key as ``pkey`` (tried first) as well.
* paramiko finds a certificate only by the name ``KEY-cert.pub``: a ``CertificateFile`` of
  another name is loaded onto its key here and passed as ``pkey``.

paramiko takes one ``pkey``: a ``CertificateFile`` of another name wins over the plain-key
fallback; further ones are named in a warning.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import paramiko

from ..hosts.knownhosts import CertError, Certificate

__all__ = ["CERT_SUFFIX", "UserKeys", "user_keys"]

log = logging.getLogger("pytest_fabricplus")
CERT_SUFFIX = "-cert.pub"


@dataclass
class UserKeys:
    """What to add to paramiko's ``connect`` for certificates: ``key_filename`` entries and
    the one ``pkey``."""

    key_filenames: list[str] = field(default_factory=list)
    pkey: paramiko.PKey | None = None
    warnings: list[str] = field(default_factory=list)


def _blob_of_public_file(path: str) -> bytes | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            fields = handle.read().split()
        return base64.b64decode(fields[1], validate=True) if len(fields) >= 2 else None
    except (OSError, binascii.Error, ValueError):
        return None


def _load_private(path: str) -> paramiko.PKey | None:
    """``path``'s private key, plain, when it opens without a passphrase; None otherwise."""
    try:
        key = paramiko.PKey.from_path(path)
    except (OSError, paramiko.SSHException, ValueError) as exc:
        log.debug("cannot load %s for its certificate: %s", path, exc)
        return None
    key.public_blob = None  # from_path attaches KEY-cert.pub: we want the plain key
    return key


def _public_blob(path: str) -> bytes | None:
    found = _blob_of_public_file(path + ".pub")
    if found is not None:
        return found
    key = _load_private(path)
    return None if key is None else bytes(key.asbytes())


def user_keys(keys: Sequence[str], certificate_files: Sequence[str]) -> UserKeys:
    """The certificates of ``keys`` (explicit identities, in order) and of the ssh config's
    ``CertificateFile``s, as paramiko arguments."""
    result = UserKeys()
    for cert_path in certificate_files:
        cert_blob = _blob_of_public_file(cert_path)
        try:
            certified = Certificate.parse(cert_blob).key_blob if cert_blob else None
        except CertError:
            certified = None
        if certified is None:
            result.warnings.append(f"CertificateFile {cert_path} is not an OpenSSH certificate")
            continue
        owner = next((k for k in keys if _public_blob(k) == certified), None)
        if owner is None and cert_path.endswith(CERT_SUFFIX):
            stem = cert_path[: -len(CERT_SUFFIX)]
            if os.path.isfile(stem) and _public_blob(stem) == certified:
                result.key_filenames.append(cert_path)  # paramiko loads the key beside it
                continue
        if owner is None:
            result.warnings.append(
                f"CertificateFile {cert_path}: none of the identity files "
                f"({', '.join(keys) or 'none'}) holds the key it certifies; add that key "
                "with IdentityFile or --ssh-identity-file"
            )
            continue
        if owner + CERT_SUFFIX == cert_path:
            continue  # paramiko loads it beside the key
        if result.pkey is not None:
            result.warnings.append(
                f"CertificateFile {cert_path} is not offered: only one certificate of a name "
                f"other than KEY{CERT_SUFFIX} can be; rename it {owner}{CERT_SUFFIX}"
            )
            continue
        key = _load_private(owner)
        if key is None:
            result.warnings.append(
                f"CertificateFile {cert_path} is not offered: its key {owner} needs a "
                f"passphrase; rename the certificate {owner}{CERT_SUFFIX} (paramiko loads it "
                "with the key)"
            )
            continue
        key.load_certificate(cert_path)
        result.pkey = key
    if result.pkey is None:
        for key_path in keys:
            if os.path.isfile(key_path + CERT_SUFFIX):
                plain = _load_private(key_path)  # offered too, as ssh offers both
                if plain is not None:
                    result.pkey = plain
                    break
    return result
