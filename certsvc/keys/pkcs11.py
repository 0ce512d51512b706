"""Document-signing keys kept in an HSM or USB token, used through PKCS#11.

The key pair is generated on the token and never leaves it (sensitive, not extractable); certsvc
keeps only a ``Pkcs11KeyRef`` (token label, object label, CKA_ID, written as an RFC 7512
``pkcs11:`` URI) and asks the token to sign.

PKCS#11 login state belongs to the process, not to a session: a second C_Login on the same token
fails with CKR_USER_ALREADY_LOGGED_IN, and closing any logged-in session (python-pkcs11 then calls
C_Logout) logs out every other session. So every user in one process shares a single logged-in,
read-only session per token, opened on first use and closed when its last user releases it;
generating and deleting keys open a short read-write session next to it without a PIN.

Every failure is a ``KeyStoreError`` that names what is wrong and which setting to check. No
message ever contains the PIN.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote, unquote_to_bytes

import pkcs11
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pkcs11 import exceptions as p11
from pkcs11.constants import Attribute, MechanismFlag, ObjectClass
from pkcs11.mechanisms import KeyType, Mechanism
from pkcs11.types import Key, Object, PublicKey, Session, SignMixin
from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

from certsvc.errors import ConfigError, KeyStoreError
from certsvc.keys.handles import KeyAlgorithm

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Library  # noqa: N812 - it is a class

MODULE_VAR = "CERTSVC_PKCS11_MODULE"
TOKEN_VAR = "CERTSVC_PKCS11_TOKEN"  # noqa: S105 - a variable name, not a secret
PIN_VAR = "CERTSVC_PKCS11_PIN"

# EC algorithms: the curve, and the hash certsvc applies before the token signs the digest.
_EC: dict[KeyAlgorithm, tuple[ec.EllipticCurve, hashes.HashAlgorithm]] = {
    KeyAlgorithm.ECDSA_P256: (ec.SECP256R1(), hashes.SHA256()),
    KeyAlgorithm.ECDSA_P384: (ec.SECP384R1(), hashes.SHA384()),
}
_RSA_BITS = 3072
_KEY_ID_BYTES = 16


@dataclass(frozen=True)
class Pkcs11Config:
    """Which PKCS#11 library and token to use, and the user PIN (never shown in repr)."""

    module: Path
    token_label: str
    pin: str = field(repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Pkcs11Config:
        values = {}
        for name in (MODULE_VAR, TOKEN_VAR, PIN_VAR):
            value = environ.get(name, "")
            if not value:
                raise ConfigError(f"{name} is not set (or empty): hardware keys (PKCS#11) need it")
            values[name] = value
        return cls(Path(values[MODULE_VAR]), values[TOKEN_VAR], values[PIN_VAR])


# RFC 7512 path attribute value: unreserved, the allowed reserved characters, or %XX.
_URI_VALUE = re.compile(r"(?:[A-Za-z0-9\-._~:\[\]@!$'()*+,=&]|%[0-9A-Fa-f]{2})*")
_KEY_ID_HEX = re.compile(r"(?:[0-9a-f]{2})+")


@dataclass(frozen=True)
class Pkcs11KeyRef:
    """Where a key pair lives: token label, CKA_LABEL of both key objects, CKA_ID in lower-case
    hex."""

    token_label: str
    label: str
    key_id_hex: str

    def __post_init__(self) -> None:
        if not self.token_label or not self.label:
            raise KeyStoreError("a PKCS#11 key reference needs a token label and a key label")
        if not _KEY_ID_HEX.fullmatch(self.key_id_hex):
            raise KeyStoreError(
                f"PKCS#11 key id {self.key_id_hex!r} is not lower-case hex with whole bytes"
            )

    @property
    def key_id(self) -> bytes:
        return bytes.fromhex(self.key_id_hex)

    def uri(self) -> str:
        """``pkcs11:token=...;object=...;id=%xx...``, every reserved or non-ASCII character of
        the labels percent-encoded as UTF-8, every byte of the id percent-encoded."""
        token = quote(self.token_label, safe="")
        label = quote(self.label, safe="")
        key_id = "".join(f"%{byte:02X}" for byte in self.key_id)
        return f"pkcs11:token={token};object={label};id={key_id}"

    @classmethod
    def parse(cls, uri: str) -> Pkcs11KeyRef:
        """Inverse of ``uri()``. Also accepts ``type=private`` or ``type=public``. Errors name the
        problem but do not repeat the URI, which could carry a PIN in a query attribute."""
        scheme, colon, path = uri.partition(":")
        if scheme.lower() != "pkcs11" or not colon:
            raise KeyStoreError("a PKCS#11 key reference must be a URI starting with 'pkcs11:'")
        if "?" in path:
            raise KeyStoreError(
                f"PKCS#11 URI query attributes (such as pin-value) are not supported; "
                f"certsvc reads the PIN from {PIN_VAR}"
            )
        attributes: dict[str, bytes] = {}
        for part in path.split(";"):
            name, equals, value = part.partition("=")
            if not equals or not name:
                raise KeyStoreError(f"PKCS#11 URI part {name!r} is not of the form name=value")
            if name in attributes:
                raise KeyStoreError(f"PKCS#11 URI gives {name!r} twice")
            if not _URI_VALUE.fullmatch(value):
                raise KeyStoreError(
                    f"PKCS#11 URI attribute {name!r} has a character that must be "
                    f"percent-encoded, or a bad %-escape"
                )
            attributes[name] = unquote_to_bytes(value)
        if attributes.pop("type", b"private") not in (b"private", b"public"):
            raise KeyStoreError("PKCS#11 URI type must be 'private' or 'public' for a key")
        unknown = sorted(attributes.keys() - {"token", "object", "id"})
        if unknown:
            raise KeyStoreError(f"PKCS#11 URI attribute(s) not supported: {', '.join(unknown)}")
        missing = [name for name in ("token", "object", "id") if not attributes.get(name)]
        if missing:
            raise KeyStoreError(f"PKCS#11 URI lacks a non-empty {', '.join(missing)}")
        try:
            token, label = attributes["token"].decode(), attributes["object"].decode()
        except UnicodeDecodeError as error:
            raise KeyStoreError("PKCS#11 URI token or object is not valid UTF-8") from error
        return cls(token, label, attributes["id"].hex())


# -- Library, login and error translation ---------------------------------------------------------


def _library(module: Path) -> Pkcs11Library:
    if not module.is_file():
        raise KeyStoreError(
            f"PKCS#11 module {module} does not exist: set {MODULE_VAR} to the PKCS#11 library of "
            f"your HSM or token (for testing, the Debian package softhsm2 installs "
            f"/usr/lib/softhsm/libsofthsm2.so)"
        )
    # Resolved, so that a symlink and its target do not load (and C_Initialize) twice.
    return _load_library(module.resolve())


@functools.cache
def _load_library(module: Path) -> Pkcs11Library:
    try:
        return pkcs11.lib(str(module))
    except p11.PKCS11Error as error:
        raise KeyStoreError(
            f"cannot load PKCS#11 module {module} ({error}): check {MODULE_VAR}"
        ) from error


@contextmanager
def _pkcs11_errors(token_label: str, action: str) -> Iterator[None]:
    """Turn python-pkcs11 exceptions raised while doing ``action`` into ``KeyStoreError``."""
    try:
        yield
    except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange) as error:
        raise KeyStoreError(
            f"the PIN for PKCS#11 token {token_label!r} was rejected: check {PIN_VAR} "
            f"(repeated wrong PINs can lock the token)"
        ) from error
    except (p11.PinLocked, p11.PinExpired) as error:
        raise KeyStoreError(
            f"the user PIN of PKCS#11 token {token_label!r} is locked or expired "
            f"({type(error).__name__}): the token's security officer must reset it"
        ) from error
    except (p11.MechanismInvalid, p11.MechanismParamInvalid, p11.FunctionNotSupported) as error:
        raise KeyStoreError(
            f"{action}: PKCS#11 token {token_label!r} does not support the mechanism needed "
            f"({type(error).__name__}); use a token with EC or RSA key generation and ECDSA or "
            f"SHA256_RSA_PKCS signing"
        ) from error
    except p11.PKCS11Error as error:
        raise KeyStoreError(
            f"{action} on PKCS#11 token {token_label!r} failed: {type(error).__name__}"
        ) from error


