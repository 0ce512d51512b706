"""Private keys on disk: PKCS#8 encrypted with a passphrase, written 0600 in folders kept 0700,
read only if private.

A key file that group or others can read, that another user owns, or that is a symbolic link is
refused (the key may already be copied or swapped), and so is a key folder that group or others
can write to; a passphrase file that group or others can read is refused too. A wrong passphrase
and a damaged file are told apart. No message here ever contains a passphrase or key material.
"""

from __future__ import annotations

import base64
import errno
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from asn1crypto import keys as asn1_keys
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
        """From an environment variable or a file (its first line); ``ConfigError`` if unset,
        unreadable, not UTF-8, or a file that group or others can read."""
        env = os.environ if environ is None else environ
        if file is not None:
            return cls.checked(_read_passphrase_file(file), f"file {file}")
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
    """Write ``key`` as encrypted PKCS#8, created 0600; never overwrites an existing file and
    never leaves a partial one behind. The folder must exist (see :func:`secure_key_folder`)."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.value),
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise KeyStoreError(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as exc:
        raise KeyStoreError(f"cannot create key file {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException as exc:
        path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise KeyStoreError(
                f"cannot write key file {path}: {exc.strerror or exc}; nothing was kept"
            ) from None
        raise
    _sync_folder(path.parent)


def read_private_key(path: Path, passphrase: Passphrase) -> PrivateKeyTypes:
    """Load an encrypted key file, refusing a symbolic link, a file that is not a regular file,
    one that group or others can use, and one that another user owns.

    The file is opened once (without following a link) and checked and read through that one
    descriptor, so what is checked is what is read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KeyStoreError(f"key file {path} does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise KeyStoreError(
                f"key file {path} is a symbolic link; certsvc only reads key files that are "
                "regular files in the key folder"
            ) from None
        raise KeyStoreError(f"cannot open key file {path}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyStoreError(f"key file {path} is not a regular file")
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyStoreError(
                f"key file {path} is accessible to group or others "
                f"(mode {stat.filemode(info.st_mode)}); treat the key as exposed, or if you are "
                f"sure it is not, restrict it with `chmod 600 {path}`"
            )
        if info.st_uid != os.geteuid():
            raise KeyStoreError(
                f"key file {path} is owned by uid {info.st_uid}, not by the user running "
                f"certsvc (uid {os.geteuid()}); someone else may have replaced it"
            )
        data = _read_all(fd)
    except OSError as exc:
        raise KeyStoreError(f"cannot read key file {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" not in data:
        if b"PRIVATE KEY-----" in data:
            raise KeyStoreError(f"key file {path} is not encrypted; certsvc keeps keys encrypted")
        raise KeyStoreError(f"key file {path} is not a PEM private key (damaged or wrong file)")
    try:
        return serialization.load_pem_private_key(data, password=passphrase.value)
    except ValueError as exc:
        wrong = "password" in str(exc).lower() or "decrypt" in str(exc).lower()
        # A wrong passphrase usually fails the cipher's padding check; about once in 256 tries
        # the padding happens to be valid and the decrypted bytes then fail to decode. If the
        # encrypted container itself is sound, that is still most likely the passphrase.
        if wrong or _sound_encrypted_container(data):
            raise KeyStoreError(
                f"wrong passphrase for key file {path} (passphrase from {passphrase.source})"
                + ("" if wrong else ", or the encrypted key inside it is damaged")
            ) from None
        raise KeyStoreError(f"key file {path} is damaged: it cannot be decoded") from None
    except (TypeError, UnsupportedAlgorithm) as exc:  # pragma: no cover - defensive
        raise KeyStoreError(f"key file {path} cannot be used: {type(exc).__name__}") from None


def _sound_encrypted_container(pem: bytes) -> bool:
    """Whether ``pem`` holds a well-formed PKCS#8 EncryptedPrivateKeyInfo (whatever it holds
    encrypted)."""
    try:
        body = pem.split(b"-----BEGIN ENCRYPTED PRIVATE KEY-----", 1)[1]
        body = body.split(b"-----END ENCRYPTED PRIVATE KEY-----", 1)[0]
        info = asn1_keys.EncryptedPrivateKeyInfo.load(base64.b64decode(body, validate=False))
        info.native  # noqa: B018 - parses every field
    except (ValueError, IndexError, TypeError):
        return False
    return True


def secure_key_folder(key_dir: Path, subfolder: str | Path = "", *, create: bool) -> Path:
    """``key_dir / subfolder``, after checking the key folder and each folder below it.

    A folder that group or others can write to is refused (anyone with that access could have
    replaced a key). With ``create``, missing folders are made and every one of them is set to
    0700 explicitly (``mkdir``'s mode is masked by the umask and only applies to the last
    component); without it they must exist already."""
    folders = [key_dir]
    for part in Path(subfolder).parts:
        if part in ("", ".", "..") or part == os.sep:
            raise KeyStoreError(f"{subfolder} is not a folder inside the key folder")
        folders.append(folders[-1] / part)
    for index, folder in enumerate(folders):
        if create:
            try:
                folder.mkdir(parents=index == 0, mode=0o700)
            except FileExistsError:
                pass
            except OSError as exc:
                raise KeyStoreError(
                    f"cannot create key folder {folder}: {exc.strerror or exc}"
                ) from None
        try:
            info = folder.stat()
        except FileNotFoundError:
            raise KeyStoreError(f"key folder {folder} does not exist") from None
        except OSError as exc:
            raise KeyStoreError(f"cannot use key folder {folder}: {exc.strerror or exc}") from None
        if not stat.S_ISDIR(info.st_mode):
            raise KeyStoreError(f"key folder {folder} is not a folder")
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise KeyStoreError(
                f"key folder {folder} can be written by group or others "
                f"(mode {stat.filemode(info.st_mode)}); the keys in it may have been replaced. "
                f"Check them, then restrict it with `chmod 700 {folder}`"
            )
        if create and stat.S_IMODE(info.st_mode) != 0o700:
            try:
                os.chmod(folder, 0o700)
            except OSError as exc:
                raise KeyStoreError(
                    f"cannot restrict key folder {folder} to its owner (chmod 700): "
                    f"{exc.strerror or exc}"
                ) from None
    return folders[-1]


def _read_passphrase_file(file: Path) -> str:
    """The first line of a passphrase file that only its owner can read."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(
            f"cannot read the passphrase file {file}: {exc.strerror or exc}"
        ) from None
    try:
        info = os.fstat(fd)
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"the passphrase file {file} is accessible to group or others "
                f"(mode {stat.filemode(info.st_mode)}); treat the passphrase as exposed, or if "
                f"you are sure it is not, restrict it with `chmod 600 {file}`"
            )
        data = _read_all(fd)
    except OSError as exc:
        raise ConfigError(
            f"cannot read the passphrase file {file}: {exc.strerror or exc}"
        ) from None
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            f"the passphrase file {file} is not UTF-8 text; write the passphrase as UTF-8"
        ) from None
    lines = text.splitlines()
    return lines[0] if lines else ""


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _sync_folder(folder: Path) -> None:
    """Make a new file's directory entry durable (best effort: not every system can)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:  # pragma: no cover - platform dependent
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - platform dependent
        pass
    finally:
        os.close(fd)


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
