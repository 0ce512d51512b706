"""The QR token: a signed copy of a document's public fields, small enough for a QR code.

A document's QR code opens ``{base URL}/v/{token}``; an offline verifier checks the same token
with the published trust list alone. The token is a COSE_Sign1 message (RFC 9052 §4.2, CBOR
tag 18) in deterministic CBOR encoding (RFC 8949 §4.2.1); nothing else is accepted:

* protected header ``{1: alg, 4: kid}``: alg -7 (ES256, P-256) or -35 (ES384, P-384); kid the
  signer's key id as 8 bytes (its 16 hex digits, see :func:`certsvc.keys.certificates.key_id_for`);
* unprotected header: empty;
* payload: a CBOR array of, in order, the document number, the document type code (1
  certificate, 2 notice), the holder's name, the qualification name, the specialty, the level
  code (1 正高级, 2 副高级, 3 中级, 4 初级), the date the qualification was obtained and the
  issue date. Dates are whole days since 1970-01-01. Each text is a CBOR text string (UTF-8)
  or, when that is shorter (Chinese text: 2 bytes a character instead of 3), a byte string
  holding UTF-16BE;
* signature: ``r || s`` over ``Sig_structure = ["Signature1", protected, h'', payload]``.

The identity number is never in the token, not even masked.

In the URL the token is the message read as one unsigned big-endian integer, in decimal. QR
numeric mode stores a digit in 3⅓ bits, so a token byte costs 8.03 bits, against 8.8 for
base32 in alphanumeric mode and 10.7 for base64url in byte mode; and the scheme and host are
upper-cased (``HTTPS://HOST/V/``; the web route accepts ``/v/`` and ``/V/``) so that the rest
of the URL fits alphanumeric mode. Measured with a P-256 signer behind
``HTTPS://ZC.EXAMPLE.GOV.CN/V/``, a version 10-M symbol holds a token of 191 bytes: the sample
record takes 159, a realistic worst case (an 11-character name, 正高级实习指导教师, a
12-character specialty) 188. Every choice above counts: with integer map keys, UTF-8 Chinese
and base32, the sample record alone would need version 11 (184 bytes, 323 characters). Each
further character of base URL costs about 0.7 byte of token; P-384 signatures, 32 bytes.

QR tokens need an ECDSA signer: an RSA-3072 signature alone is 384 bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, NoReturn, cast
from urllib.parse import urlsplit

import cbor2
import segno
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from segno import consts as qr_modes

from certsvc.documents.record import DocumentRecord, DocumentType
from certsvc.errors import CertsvcError, ConfigError
from certsvc.keys.certificates import key_id_for
from certsvc.keys.handles import KeyAlgorithm, PrivateKeyHandle
from certsvc.roster.catalog import Level

COSE_SIGN1_TAG = 18
HEADER_ALG, HEADER_CRIT, HEADER_KID = 1, 2, 4
MAX_QR_VERSION = 10
QR_MASK = 4  # fixed: trying all 8 takes 3x as long; 4 had the lowest worst penalty
MAX_TOKEN_DIGITS = 1000  # far above any token that fits a QR code; bounds int() on input

_EPOCH = date(1970, 1, 1).toordinal()
_DIGITS = re.compile(r"[1-9][0-9]*")
_QR_ALPHANUMERIC = re.compile(r"[0-9A-Z$%*+\-./:]*")  # QR alphanumeric mode minus the space
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_DOCUMENT_TYPES = {kind.code: kind for kind in DocumentType}
_LEVELS = {int(level.code): level for level in Level}


class TokenError(CertsvcError):
    """A QR token cannot be made, read or trusted; the message says which and why."""

    exit_code = 7


@dataclass(frozen=True)
class TokenClaims:
    """What a token states: the document's public fields and the key id of its signer."""

    document_number: str
    document_type: DocumentType
    holder_name: str
    qualification_name: str
    specialty: str
    level: Level
    qualified_on: date
    issued_on: date
    key_id: str  # 16 hex digits, from the protected header


@dataclass(frozen=True)
class _Algorithm:
    name: str
    cose_id: int
    curve: str
    hash: hashes.HashAlgorithm
    size: int  # bytes of r and of s


