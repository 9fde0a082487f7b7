"""Ed25519 keys on disk, and signing and verifying bytes with them (``cryptography``).

Files are the usual PEM: a private key is PKCS#8 without a passphrase, written
with mode 0600 (a board reads it at start, unattended); a public key is
SubjectPublicKeyInfo, so ``openssl pkey -pubin -in a0.pub -text`` reads it too.
In a roster a public key is its 32 raw bytes in base64 (:func:`public_text`).

An Ed25519 signature (RFC 8032) is 64 bytes over the whole message; it is
deterministic, and verifying needs only the 32-byte public key. The same
primitives sign summaries (one key per agent), rosters and policy models (the
operator's key).
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path
from typing import TYPE_CHECKING

from otswarm.identity.errors import IdentityError, KeyFileError, SignatureError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

SIGNATURE_LEN = 64
PUBLIC_KEY_LEN = 32

__all__ = [
    "PUBLIC_KEY_LEN",
    "SIGNATURE_LEN",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "generate_private_key",
    "parse_public_text",
    "public_bytes",
    "public_text",
    "read_private_key",
    "read_public_key",
    "sign",
    "verify",
    "write_key_pair",
]


def __getattr__(name: str):
    """``Ed25519PrivateKey`` and ``Ed25519PublicKey``, imported on first use: a process
    that never handles a key (no ``[link].key_file``) never loads ``cryptography``."""
    if name in ("Ed25519PrivateKey", "Ed25519PublicKey"):
        from cryptography.hazmat.primitives.asymmetric import ed25519

        return getattr(ed25519, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _serialization():
    from cryptography.hazmat.primitives import serialization

    return serialization


def generate_private_key() -> Ed25519PrivateKey:
    """A fresh key from the operating system's random source."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate()


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of the public half of ``key``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    serialization = _serialization()
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key as it is written in a roster: base64 of its 32 raw bytes."""
    return base64.b64encode(public_bytes(key)).decode("ascii")


def parse_public_text(text: str, what: str = "public key") -> Ed25519PublicKey:
    """The inverse of :func:`public_text`; IdentityError when ``text`` is not one."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise IdentityError(f"{what}: not base64 ({exc})") from exc
    if len(raw) != PUBLIC_KEY_LEN:
        raise IdentityError(f"{what}: {len(raw)} bytes, an Ed25519 public key has 32")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(raw)


def write_key_pair(
    key: Ed25519PrivateKey, private_path: Path, public_path: Path, *, overwrite: bool = False
) -> None:
    """Write ``key`` (mode 0600) and its public half (mode 0644) as PEM files.

    Refuses to replace an existing file unless ``overwrite``: a lost agent key
    means a new roster.
    """
    private_path, public_path = Path(private_path), Path(public_path)
    for path in (private_path, public_path):
        if path.exists() and not overwrite:
            raise KeyFileError(f"{path}: exists (pass overwrite to replace it)")
    serialization = _serialization()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        _write(private_path, private_pem, 0o600)
        _write(public_path, public_pem, 0o644)
    except OSError as exc:
        raise KeyFileError(f"cannot write the key pair: {exc}") from exc


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)  # O_CREAT's mode does not apply to a file that existed


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{what} {path}: cannot read: {exc.strerror}") from exc


def read_private_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file at ``path``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read(path, "private key")
    serialization = _serialization()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"private key {path}: not a PEM key without passphrase") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"private key {path}: a {type(key).__name__}, expected Ed25519")
    return key


def read_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in the PEM file at ``path``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = _read(path, "public key")
    serialization = _serialization()
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"public key {path}: not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"public key {path}: a {type(key).__name__}, expected Ed25519")
    return key


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    """The 64-byte Ed25519 signature of ``data``."""
    return key.sign(data)


def verify(key: Ed25519PublicKey, data: bytes, signature: bytes, what: str = "data") -> None:
    """Return when ``signature`` is ``key``'s over ``data``; else SignatureError."""
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(signature, data)
    except InvalidSignature as exc:
        raise SignatureError(f"{what}: the Ed25519 signature does not verify") from exc