@dataclass(eq=False)
class _Login:
    """The one logged-in session this process holds on a token, and how many use it."""

    key: tuple[Path, str]
    session: Session
    pin: str = field(repr=False)
    users: int = 0


_logins: dict[tuple[Path, str], _Login] = {}
_logins_lock = threading.Lock()


def _acquire(config: Pkcs11Config) -> _Login:
    library = _library(config.module)
    key = (config.module.resolve(), config.token_label)
    with _logins_lock:
        login = _logins.get(key)
        if login is None:
            with _pkcs11_errors(config.token_label, "logging in"):
                tokens = list(library.get_tokens(token_label=config.token_label))
                if len(tokens) != 1:
                    labels = ", ".join(
                        sorted(repr(t.label) for t in library.get_tokens() if t.label)
                    )
                    raise KeyStoreError(
                        f"{len(tokens) or 'no'} PKCS#11 token(s) labelled {config.token_label!r} "
                        f"in {config.module} (tokens there: {labels or 'none'}): "
                        f"set {TOKEN_VAR} to the label of exactly one token"
                    )
                session = tokens[0].open(user_pin=config.pin)
            login = _logins[key] = _Login(key, session, config.pin)
        elif not hmac.compare_digest(login.pin.encode(), config.pin.encode()):
            raise KeyStoreError(
                f"the PIN for PKCS#11 token {config.token_label!r} differs from the one this "
                f"process logged in with: check {PIN_VAR}"
            )
        login.users += 1
        return login