ES256 = _Algorithm("ES256", -7, "secp256r1", hashes.SHA256(), 32)
ES384 = _Algorithm("ES384", -35, "secp384r1", hashes.SHA384(), 48)
_BY_KEY_ALGORITHM = {KeyAlgorithm.ECDSA_P256: ES256, KeyAlgorithm.ECDSA_P384: ES384}
_BY_COSE_ID = {ES256.cose_id: ES256, ES384.cose_id: ES384}


def claims_from_record(record: DocumentRecord) -> TokenClaims:
    """The public fields of ``record``; the identity number stays out."""
    return TokenClaims(
        document_number=record.document_number,
        document_type=record.document_type,
        holder_name=record.holder_name,
        qualification_name=record.qualification_name,
        specialty=record.specialty,
        level=record.level,
        qualified_on=record.qualified_on,
        issued_on=record.issued_on,
        key_id=record.signer_key_id,
    )


def sign_token(claims: TokenClaims, key: PrivateKeyHandle, key_id: str) -> bytes:
    """The COSE_Sign1 message for ``claims``, signed by ``key`` (whose id is ``key_id``)."""
    algorithm = _BY_KEY_ALGORITHM.get(key.algorithm)
    if algorithm is None:
        raise TokenError(
            f"QR tokens need an ECDSA document signer (P-256 or P-384); key {key_id} is "
            f"{key.algorithm.value}, whose signature alone (384 bytes) is more than a "
            f"version-{MAX_QR_VERSION} QR code holds"
        )
    if not _KEY_ID.fullmatch(key_id):
        raise TokenError(f"key id {key_id!r} is not 16 lower-case hex digits")
    if claims.key_id != key_id:
        raise TokenError(f"the claims name signer {claims.key_id} but key {key_id} is signing")
    if key_id_for(key.public_key) != key_id:
        raise TokenError(f"the signing key is not key {key_id} (its id is another)")
    protected = _protected_header(algorithm, bytes.fromhex(key_id))
    payload = _payload(claims)
    r, s = decode_dss_signature(key.sign(_sig_structure(protected, payload)))
    signature = r.to_bytes(algorithm.size, "big") + s.to_bytes(algorithm.size, "big")
    return _message(protected, payload, signature)


def encode_token(cose: bytes) -> str:
    """The token as it appears in the URL: the message as one big-endian integer, in decimal."""
    if cose[:1] != b"\xd2":  # tag 18: also guarantees no leading zero byte is lost
        raise TokenError("not a certsvc token: a COSE_Sign1 message starts with tag 18")
    return str(int.from_bytes(cose, "big"))


def decode_token(text: str) -> bytes:
    """The COSE_Sign1 message in ``text`` (as :func:`encode_token` writes it), checked to be a
    well-formed certsvc token; its signature is not checked here."""
    if not text:
        _malformed("it is empty")
    if len(text) > MAX_TOKEN_DIGITS:
        _malformed(f"it has {len(text)} characters, more than {MAX_TOKEN_DIGITS}")
    if not _DIGITS.fullmatch(text):
        _malformed("a token is decimal digits, not starting with 0")
    number = int(text)
    cose = number.to_bytes((number.bit_length() + 7) // 8, "big")
    _parse(cose)
    return cose


def read_unverified(cose: bytes) -> tuple[str, TokenClaims]:
    """The signer's key id and the claims, NOT yet verified: for choosing the key to verify
    with, and for showing what a token says even when it fails."""
    token = _parse(cose)
    return token.claims.key_id, token.claims


def verify_token(cose: bytes, public_key: CertificatePublicKeyTypes) -> TokenClaims:
    """The claims, once the signature is checked with ``public_key`` (the signer the token's
    key id names in the trust list); ``TokenError`` otherwise."""
    token = _parse(cose)
    algorithm = token.algorithm
    if not (
        isinstance(public_key, ec.EllipticCurvePublicKey)
        and public_key.curve.name == algorithm.curve
    ):
        kind = (
            public_key.curve.name
            if isinstance(public_key, ec.EllipticCurvePublicKey)
            else type(public_key).__name__.removesuffix("PublicKey")
        )
        raise TokenError(
            f"the token is signed with {algorithm.name}, which this {kind} key cannot verify"
        )
    checked_id = key_id_for(public_key)
    if checked_id != token.claims.key_id:
        raise TokenError(
            f"the token names signer key {token.claims.key_id}, not key {checked_id} it was "
            "checked with"
        )
    size = algorithm.size
    r = int.from_bytes(token.signature[:size], "big")
    s = int.from_bytes(token.signature[size:], "big")
    try:
        public_key.verify(
            encode_dss_signature(r, s),
            _sig_structure(token.protected, token.payload),
            ec.ECDSA(algorithm.hash),
        )
    except InvalidSignature:
        raise TokenError(
            f"the token's signature does not verify with key {checked_id}: "
            "the token was altered after signing"
        ) from None
    return token.claims


def verification_url(base_url: str, token_text: str) -> str:
    """The URL the QR code carries. When the base URL allows it, scheme and host are upper-cased
    and the path is ``/V/`` (a QR reader sees an alphanumeric-mode URL); otherwise it is the
    base URL as given plus ``/v/`` (byte mode). The token is digits either way."""
    if not _DIGITS.fullmatch(token_text):
        _malformed("a token is decimal digits, not starting with 0")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"the public base URL {base_url!r} must be an http(s) address without query or fragment"
        )
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    if _QR_ALPHANUMERIC.fullmatch(origin.upper() + path):
        return f"{origin.upper()}{path}/V/{token_text}"
    return f"{origin}{path}/v/{token_text}"


