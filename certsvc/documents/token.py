"""The QR token: a signed copy of a document's public fields, small enough for a QR code.

A document's QR code opens ``{base URL}/v/{token}``; an offline verifier checks the same token
with the published trust list alone. The token is a COSE_Sign1 message (RFC 9052 §4.2, CBOR
tag 18) in deterministic CBOR encoding (RFC 8949 §4.2.1); nothing else is accepted:

* protected header ``{1: -7, 4: kid}``: ES256 (ECDSA P-256 with SHA-256) only; kid the signer's
  key id as 8 bytes (its 16 hex digits, see :func:`certsvc.keys.certificates.key_id_for`);
* unprotected header: empty;
* payload, format 2: a CBOR array of, in order,
  0. the format number, 2 (format 1 began with the document number as text: refused);
  1. the document number, 1 to 24 characters of ``0-9 A-Z -``, as the integer that spells it
     in bijective base 37 over :data:`DOCUMENT_NUMBER_ALPHABET` (ABC is ((1+10)×37+12)×37+13:
     every text its own number; a bignum, tag 2, above 64 bits);
  2. the document type code (1 certificate, 2 notice);
  3. the holder's name, as text (below);
  4. the series, by its position in :data:`certsvc.roster.catalog.SERIES` (from 0);
  5. the level code (1 正高级, 2 副高级, 3 中级, 4 初级);
  6. the qualification name: its position among the catalogue's usual names of that series
     and level (:data:`certsvc.roster.catalog.QUALIFICATIONS`, from 0), or, for a name not
     listed there, as text (never a packed number);
  7. the specialty, as text;
  8. the date the qualification was obtained and 9. the issue date, as whole days since
     1970-01-01;

  a text is whichever is shortest of a CBOR text string (UTF-8), a byte string holding UTF-16BE
  (Chinese: 2 bytes a character instead of 3) and, for texts in Latin letters, space and
  ``'-.`` only, the integer spelling it in bijective base 56 over :data:`LATIN_ALPHABET` (5.8
  bits a character instead of 8); on a tie, the first of these;
* signature: ``r || s`` over ``Sig_structure = ["Signature1", protected, h'', payload]``.

Only ES256: a P-384 signature takes 96 bytes instead of 64, about a sixth of what the QR code
holds, so that the 13-character name and 19-character specialty below would no longer fit behind
a base URL with a path. The identity number is never in the token, not even masked.

In the URL the token is the message read as one unsigned big-endian integer, in decimal. QR
numeric mode stores a digit in 3⅓ bits, so a token byte costs 8.03 bits, against 8.8 for
base32 in alphanumeric mode and 10.7 for base64url in byte mode. The scheme and host are
upper-cased (``HTTPS://HOST``; both are case-insensitive) and go in an alphanumeric segment;
a lower-case path (``/zcps``, kept as it is: paths are case-sensitive) and ``/v/`` go in a byte
segment of their own, and an alphanumeric path takes ``/V/`` (the web route accepts both).

Measured (``pytest tests/documents/test_token.py -s -k sizes``): a version 10-M symbol holds a
token of 191 bytes behind ``https://zc.example.gov.cn`` and 183 behind
``https://rsj.example.gov.cn/zcps/`` (whose head in byte mode, as format 1 put it, would have
left 176). With the longest document number and a 3-byte issue date, a 13-character minority
name (阿卜杜热合曼·买买提艾力江) with a 19-character specialty and 正高级实习指导教师 takes 183
bytes, and a 46-character Latin name with a 12-character specialty 178; the sample record 143.
Format 1 needed 207, 213 and 167 bytes for these. Each further character of base URL costs about
0.7 byte (1 in a byte-mode path); a Chinese character of name or specialty 2 bytes, a Latin one
0.73. What a row of a roster will need is known before any document exists: the import checks
it with :class:`TokenBudget`, taking what it does not know (document number, issue date) at
its largest.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, NoReturn, cast
from urllib.parse import urlsplit

import cbor2
import segno
from cryptography.exceptions import InvalidSignature
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
from certsvc.keys.cose import (
    COSE_SIGN1_TAG,
    ES256,
    ES384,
    HEADER_ALG,
    HEADER_CRIT,
    HEADER_KID,
    dumps,
    sig_structure,
    sign1_message,
)
from certsvc.keys.handles import KeyAlgorithm, PrivateKeyHandle
from certsvc.roster.catalog import QUALIFICATIONS, SERIES, Level

PAYLOAD_FORMAT = 2  # the first item of the payload; format 1 had none
MAX_QR_VERSION = 10
QR_MASK = 4  # fixed: trying all 8 takes 3x as long; 4 had the lowest worst penalty
MAX_TOKEN_DIGITS = 1000  # far above any token that fits a QR code; bounds int() on input
MAX_DOCUMENT_NUMBER_LENGTH = 24  # e.g. 2025-110000-GC2Z-000123N; the import reserves this much
DOCUMENT_NUMBER_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-"
LATIN_ALPHABET = " '-.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
MAX_PACKED_TEXT = 200  # characters a packed text may unpack to; bounds the decoder's work

_EPOCH = date(1970, 1, 1).toordinal()
_DIGITS = re.compile(r"[1-9][0-9]*")
_QR_ALPHANUMERIC = re.compile(r"[0-9A-Z$%*+\-./:]*")  # QR alphanumeric mode minus the space
_MIN_ALPHANUMERIC_SEGMENT = 7  # shorter, a segment of its own costs more than it saves
_KEY_ID = re.compile(r"[0-9a-f]{16}")
_DOCUMENT_NUMBER = re.compile(f"[0-9A-Z-]{{1,{MAX_DOCUMENT_NUMBER_LENGTH}}}")
_DOCUMENT_TYPES = {kind.code: kind for kind in DocumentType}
_LEVELS = {int(level.code): level for level in Level}
_SERIES_NUMBERS = {series.name: number for number, series in enumerate(SERIES)}


class TokenError(CertsvcError):
    """A QR token cannot be made, read or trusted; the message says which and why."""

    exit_code = 7


@dataclass(frozen=True)
class TokenClaims:
    """What a token states: the document's public fields and the key id of its signer."""

    document_number: str
    document_type: DocumentType
    holder_name: str
    series: str  # the catalogue's short name, e.g. 工程技术
    qualification_name: str
    specialty: str
    level: Level
    qualified_on: date
    issued_on: date
    key_id: str  # 16 hex digits, from the protected header


