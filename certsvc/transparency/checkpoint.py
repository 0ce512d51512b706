"""Signed tree heads: a C2SP checkpoint body in a COSE_Sign1 envelope.

The **payload** is a checkpoint body as C2SP ``tlog-checkpoint`` defines it, UTF-8 text::

    zc.example.gov.cn/log                           origin: which log
    8                                               tree size, decimal
    XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=    root hash, standard base64
    timestamp 2026-01-05T09:00:00Z                  extension line: when it was signed (UTC)

The **envelope** is a COSE_Sign1 message (RFC 9052 §4.2, CBOR tag 18) in deterministic
encoding, built with the same helpers as the documents' QR token: protected header
``{1: alg, 3: "text/x.certsvc-checkpoint", 4: kid}`` (kid: the signer's key id as 8 bytes),
an empty unprotected header, the payload, and the signature over
``Sig_structure = ["Signature1", protected, h'', payload]``. The content type keeps a tree
head from being read as a QR token signed by the same key, and the other way round.
Algorithms: ES256 and ES384 (``r || s``) for ECDSA signers, RS256 (-257, RFC 8812; PKCS#1 v1.5
with SHA-256) for RSA-3072 signers.

Anyone holding the signer's certificate can check a tree head: decode the CBOR, check the
signature with the certificate's public key, read the four lines. Nothing else is needed.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from certsvc.errors import CertsvcError
from certsvc.keys.certificates import key_id_for
from certsvc.keys.cose import (
    COSE_SIGN1_TAG,
    ES256,
    ES384,
    HEADER_ALG,
    HEADER_CONTENT_TYPE,
    HEADER_CRIT,
    HEADER_KID,
    dumps,
    sig_structure,
    sign1_message,
)
from certsvc.keys.handles import KeyAlgorithm, PrivateKeyHandle
from certsvc.transparency.merkle import HASH_SIZE

CONTENT_TYPE = "text/x.certsvc-checkpoint"
RS256 = -257
RSA_SIGNATURE_SIZE = 384  # RSA-3072
MAX_ENVELOPE_SIZE = 4096

_ECDSA = {KeyAlgorithm.ECDSA_P256: ES256, KeyAlgorithm.ECDSA_P384: ES384}
_ECDSA_BY_ID = {ES256.cose_id: ES256, ES384.cose_id: ES384}
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_ORIGIN = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
_TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"


class LogError(CertsvcError):
    """The transparency log, a tree head or a proof cannot be trusted or used; the message
    says which and why."""

    exit_code = 8


class TreeHeadError(LogError):
    """A signed tree head is malformed or its signature does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    """What a tree head states: the log, its size, its root and when it was signed."""

    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: datetime  # UTC, whole seconds

    def __post_init__(self) -> None:
        if not _ORIGIN.fullmatch(self.origin) or len(self.origin) > 255:
            raise TreeHeadError(
                f"the log origin {self.origin!r} must be 1-255 printable ASCII characters "
                "without leading or trailing spaces"
            )
        if self.tree_size < 0:
            raise TreeHeadError(f"tree size {self.tree_size} is negative")
        if len(self.root_hash) != HASH_SIZE:
            raise TreeHeadError(f"a root hash has {HASH_SIZE} bytes, not {len(self.root_hash)}")
        if self.timestamp.tzinfo is None or self.timestamp.microsecond:
            raise TreeHeadError("a tree head's timestamp is an aware time in whole seconds")

    def body(self) -> bytes:
        """The checkpoint body: origin, size, base64 root, timestamp line; each ends in LF."""
        when = self.timestamp.astimezone(UTC).strftime(_TIMESTAMP)
        root = base64.b64encode(self.root_hash).decode("ascii")
        return f"{self.origin}\n{self.tree_size}\n{root}\ntimestamp {when}\n".encode("ascii")

    @classmethod
    def parse(cls, body: bytes) -> Checkpoint:
        """The checkpoint in ``body``, which must be exactly as :meth:`body` writes it."""
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError:
            _malformed("the checkpoint body is not ASCII text")
        lines = text.split("\n")
        if len(lines) != 5 or lines[-1] != "":
            _malformed("a checkpoint body is 4 lines, each ending in a line feed")
        origin, size, root, stamp = lines[:4]
        if not re.fullmatch(r"0|[1-9][0-9]{0,18}", size):
            _malformed(f"the tree size {size!r} is not a decimal number")
        try:
            root_hash = base64.b64decode(root, validate=True)
        except binascii.Error:
            _malformed("the root hash is not base64")
        if not stamp.startswith("timestamp "):
            _malformed("the fourth line must be the timestamp extension line")
        try:
            timestamp = datetime.strptime(stamp.removeprefix("timestamp "), _TIMESTAMP)
        except ValueError:
            _malformed(f"the timestamp {stamp!r} is not YYYY-MM-DDTHH:MM:SSZ")
        checkpoint = cls(origin, int(size), root_hash, timestamp.replace(tzinfo=UTC))
        if checkpoint.body() != body:
            _malformed("the checkpoint body is not in the form certsvc writes")
        return checkpoint


def _malformed(reason: str) -> NoReturn:
    raise TreeHeadError(f"not a certsvc tree head: {reason}")


def _protected_header(algorithm_id: int, kid: bytes) -> bytes:
    return dumps({HEADER_ALG: algorithm_id, HEADER_CONTENT_TYPE: CONTENT_TYPE, HEADER_KID: kid})