def _release(login: _Login) -> None:
    with _logins_lock:
        login.users -= 1
        if login.users > 0:
            return
        del _logins[login.key]
        # Closing logs out; if the token is gone already there is nothing left to undo.
        with suppress(p11.PKCS11Error):
            login.session.close()


@contextmanager
def _read_write(config: Pkcs11Config) -> Iterator[Session]:
    """A short read-write session for creating or destroying objects, sharing the login."""
    login = _acquire(config)
    try:
        with _pkcs11_errors(config.token_label, "opening a read-write session"):
            session = login.session.token.open(rw=True)
        try:
            yield session
        finally:
            with suppress(p11.PKCS11Error):
                session.close()
    finally:
        _release(login)


def _check_token(config: Pkcs11Config, ref: Pkcs11KeyRef) -> None:
    if ref.token_label != config.token_label:
        raise KeyStoreError(
            f"key {ref.label!r} is on PKCS#11 token {ref.token_label!r} but {TOKEN_VAR} is "
            f"{config.token_label!r}: set {TOKEN_VAR} (and {PIN_VAR}) for that token"
        )


def _template(object_class: ObjectClass, ref: Pkcs11KeyRef) -> dict[Attribute, Any]:
    return {Attribute.CLASS: object_class, Attribute.LABEL: ref.label, Attribute.ID: ref.key_id}


def _find_one(session: Session, object_class: ObjectClass, ref: Pkcs11KeyRef) -> Object:
    found = list(session.get_objects(_template(object_class, ref)))
    what = "private key" if object_class == ObjectClass.PRIVATE_KEY else "public key"
    if not found:
        raise KeyStoreError(
            f"no {what} labelled {ref.label!r} with id {ref.key_id_hex} on PKCS#11 token "
            f"{ref.token_label!r}: check the key reference {ref.uri()}"
        )
    if len(found) > 1:
        raise KeyStoreError(
            f"{len(found)} {what} objects labelled {ref.label!r} with id {ref.key_id_hex} on "
            f"PKCS#11 token {ref.token_label!r}: the reference is ambiguous"
        )
    return found[0]