ES384_COSE_ID = ES384.cose_id  # named in the refusal: format 1 allowed it


def claims_from_record(record: DocumentRecord) -> TokenClaims:
    """The public fields of ``record``; the identity number stays out."""
    return TokenClaims(
        document_number=record.document_number,
        document_type=record.document_type,
        holder_name=record.holder_name,
        series=record.series,
        qualification_name=record.qualification_name,
        specialty=record.specialty,
        level=record.level,
        qualified_on=record.qualified_on,
        issued_on=record.issued_on,
        key_id=record.signer_key_id,
    )


def sign_token(claims: TokenClaims, key: PrivateKeyHandle, key_id: str) -> bytes:
    """The COSE_Sign1 message for ``claims``, signed by ``key`` (whose id is ``key_id``)."""
    if key.algorithm is not KeyAlgorithm.ECDSA_P256:
        size = "384 bytes" if key.algorithm is KeyAlgorithm.RSA_3072 else "96 bytes, 32 more"
        raise TokenError(
            f"QR tokens need an ECDSA P-256 document signer; key {key_id} is "
            f"{key.algorithm.value}, whose signature ({size}) the version-{MAX_QR_VERSION} "
            "QR code has no room for once names are long: issue a P-256 signer"
        )
    if not _KEY_ID.fullmatch(key_id):
        raise TokenError(f"key id {key_id!r} is not 16 lower-case hex digits")
    if claims.key_id != key_id:
        raise TokenError(f"the claims name signer {claims.key_id} but key {key_id} is signing")
    if key_id_for(key.public_key) != key_id:
        raise TokenError(f"the signing key is not key {key_id} (its id is another)")
    protected = _protected_header(bytes.fromhex(key_id))
    payload = _payload(claims)
    r, s = decode_dss_signature(key.sign(sig_structure(protected, payload)))
    signature = r.to_bytes(ES256.size, "big") + s.to_bytes(ES256.size, "big")
    return sign1_message(protected, payload, signature)