def qr_matrix(url: str) -> tuple[list[list[bool]], int]:
    """The QR code for ``url`` at error correction M: its modules (True is dark; no quiet zone)
    and its version. The trailing digits (the token) go in a numeric-mode segment and the rest
    in alphanumeric mode when it can, else byte mode. ``TokenError`` above version 10."""
    head = url.rstrip("0123456789")
    digits = url[len(head) :]
    segments: list[tuple[str, int]] = []
    if head:
        alphanumeric = _QR_ALPHANUMERIC.fullmatch(head)
        segments.append((head, qr_modes.MODE_ALPHANUMERIC if alphanumeric else qr_modes.MODE_BYTE))
    if digits:
        segments.append((digits, qr_modes.MODE_NUMERIC))
    if not segments:
        raise TokenError("there is no URL to put in a QR code")
    # segno takes a list of (content, mode) segments; its type stubs only admit one string.
    code = segno.make(cast(Any, segments), error="m", boost_error=False, mask=QR_MASK, micro=False)
    version = cast(int, code.version)
    if version > MAX_QR_VERSION:
        raise TokenError(
            f"the verification URL ({len(url)} characters) needs a version-{version} QR code; "
            f"at most version {MAX_QR_VERSION} scans from a 25 mm print. Shorter names, a "
            "shorter public base URL or a P-256 signer make it smaller"
        )
    return [[bool(module) for module in row] for row in code.matrix], version


# --- the message --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    algorithm: _Algorithm
    protected: bytes
    payload: bytes
    signature: bytes
    claims: TokenClaims


def _malformed(reason: str) -> NoReturn:
    raise TokenError(f"not a certsvc token: {reason}")


def _dumps(value: object) -> bytes:
    return cbor2.dumps(value, canonical=True)


def _loads(data: bytes, what: str) -> Any:
    try:
        return cbor2.loads(data, allow_duplicate_keys=False, allow_indefinite=False, max_depth=8)
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError):
        _malformed(f"{what} is not valid CBOR (damaged or cut short)")


def _protected_header(algorithm: _Algorithm, kid: bytes) -> bytes:
    return _dumps({HEADER_ALG: algorithm.cose_id, HEADER_KID: kid})


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    """RFC 9052 §4.4: what COSE_Sign1 signs (no external additional data)."""
    return _dumps(["Signature1", protected, b"", payload])


