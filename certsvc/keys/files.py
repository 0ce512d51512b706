"""Private keys on disk: PKCS#8 encrypted with a passphrase, written 0600, read only if private.

A key file that group or others can read is refused (the key may already be copied); a wrong
passphrase and a damaged file are told apart. No message here ever contains a passphrase or
key material.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)

from certsvc.errors import ConfigError, KeyStoreError
from certsvc.keys.handles import KeyAlgorithm

MIN_PASSPHRASE_LENGTH = 12


@dataclass(frozen=True)
class Passphrase:
    """A passphrase and where it came from (the source is safe to print; the value is not)."""

    value: bytes = field(repr=False)
    source: str

    @classmethod
    def from_sources(
        cls,
        *,
        env_var: str | None = None,
        file: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Passphrase:
        """From an environment variable or a file (its first line); ``ConfigError`` if unset."""
        env = os.environ if environ is None else environ
        if file is not None:
            try:
                text = (
                    file.read_text(encoding="utf-8").splitlines()[0] if file.stat().st_size else ""
                )
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the passphrase file {file}: {exc.strerror}"
                ) from None
            return cls.checked(text, f"file {file}")
        if env_var is not None:
            if not env.get(env_var):
                raise ConfigError(f"the passphrase variable {env_var} is not set or empty")
            return cls.checked(env[env_var], f"variable {env_var}")
        raise ConfigError("no passphrase source given")

    @classmethod
    def checked(cls, text: str, source: str) -> Passphrase:
        if len(text) < MIN_PASSPHRASE_LENGTH:
            raise ConfigError(
                f"the passphrase from {source} is shorter than {MIN_PASSPHRASE_LENGTH} characters"
            )
        return cls(text.encode("utf-8"), source)


SigningPrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def generate_private_key(algorithm: KeyAlgorithm) -> SigningPrivateKey:
    if algorithm is KeyAlgorithm.ECDSA_P256:
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm is KeyAlgorithm.ECDSA_P384:
        return ec.generate_private_key(ec.SECP384R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def write_private_key(path: Path, key: SigningPrivateKey, passphrase: Passphrase) -> None:
    """Write ``key`` as encrypted PKCS#8, created 0600; never overwrites an existing file."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.value),
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyStoreError(f"{path} already exists; refusing to overwrite a key") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())


def read_private_key(path: Path, passphrase: Passphrase) -> PrivateKeyTypes:
    """Load an encrypted key file, refusing one that others could read."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise KeyStoreError(f"key file {path} does not exist") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyStoreError(
            f"key file {path} is accessible to group or others "
            f"(mode {stat.filemode(info.st_mode)}); treat the key as exposed, or if you are "
            f"sure it is not, restrict it with `chmod 600 {path}`"
        )
    data = path.read_bytes()
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" not in data:
        if b"PRIVATE KEY-----" in data:
            raise KeyStoreError(f"key file {path} is not encrypted; certsvc keeps keys encrypted")
        raise KeyStoreError(f"key file {path} is not a PEM private key (damaged or wrong file)")
    try:
        return serialization.load_pem_private_key(data, password=passphrase.value)
    except ValueError as exc:
        if "password" in str(exc).lower() or "decrypt" in str(exc).lower():
            raise KeyStoreError(
                f"wrong passphrase for key file {path} (passphrase from {passphrase.source})"
            ) from None
        raise KeyStoreError(f"key file {path} is damaged: it cannot be decoded") from None
    except (TypeError, UnsupportedAlgorithm) as exc:  # pragma: no cover - defensive
        raise KeyStoreError(f"key file {path} cannot be used: {type(exc).__name__}") from None


class FilePrivateKey:
    """A :class:`~certsvc.keys.handles.PrivateKeyHandle` over a key loaded from a file."""

    def __init__(self, key: PrivateKeyTypes) -> None:
        self._key: SigningPrivateKey
        if isinstance(key, ec.EllipticCurvePrivateKey):
            curve = key.curve.name
            if curve == "secp256r1":
                self._algorithm = KeyAlgorithm.ECDSA_P256
            elif curve == "secp384r1":
                self._algorithm = KeyAlgorithm.ECDSA_P384
            else:
                raise KeyStoreError(f"unsupported EC curve {curve}")
        elif isinstance(key, rsa.RSAPrivateKey):
            self._algorithm = KeyAlgorithm.RSA_3072
        else:
            raise KeyStoreError(f"unsupported key type {type(key).__name__}")
        self._key = key

    @property
    def algorithm(self) -> KeyAlgorithm:
        return self._algorithm

    @property
    def public_key(self) -> CertificatePublicKeyTypes:
        public = self._key.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
        return public

    @property
    def private_key(self) -> SigningPrivateKey:
        return self._key

    def sign(self, data: bytes) -> bytes:
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            digest = (
                hashes.SHA384() if self._algorithm is KeyAlgorithm.ECDSA_P384 else hashes.SHA256()
            )
            return self._key.sign(data, ec.ECDSA(digest))
        assert isinstance(self._key, rsa.RSAPrivateKey)
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def __repr__(self) -> str:
        return f"FilePrivateKey({self._algorithm.value})"