def encode_token(cose: bytes) -> str:
    """The token as it appears in the URL: the message as one big-endian integer, in decimal."""
    if cose[:1] != b"\xd2":  # tag 18: also guarantees no leading zero byte is lost
        raise TokenError("not a certsvc token: a COSE_Sign1 message starts with tag 18")
    return str(int.from_bytes(cose, "big"))


def decode_token(text: str) -> bytes:
    """The COSE_Sign1 message in ``text`` (as :func:`encode_token` writes it), checked to be a
    well-formed certsvc token; its signature is not checked here."""
    cose = decode_token_bytes(text)
    _parse(cose)
    return cose


def parse_token(text: str) -> ParsedToken:
    """:func:`decode_token` and :func:`read_unverified` in one pass: the verifier's way, which
    reads a token once per request."""
    return _parse(decode_token_bytes(text))


def decode_token_bytes(text: str) -> bytes:
    """The bytes of the decimal ``text``, with the decoder's limits, NOT yet parsed."""
    if not text:
        _malformed("it is empty")
    if len(text) > MAX_TOKEN_DIGITS:
        _malformed(f"it has {len(text)} characters, more than {MAX_TOKEN_DIGITS}")
    if not _DIGITS.fullmatch(text):
        _malformed("a token is decimal digits, not starting with 0")
    number = int(text)
    return number.to_bytes((number.bit_length() + 7) // 8, "big")


def read_unverified(cose: bytes) -> tuple[str, TokenClaims]:
    """The signer's key id and the claims, NOT yet verified: for choosing the key to verify
    with, and for showing what a token says even when it fails."""
    token = _parse(cose)
    return token.claims.key_id, token.claims


def verify_token(cose: bytes, public_key: CertificatePublicKeyTypes) -> TokenClaims:
    """The claims, once the signature is checked with ``public_key`` (the signer the token's
    key id names in the trust list); ``TokenError`` otherwise."""
    return verify_parsed(_parse(cose), public_key)


@dataclass(frozen=True)
class TokenKey:
    """A signer's public key readied for checking tokens: found to be a P-256 key, with the
    key id a token must name computed once (a verifier keeps one per trusted signer)."""

    public_key: ec.EllipticCurvePublicKey
    key_id: str

    @classmethod
    def of(cls, public_key: CertificatePublicKeyTypes) -> TokenKey:
        """``TokenError`` for a key that cannot check an ES256 token."""
        if not (
            isinstance(public_key, ec.EllipticCurvePublicKey)
            and public_key.curve.name == ES256.curve
        ):
            kind = (
                public_key.curve.name
                if isinstance(public_key, ec.EllipticCurvePublicKey)
                else type(public_key).__name__.removesuffix("PublicKey")
            )
            raise TokenError(f"the token is signed with ES256, which this {kind} key cannot verify")
        return cls(public_key, key_id_for(public_key))


def verify_parsed(token: ParsedToken, key: CertificatePublicKeyTypes | TokenKey) -> TokenClaims:
    """:func:`verify_token` for a token :func:`parse_token` has read."""
    checked = key if isinstance(key, TokenKey) else TokenKey.of(key)
    checked_id = checked.key_id
    if checked_id != token.claims.key_id:
        raise TokenError(
            f"the token names signer key {token.claims.key_id}, not key {checked_id} it was "
            "checked with"
        )
    r = int.from_bytes(token.signature[: ES256.size], "big")
    s = int.from_bytes(token.signature[ES256.size :], "big")
    try:
        checked.public_key.verify(
            encode_dss_signature(r, s),
            sig_structure(token.protected, token.payload),
            _ECDSA_SHA256,
        )
    except InvalidSignature:
        raise TokenError(
            f"the token's signature does not verify with key {checked_id}: "
            "the token was altered after signing"
        ) from None
    return token.claims


_ECDSA_SHA256 = ec.ECDSA(ES256.hash)


# --- the URL and the QR code --------------------------------------------------------------


def verification_url(base_url: str, token_text: str) -> str:
    """The URL the QR code carries: the base URL's scheme and host upper-cased when that makes
    them QR alphanumeric (they are case-insensitive), its path as given, then ``/V/`` after an
    alphanumeric path (or none) and ``/v/`` after any other, then the token's digits."""
    if not _DIGITS.fullmatch(token_text):
        _malformed("a token is decimal digits, not starting with 0")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"the public base URL {base_url!r} must be an http(s) address without query or fragment"
        )
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    if _QR_ALPHANUMERIC.fullmatch(origin.upper()):
        origin = origin.upper()
    route = "/V/" if _QR_ALPHANUMERIC.fullmatch(path) else "/v/"
    return f"{origin}{path}{route}{token_text}"