def _message(protected: bytes, payload: bytes, signature: bytes) -> bytes:
    return _dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def _parse(cose: bytes) -> _Token:
    """The token's parts, or ``TokenError`` if ``cose`` is anything but a certsvc token exactly
    as :func:`sign_token` writes one (the signature is not checked)."""
    message = _loads(cose, "the token")
    if not isinstance(message, cbor2.CBORTag) or message.tag != COSE_SIGN1_TAG:
        _malformed("it is not a COSE_Sign1 message (CBOR tag 18)")
    parts = message.value
    if not isinstance(parts, list | tuple) or len(parts) != 4:
        _malformed("a COSE_Sign1 message is an array of 4 items")
    protected, unprotected, payload, signature = parts
    if not all(isinstance(part, bytes) for part in (protected, payload, signature)):
        _malformed("the protected header, payload and signature must be byte strings")
    if not isinstance(unprotected, Mapping) or unprotected:
        _malformed("the unprotected header must be empty (nothing unsigned is accepted)")
    algorithm, kid = _read_header(protected)
    if len(signature) != 2 * algorithm.size:
        _malformed(
            f"an {algorithm.name} signature has {2 * algorithm.size} bytes, not {len(signature)}"
        )
    claims = _read_payload(payload, kid.hex())
    expected = _message(_protected_header(algorithm, kid), _payload(claims), signature)
    if cose != expected:
        if cose.startswith(expected):
            _malformed(f"{len(cose) - len(expected)} extra bytes follow the message")
        _malformed("it is not in the deterministic encoding certsvc writes")
    return _Token(algorithm, protected, payload, signature, claims)


def _read_header(protected: bytes) -> tuple[_Algorithm, bytes]:
    header = _loads(protected, "the protected header")
    if not isinstance(header, Mapping):
        _malformed("the protected header is not a map")
    if HEADER_CRIT in header:
        _malformed("it marks header parameters critical, and certsvc knows none")
    unknown = set(header) - {HEADER_ALG, HEADER_KID}
    if unknown:
        _malformed(f"unexpected header parameters {sorted(map(repr, unknown))}")
    alg = header.get(HEADER_ALG)
    algorithm = _BY_COSE_ID.get(alg) if type(alg) is int else None
    if algorithm is None:
        _malformed(f"algorithm {alg!r} is not ES256 (-7) or ES384 (-35)")
    kid = header.get(HEADER_KID)
    if not isinstance(kid, bytes) or len(kid) != 8:
        _malformed("the key id (kid) must be 8 bytes")
    return algorithm, kid


# --- the payload --------------------------------------------------------------------------

_FIELD_COUNT = 8


def _payload(claims: TokenClaims) -> bytes:
    return _dumps(
        [
            _pack_text(claims.document_number),
            claims.document_type.code,
            _pack_text(claims.holder_name),
            _pack_text(claims.qualification_name),
            _pack_text(claims.specialty),
            int(claims.level.code),
            claims.qualified_on.toordinal() - _EPOCH,
            claims.issued_on.toordinal() - _EPOCH,
        ]
    )


def _read_payload(payload: bytes, key_id: str) -> TokenClaims:
    fields = _loads(payload, "the payload")
    if not isinstance(fields, list | tuple):
        _malformed("the payload is not an array")
    if len(fields) != _FIELD_COUNT:
        _malformed(f"the payload has {len(fields)} fields, not {_FIELD_COUNT}")
    number, type_code, holder, qualification, specialty, level_code, qualified, issued = fields
    document_type = _DOCUMENT_TYPES.get(_int(type_code, "document type"))
    if document_type is None:
        _malformed(f"unknown document type code {type_code}")
    level = _LEVELS.get(_int(level_code, "level"))
    if level is None:
        _malformed(f"unknown level code {level_code}")
    return TokenClaims(
        document_number=_unpack_text(number, "document number"),
        document_type=document_type,
        holder_name=_unpack_text(holder, "holder name"),
        qualification_name=_unpack_text(qualification, "qualification name"),
        specialty=_unpack_text(specialty, "specialty"),
        level=level,
        qualified_on=_date(qualified, "qualification date"),
        issued_on=_date(issued, "issue date"),
        key_id=key_id,
    )


def _pack_text(text: str) -> str | bytes:
    """UTF-8 (a CBOR text string) or UTF-16BE (a byte string), whichever is shorter."""
    try:
        utf16 = text.encode("utf-16-be")
        return utf16 if len(utf16) < len(text.encode("utf-8")) else text
    except UnicodeEncodeError:
        raise TokenError(f"{text!r} is not valid Unicode text") from None


def _unpack_text(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-16-be")
        except UnicodeDecodeError:
            _malformed(f"the {what} is not valid UTF-16")
    _malformed(f"the {what} is not text")


def _int(value: object, what: str) -> int:
    if type(value) is not int:
        _malformed(f"the {what} is not an integer")
    return value


def _date(value: object, what: str) -> date:
    try:
        return date.fromordinal(_EPOCH + _int(value, what))
    except (ValueError, OverflowError):
        _malformed(f"the {what} is out of range")