def _public_key_of(obj: PublicKey) -> CertificatePublicKeyTypes:
    """The ``cryptography`` public key of an EC or RSA public key object."""
    key_type = obj.key_type
    if key_type == KeyType.EC:
        loaded = load_der_public_key(encode_ec_public_key(obj))
        if isinstance(loaded, ec.EllipticCurvePublicKey):
            return loaded
    elif key_type == KeyType.RSA:
        modulus = int.from_bytes(obj[Attribute.MODULUS], "big")
        exponent = int.from_bytes(obj[Attribute.PUBLIC_EXPONENT], "big")
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    raise KeyStoreError(f"PKCS#11 public key type {key_type!r} is not EC or RSA")


def _algorithm_of(public_key: CertificatePublicKeyTypes, ref: Pkcs11KeyRef) -> KeyAlgorithm:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        for algorithm, (curve, _hash) in _EC.items():
            if public_key.curve.name == curve.name:
                return algorithm
        kind = f"EC {public_key.curve.name}"
    elif isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size == _RSA_BITS:
            return KeyAlgorithm.RSA_3072
        kind = f"RSA-{public_key.key_size}"
    else:
        kind = type(public_key).__name__
    raise KeyStoreError(
        f"key {ref.label!r} on PKCS#11 token {ref.token_label!r} is {kind}; certsvc signs "
        f"with {', '.join(KeyAlgorithm)}"
    )


# -- Public operations ----------------------------------------------------------------------------


def generate_key(
    config: Pkcs11Config, algorithm: KeyAlgorithm, label: str
) -> tuple[Pkcs11KeyRef, CertificatePublicKeyTypes]:
    """Generate a key pair on the token: stored, private key sensitive, not extractable and
    allowed only to sign; both objects get ``label`` and a random 16-byte CKA_ID. Refuses a
    label that any object on the token already has."""
    if not label:
        raise KeyStoreError("a PKCS#11 key label must not be empty")
    ref = Pkcs11KeyRef(config.token_label, label, secrets.token_bytes(_KEY_ID_BYTES).hex())
    key_length: int | None = None
    public_template: dict[Attribute, Any] = {}
    if algorithm == KeyAlgorithm.RSA_3072:
        key_type, key_length = KeyType.RSA, _RSA_BITS
    else:
        key_type = KeyType.EC
        curve, _hash = _EC[algorithm]
        public_template[Attribute.EC_PARAMS] = encode_named_curve_parameters(curve.name)
    action = f"generating a {algorithm} key labelled {label!r}"
    with _read_write(config) as session, _pkcs11_errors(config.token_label, action):
        if list(session.get_objects({Attribute.LABEL: label})):
            raise KeyStoreError(
                f"PKCS#11 token {config.token_label!r} already has an object labelled "
                f"{label!r}: choose another label, or delete that key first"
            )
        public, _private = session.generate_keypair(
            key_type,
            key_length,
            id=ref.key_id,
            label=label,
            store=True,
            capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
            public_template=public_template,
            private_template={
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
            },
        )
        return ref, _public_key_of(public)


@dataclass(frozen=True)
class _Opened:
    login: _Login
    private: SignMixin
    public_key: CertificatePublicKeyTypes
    algorithm: KeyAlgorithm