def qr_matrix(url: str) -> tuple[list[list[bool]], int]:
    """The QR code for ``url`` at error correction M: its modules (True is dark; no quiet zone)
    and its version. ``TokenError`` above version 10."""
    code = _qr_code(url)
    version = cast(int, code.version)
    if version > MAX_QR_VERSION:
        raise TokenError(
            f"the verification URL ({len(url)} characters) needs a version-{version} QR code; "
            f"at most version {MAX_QR_VERSION} scans from a 25 mm print. Shorter names or a "
            "shorter public base URL make it smaller"
        )
    return [[bool(module) for module in row] for row in code.matrix], version


def qr_segments(url: str) -> list[tuple[str, int]]:
    """``url`` as QR segments: the trailing digits (the token) in numeric mode; before them
    the longest alphanumeric start (``HTTPS://HOST/``) in alphanumeric mode and the rest (a
    lower-case path) in byte mode."""
    head = url.rstrip("0123456789")
    digits = url[len(head) :]
    split = cast(re.Match[str], _QR_ALPHANUMERIC.match(head)).end()
    if split < _MIN_ALPHANUMERIC_SEGMENT and split < len(head):
        split = 0
    segments = [
        (head[:split], qr_modes.MODE_ALPHANUMERIC),
        (head[split:], qr_modes.MODE_BYTE),
        (digits, qr_modes.MODE_NUMERIC),
    ]
    return [(text, mode) for text, mode in segments if text]


@functools.lru_cache(maxsize=16)
def qr_capacity(base_url: str) -> int:
    """The longest token, in bytes of the COSE message, that fits a version-10-M QR code
    behind ``base_url`` whatever its bytes are (0 if not even a tiny one does)."""

    def fits(size: int) -> bool:
        largest = (0xD3 << (8 * (size - 1))) - 1  # every message starts with 0xd2
        try:
            _qr_code(verification_url(base_url, str(largest)), version=MAX_QR_VERSION)
        except segno.DataOverflowError:
            return False
        return True

    low, high = 0, 400  # version 40 holds fewer than 400 bytes as digits behind any URL
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _qr_code(url: str, version: int | None = None) -> segno.QRCode:
    segments = qr_segments(url)
    if not segments:
        raise TokenError("there is no URL to put in a QR code")
    # segno takes a list of (content, mode) segments; its type stubs only admit one string.
    return segno.make(
        cast(Any, segments),
        error="m",
        version=version,
        boost_error=False,
        mask=QR_MASK,
        micro=False,
    )


# --- sizes, for checking a roster before any document exists --------------------------------


@dataclass(frozen=True)
class TokenSize:
    """How big the token of a document will be at most, and what a QR code holds."""

    size: int  # bytes of the COSE message, with the longest document number and any issue date
    capacity: int  # bytes a version-10-M QR code holds behind the base URL
    fields: Mapping[str, int]  # bytes of the fields a roster decides (holder_name, specialty …)

    @property
    def fits(self) -> bool:
        return self.size <= self.capacity