def sign_checkpoint(checkpoint: Checkpoint, key: PrivateKeyHandle, key_id: str) -> bytes:
    """The COSE_Sign1 envelope of ``checkpoint``, signed by ``key`` (whose id is ``key_id``)."""
    if not _KEY_ID.fullmatch(key_id):
        raise TreeHeadError(f"key id {key_id!r} is not 16 lower-case hex digits")
    if key_id_for(key.public_key) != key_id:
        raise TreeHeadError(f"the signing key is not key {key_id} (its id is another)")
    ecdsa = _ECDSA.get(key.algorithm)
    algorithm_id = ecdsa.cose_id if ecdsa else RS256
    protected = _protected_header(algorithm_id, bytes.fromhex(key_id))
    payload = checkpoint.body()
    signature = key.sign(sig_structure(protected, payload))
    if ecdsa is not None:
        r, s = decode_dss_signature(signature)
        signature = r.to_bytes(ecdsa.size, "big") + s.to_bytes(ecdsa.size, "big")
    return sign1_message(protected, payload, signature)


@dataclass(frozen=True)
class _Envelope:
    algorithm_id: int
    kid: str
    protected: bytes
    payload: bytes
    signature: bytes
    checkpoint: Checkpoint


def _loads(data: bytes, what: str) -> Any:
    try:
        return cbor2.loads(data, allow_duplicate_keys=False, allow_indefinite=False, max_depth=8)
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError):
        _malformed(f"{what} is not valid CBOR (damaged or cut short)")


def _parse(envelope: bytes) -> _Envelope:
    if len(envelope) > MAX_ENVELOPE_SIZE:
        _malformed(f"it has {len(envelope)} bytes, more than {MAX_ENVELOPE_SIZE}")
    message = _loads(envelope, "the envelope")
    if not isinstance(message, cbor2.CBORTag) or message.tag != COSE_SIGN1_TAG:
        _malformed("it is not a COSE_Sign1 message (CBOR tag 18)")
    parts = message.value
    if not isinstance(parts, list | tuple) or len(parts) != 4:
        _malformed("a COSE_Sign1 message is an array of 4 items")
    protected, unprotected, payload, signature = parts
    if not all(isinstance(part, bytes) for part in (protected, payload, signature)):
        _malformed("the protected header, payload and signature must be byte strings")
    if not isinstance(unprotected, Mapping) or unprotected:
        _malformed("the unprotected header must be empty")
    header = _loads(protected, "the protected header")
    if not isinstance(header, Mapping):
        _malformed("the protected header is not a map")
    if HEADER_CRIT in header or set(header) != {HEADER_ALG, HEADER_CONTENT_TYPE, HEADER_KID}:
        _malformed("the protected header must hold exactly alg, content type and kid")
    if header[HEADER_CONTENT_TYPE] != CONTENT_TYPE:
        _malformed(f"its content type is {header[HEADER_CONTENT_TYPE]!r}, not {CONTENT_TYPE}")
    alg, kid = header[HEADER_ALG], header[HEADER_KID]
    if type(alg) is not int or (alg not in _ECDSA_BY_ID and alg != RS256):
        _malformed(f"algorithm {alg!r} is not ES256, ES384 or RS256")
    if not isinstance(kid, bytes) or len(kid) != 8:
        _malformed("the key id (kid) must be 8 bytes")
    ecdsa = _ECDSA_BY_ID.get(alg)
    expected_size = 2 * ecdsa.size if ecdsa else RSA_SIGNATURE_SIZE
    if len(signature) != expected_size:
        _malformed(f"the signature has {len(signature)} bytes, not {expected_size}")
    checkpoint = Checkpoint.parse(payload)
    if sign1_message(_protected_header(alg, kid), payload, signature) != envelope:
        _malformed("it is not in the deterministic encoding certsvc writes")
    return _Envelope(alg, kid.hex(), protected, payload, signature, checkpoint)


def read_unverified(envelope: bytes) -> tuple[str, Checkpoint]:
    """The signer's key id and the checkpoint, NOT yet verified (to pick the key, or to show
    what a failing head says)."""
    parsed = _parse(envelope)
    return parsed.kid, parsed.checkpoint


def verify_checkpoint(envelope: bytes, public_key: CertificatePublicKeyTypes) -> Checkpoint:
    """The checkpoint, once the envelope's signature is checked with ``public_key`` (from the
    certificate of the signer its key id names); ``TreeHeadError`` otherwise."""
    parsed = _parse(envelope)
    checked_id = key_id_for(public_key)
    if checked_id != parsed.kid:
        raise TreeHeadError(
            f"the tree head names signer key {parsed.kid}, not key {checked_id} it was checked with"
        )
    data = sig_structure(parsed.protected, parsed.payload)
    try:
        ecdsa = _ECDSA_BY_ID.get(parsed.algorithm_id)
        if ecdsa is not None:
            if not (
                isinstance(public_key, ec.EllipticCurvePublicKey)
                and public_key.curve.name == ecdsa.curve
            ):
                raise TreeHeadError(f"key {checked_id} cannot verify an {ecdsa.name} signature")
            size = ecdsa.size
            r = int.from_bytes(parsed.signature[:size], "big")
            s = int.from_bytes(parsed.signature[size:], "big")
            public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(ecdsa.hash))
        else:
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise TreeHeadError(f"key {checked_id} cannot verify an RS256 signature")
            public_key.verify(parsed.signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise TreeHeadError(
            f"the tree head's signature does not verify with key {checked_id}: "
            "it was forged or altered after signing"
        ) from None
    return parsed.checkpoint