class Pkcs11PrivateKey:
    """A signing key on a token (a ``PrivateKeyHandle``). The shared session is opened on first
    use and kept until ``close()`` (or the end of a ``with`` block); after that, use fails."""

    def __init__(self, config: Pkcs11Config, ref: Pkcs11KeyRef) -> None:
        _check_token(config, ref)
        self._config = config
        self._ref = ref
        self._lock = threading.Lock()
        self._opened: _Opened | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"Pkcs11PrivateKey({self._ref.uri()!r})"

    @property
    def ref(self) -> Pkcs11KeyRef:
        return self._ref

    @property
    def algorithm(self) -> KeyAlgorithm:
        return self._open().algorithm

    @property
    def public_key(self) -> CertificatePublicKeyTypes:
        """Read from the token's public key object."""
        return self._open().public_key

    def sign(self, data: bytes) -> bytes:
        """DER ECDSA-Sig-Value (hashed here, raw ECDSA on the token) or PKCS#1 v1.5 over
        SHA-256 (SHA256_RSA_PKCS on the token)."""
        opened = self._open()
        mechanism = Mechanism.SHA256_RSA_PKCS
        if opened.algorithm in _EC:
            mechanism = Mechanism.ECDSA
        action = f"signing with key {self._ref.label!r} ({mechanism.name})"
        with _pkcs11_errors(self._ref.token_label, action):
            if mechanism != Mechanism.ECDSA:
                return opened.private.sign(data, mechanism=mechanism)
            _curve, hash_algorithm = _EC[opened.algorithm]
            digest = hashes.Hash(hash_algorithm)
            digest.update(data)
            raw = opened.private.sign(digest.finalize(), mechanism=mechanism)
        if not raw or len(raw) % 2:
            raise KeyStoreError(f"{action}: the token returned a malformed ECDSA signature")
        half = len(raw) // 2
        return encode_dss_signature(
            int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            opened, self._opened = self._opened, None
        if opened is not None:
            _release(opened.login)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _open(self) -> _Opened:
        with self._lock:
            if self._closed:
                raise KeyStoreError(f"PKCS#11 key {self._ref.label!r} has been closed")
            if self._opened is None:
                self._opened = self._find()
            return self._opened

    def _find(self) -> _Opened:
        ref = self._ref
        login = _acquire(self._config)
        try:
            with _pkcs11_errors(ref.token_label, f"opening key {ref.label!r}"):
                private = _find_one(login.session, ObjectClass.PRIVATE_KEY, ref)
                public = _find_one(login.session, ObjectClass.PUBLIC_KEY, ref)
                if not isinstance(private, SignMixin):
                    raise KeyStoreError(
                        f"private key {ref.label!r} on PKCS#11 token {ref.token_label!r} is not "
                        f"allowed to sign (CKA_SIGN is false)"
                    )
                if not (isinstance(public, PublicKey) and isinstance(private, Key)) or (
                    private.key_type != public.key_type
                ):
                    raise KeyStoreError(
                        f"the private and public key objects labelled {ref.label!r} on PKCS#11 "
                        f"token {ref.token_label!r} do not match"
                    )
                public_key = _public_key_of(public)
                algorithm = _algorithm_of(public_key, ref)
        except BaseException:
            _release(login)
            raise
        return _Opened(login, private, public_key, algorithm)


def open_key(config: Pkcs11Config, ref: Pkcs11KeyRef) -> Pkcs11PrivateKey:
    """Open a key now, so that a wrong token, PIN or reference fails here, not at first use."""
    key = Pkcs11PrivateKey(config, ref)
    try:
        key.public_key  # noqa: B018 - opens the session and finds both key objects
    except BaseException:
        key.close()
        raise
    return key


def delete_key(config: Pkcs11Config, ref: Pkcs11KeyRef) -> None:
    """Destroy the private and public key objects of ``ref`` (tests, aborted issuance)."""
    _check_token(config, ref)
    with _read_write(config) as session, _pkcs11_errors(ref.token_label, "deleting a key"):
        objects = [
            obj
            for object_class in (ObjectClass.PRIVATE_KEY, ObjectClass.PUBLIC_KEY)
            for obj in session.get_objects(_template(object_class, ref))
        ]
        if not objects:
            raise KeyStoreError(
                f"no key labelled {ref.label!r} with id {ref.key_id_hex} on PKCS#11 token "
                f"{ref.token_label!r} to delete"
            )
        for obj in objects:
            obj.destroy()