class TokenBudget:
    """The QR token of every document for a roster row must fit a version-10-M QR code behind
    ``base_url``. What the row does not decide is taken at its largest: the longest document
    number, an issue date up to 2149 and the one signature size (ES256)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.capacity = qr_capacity(base_url)

    def size(
        self,
        *,
        holder_name: str,
        series: str,
        level: Level,
        qualification_name: str,
        specialty: str,
        qualified_on: date,
    ) -> TokenSize:
        fields = {
            "holder_name": _text_size(holder_name, True),
            "specialty": _text_size(specialty, True),
            "qualification_name": _qualification_size(series, level, qualification_name),
        }
        payload = _FIXED_PAYLOAD_SIZE + sum(fields.values()) + _codes_size(series, level)
        payload += _item_size(_day(qualified_on))
        return TokenSize(_message_size(payload), self.capacity, fields)


def _item_size(item: object) -> int:
    return len(dumps(item))


@functools.lru_cache(maxsize=65536)
def _text_size(text: str, latin: bool) -> int:
    return _item_size(_pack_text(text, latin=latin))


@functools.lru_cache(maxsize=4096)
def _qualification_size(series: str, level: Level, name: str) -> int:
    return _item_size(_pack_qualification(series, level, name))


@functools.lru_cache(maxsize=256)
def _codes_size(series: str, level: Level) -> int:
    return _item_size(_series_number(series)) + _item_size(int(level.code))


def _bytes_size(length: int) -> int:
    """A CBOR byte string of ``length`` bytes, head included."""
    return len(cbor2.dumps(length)) + length


@functools.lru_cache(maxsize=512)
def _message_size(payload_size: int) -> int:
    """The COSE_Sign1 message around a payload of ``payload_size`` bytes (an ES256 token)."""
    # tag 18, array of 4, protected header, {}, payload, signature
    protected = _bytes_size(len(_protected_header(bytes(8))))
    return 1 + 1 + protected + 1 + _bytes_size(payload_size) + _bytes_size(2 * ES256.size)


# --- the message --------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedToken:
    """A token's parts, found to be exactly what :func:`sign_token` writes; the signature is
    not checked yet (:func:`verify_parsed` does that)."""

    protected: bytes
    payload: bytes
    signature: bytes
    claims: TokenClaims

    @property
    def key_id(self) -> str:
        return self.claims.key_id


def _malformed(reason: str) -> NoReturn:
    raise TokenError(f"not a certsvc token: {reason}")


def _loads(data: bytes, what: str) -> Any:
    try:
        return cbor2.loads(data, allow_duplicate_keys=False, allow_indefinite=False, max_depth=8)
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError):
        _malformed(f"{what} is not valid CBOR (damaged or cut short)")


@functools.lru_cache(maxsize=64)  # one per signer key: computed on every verification
def _protected_header(kid: bytes) -> bytes:
    return dumps({HEADER_ALG: ES256.cose_id, HEADER_KID: kid})


def _parse(cose: bytes) -> ParsedToken:
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
    kid = _read_header(protected)
    if len(signature) != 2 * ES256.size:
        _malformed(f"an ES256 signature has {2 * ES256.size} bytes, not {len(signature)}")
    claims = _read_payload(payload, kid.hex())
    expected = sign1_message(_protected_header(kid), _payload(claims), signature)
    if cose != expected:
        if cose.startswith(expected):
            _malformed(f"{len(cose) - len(expected)} extra bytes follow the message")
        _malformed("it is not in the deterministic encoding certsvc writes")
    return ParsedToken(protected, payload, signature, claims)


def _read_header(protected: bytes) -> bytes:
    """The key id, once the header is found to be exactly ``{alg: ES256, kid: 8 bytes}``."""
    header = _loads(protected, "the protected header")
    if not isinstance(header, Mapping):
        _malformed("the protected header is not a map")
    if HEADER_CRIT in header:
        _malformed("it marks header parameters critical, and certsvc knows none")
    unknown = set(header) - {HEADER_ALG, HEADER_KID}
    if unknown:
        _malformed(f"unexpected header parameters {sorted(map(repr, unknown))}")
    alg = header.get(HEADER_ALG)
    if type(alg) is int and alg == ES384_COSE_ID:
        _malformed("it is signed with ES384 (-35); certsvc tokens are ES256 (-7) only")
    if type(alg) is not int or alg != ES256.cose_id:
        _malformed(f"algorithm {alg!r} is not ES256 (-7)")
    kid = header.get(HEADER_KID)
    if not isinstance(kid, bytes) or len(kid) != 8:
        _malformed("the key id (kid) must be 8 bytes")
    return kid


# --- the payload --------------------------------------------------------------------------


def _payload(claims: TokenClaims) -> bytes:
    return dumps(
        [
            PAYLOAD_FORMAT,
            _pack_document_number(claims.document_number),
            claims.document_type.code,
            _pack_text(claims.holder_name, latin=True),
            _series_number(claims.series),
            int(claims.level.code),
            _pack_qualification(claims.series, claims.level, claims.qualification_name),
            _pack_text(claims.specialty, latin=True),
            _day(claims.qualified_on),
            _day(claims.issued_on),
        ]
    )


_PAYLOAD_ITEMS = 10


def _read_payload(payload: bytes, key_id: str) -> TokenClaims:
    fields = _loads(payload, "the payload")
    if not isinstance(fields, list | tuple):
        _malformed("the payload is not an array")
    if not fields or type(fields[0]) is not int:
        _malformed(
            "its payload does not start with a format number: an old token (format 1) or "
            f"not a certsvc token; this verifier reads format {PAYLOAD_FORMAT}"
        )
    if fields[0] != PAYLOAD_FORMAT:
        _malformed(f"payload format {fields[0]} is unknown; this verifier reads {PAYLOAD_FORMAT}")
    if len(fields) != _PAYLOAD_ITEMS:
        _malformed(f"the payload has {len(fields)} items, not {_PAYLOAD_ITEMS}")
    (
        _,
        number,
        type_code,
        holder,
        series_number,
        level_code,
        qualification,
        specialty,
        qualified,
        issued,
    ) = fields
    document_type = _DOCUMENT_TYPES.get(_int(type_code, "document type"))
    if document_type is None:
        _malformed(f"unknown document type code {type_code}")
    series_index = _int(series_number, "series")
    if not 0 <= series_index < len(SERIES):
        _malformed(f"unknown series number {series_index}")
    series = SERIES[series_index].name
    level = _LEVELS.get(_int(level_code, "level"))
    if level is None:
        _malformed(f"unknown level code {level_code}")
    return TokenClaims(
        document_number=_unpack_document_number(number),
        document_type=document_type,
        holder_name=_unpack_text(holder, "holder name", latin=True),
        series=series,
        qualification_name=_unpack_qualification(series, level, qualification),
        specialty=_unpack_text(specialty, "specialty", latin=True),
        level=level,
        qualified_on=_date(qualified, "qualification date"),
        issued_on=_date(issued, "issue date"),
        key_id=key_id,
    )


# Texts are packed the shortest way (ties in this order): a CBOR text string (UTF-8), a byte
# string holding UTF-16BE (Chinese: 2 bytes a character instead of 3), or, for names in Latin
# letters, a non-negative integer (a bignum when large) spelling the text in bijective base 56
# over LATIN_ALPHABET (5.8 bits a character instead of 8).


def _pack_symbols(text: str, alphabet: str) -> int:
    """``text`` as a number in bijective base ``len(alphabet)``: every text its own number
    (no leading-zero ambiguity), the empty text 0."""
    value = 0
    base = len(alphabet)
    digits = _digit_values(alphabet)
    for char in text:
        value = value * base + digits[char]
    return value


@functools.cache
def _digit_values(alphabet: str) -> dict[str, int]:
    """Each symbol's digit in bijective base ``len(alphabet)`` (1 for the first)."""
    return {char: position + 1 for position, char in enumerate(alphabet)}


def _unpack_symbols(value: int, alphabet: str, what: str, limit: int) -> str:
    if value < 0:
        _malformed(f"the {what} is a negative number")
    base = len(alphabet)
    if value > _largest_packed(base, limit):
        _malformed(f"the {what} is longer than {limit} characters")
    chars: list[str] = []
    while value:
        value, digit = divmod(value - 1, base)
        chars.append(alphabet[digit])
    return "".join(reversed(chars))


@functools.cache
def _largest_packed(base: int, length: int) -> int:
    """The number of the last symbol written ``length`` times: every text of at most
    ``length`` symbols packs to a number up to this one, and every longer text above it."""
    return sum(base**power for power in range(1, length + 1))


_LATIN_SET = frozenset(LATIN_ALPHABET)


def _pack_text(text: str, *, latin: bool) -> str | bytes | int:
    try:
        choices: list[str | bytes | int] = [text, text.encode("utf-16-be")]
    except UnicodeEncodeError:
        raise TokenError(f"{text!r} is not valid Unicode text") from None
    if latin and _LATIN_SET.issuperset(text):
        choices.append(_pack_symbols(text, LATIN_ALPHABET))
    return min(choices, key=_cbor_size)  # min keeps the first of ties


def _head_size(argument: int) -> int:
    """The bytes of a CBOR head carrying ``argument`` (a length or an unsigned value)."""
    if argument < 24:
        return 1
    if argument < 0x100:
        return 2
    if argument < 0x10000:
        return 3
    return 5 if argument < 0x100000000 else 9


def _cbor_size(item: str | bytes | int) -> int:
    """``len(dumps(item))`` for a text, byte string or non-negative integer, without encoding
    it (a token's texts are sized on every verification; tests hold it to ``dumps``)."""
    if isinstance(item, str):
        length = len(item.encode("utf-8"))
        return _head_size(length) + length
    if isinstance(item, bytes):
        return _head_size(len(item)) + len(item)
    if item < 0x10000000000000000:
        return _head_size(item)
    length = (item.bit_length() + 7) // 8  # a bignum: tag 2 and a byte string
    return 1 + _head_size(length) + length


def _unpack_text(value: object, what: str, *, latin: bool) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-16-be")
        except UnicodeDecodeError:
            _malformed(f"the {what} is not valid UTF-16")
    if latin and type(value) is int:
        return _unpack_symbols(value, LATIN_ALPHABET, what, MAX_PACKED_TEXT)
    _malformed(f"the {what} is not text")


def _pack_document_number(number: str) -> int:
    if not _DOCUMENT_NUMBER.fullmatch(number):
        raise TokenError(
            f"document number {number!r} cannot go into a QR token: it must be 1 to "
            f"{MAX_DOCUMENT_NUMBER_LENGTH} characters of 0-9, A-Z and '-'"
        )
    return _pack_symbols(number, DOCUMENT_NUMBER_ALPHABET)


def _unpack_document_number(value: object) -> str:
    if type(value) is not int:
        _malformed("the document number is not a packed number")
    number = _unpack_symbols(
        value, DOCUMENT_NUMBER_ALPHABET, "document number", MAX_DOCUMENT_NUMBER_LENGTH
    )
    if not number:
        _malformed("the document number is empty")
    return number


def _series_number(series: str) -> int:
    number = _SERIES_NUMBERS.get(series)
    if number is None:
        raise TokenError(f"series {series!r} is not in the catalogue of title series")
    return number


def _pack_qualification(series: str, level: Level, name: str) -> int | str | bytes:
    """The name's position among the catalogue's usual names of the series and level, or
    the name as text (never Latin-packed: an integer is a position)."""
    usual = QUALIFICATIONS.get((series, level), ())
    return usual.index(name) if name in usual else _pack_text(name, latin=False)


def _unpack_qualification(series: str, level: Level, value: object) -> str:
    if type(value) is int:
        usual = QUALIFICATIONS[(series, level)]
        if not 0 <= value < len(usual):
            _malformed(f"unknown qualification number {value} for {series} {level.value}")
        return usual[value]
    return _unpack_text(value, "qualification name", latin=False)


def _day(value: date) -> int:
    return value.toordinal() - _EPOCH


def _int(value: object, what: str) -> int:
    if type(value) is not int:
        _malformed(f"the {what} is not an integer")
    return value


def _date(value: object, what: str) -> date:
    try:
        return date.fromordinal(_EPOCH + _int(value, what))
    except (ValueError, OverflowError):
        _malformed(f"the {what} is out of range")


# The payload items a roster row does not decide, at their largest: the array's head, the
# format, the longest document number, the document type and the issue date (any day from
# 1970-09-13 to 2149-06-06 takes 3 bytes).
_FIXED_PAYLOAD_SIZE = (
    len(cbor2.dumps([None] * _PAYLOAD_ITEMS))
    - _PAYLOAD_ITEMS
    + _item_size(PAYLOAD_FORMAT)
    + _item_size(_pack_document_number(DOCUMENT_NUMBER_ALPHABET[-1] * MAX_DOCUMENT_NUMBER_LENGTH))
    + max(_item_size(kind.code) for kind in DocumentType)
    + _item_size(0xFFFF)
)
