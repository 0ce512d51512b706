"""The status list: every document's current status in one small signed file.

In the manner of the W3C Bitstring Status List (v1.0), each issued document has an index in
the list (``Document.status_list_index``) and the list holds a 2-bit entry per index
(``status_size`` 2, the W3C "message" purpose), index 0 in the two most significant bits of the
first byte:

===== ============ ===============================================================
0b00  valid        issued and current (or never used: an index nobody holds)
0b01  revoked      withdrawn; the registry and the log say why and from when
0b10  superseded   replaced by a reissue; the registry and the log name the new one
===== ============ ===============================================================

The bits are GZIP-compressed and written as multibase base64url (``u`` then base64url without
padding). The list is padded to a multiple of 131,072 entries (the W3C minimum, 32 KB
uncompressed), so that its length says little about how many documents there are.

The envelope is a compact JWS (``typ`` ``certsvc-status-list+jwt``, ``ES256``) signed by an
agency document signer, whose key id is the header's ``kid``; the payload is RFC 8785 canonical
JSON::

    {"type": "certsvc-status-list", "version": 1, "url": "https://…/status/list.jws",
     "sequence": 12, "issued_at": "…", "next_update": "…", "status_size": 2,
     "length": 131072, "status_messages": [...], "encoded_list": "uH4sI…"}

A document's record names its entry (``credentialStatus``: :class:`StatusEntry`,
:func:`status_entry`). A list's ``next_update`` is never later than the moment the next
scheduled revocation takes effect (:func:`effective_from`), so no list outlives what it says.

A verifier fetches it once and checks many documents offline: the signature against the
signers it trusts (the trust list), ``next_update`` not passed, ``sequence`` not older than one
already accepted; then :meth:`StatusList.status_of` per document index.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import IntEnum
from typing import Any

import jwt
import rfc8785
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from certsvc.documents.record import StatusEntry
from certsvc.errors import CertsvcError
from certsvc.keys.certificates import CLOCK_SKEW
from certsvc.keys.handles import KeyAlgorithm, PrivateKeyHandle

MEDIA_TYPE = "certsvc-status-list+jwt"
PAYLOAD_TYPE = "certsvc-status-list"
FORMAT_VERSION = 1
STATUS_SIZE = 2  # bits per entry
BLOCK_ENTRIES = 131_072  # the W3C minimum length; lists grow in blocks of it
MAX_ENTRIES = 1 << 26  # 16 MB uncompressed: far beyond any bureau
STATUS_LIST_PATH = "/status/list.jws"
DEFAULT_VALIDITY = timedelta(hours=24)
_ALGORITHMS = {KeyAlgorithm.ECDSA_P256: ("ES256", 32), KeyAlgorithm.ECDSA_P384: ("ES384", 48)}


class EntryStatus(IntEnum):
    VALID = 0
    REVOKED = 1
    SUPERSEDED = 2


STATUS_MESSAGES = [
    {"status": f"0x{status.value:x}", "message": status.name.lower()} for status in EntryStatus
]


class StatusListError(CertsvcError):
    """A status list cannot be trusted or read; the subclass says which check failed."""

    exit_code = 8


class StatusListFormatError(StatusListError):
    """Not a certsvc status list, or a malformed one."""


class StatusListSignatureError(StatusListError):
    """The signature does not verify, or the signer is not trusted."""


class StatusListExpiredError(StatusListError):
    """``next_update`` has passed (or the list is dated in the future)."""


class StatusListReplayError(StatusListError):
    """Older than a list the verifier has already accepted."""


def effective_from(day: date, zone: tzinfo) -> datetime:
    """The moment a revocation effective on ``day`` (a day in the bureau's time zone ``zone``)
    takes effect: that day's first instant. The status list flips then."""
    return datetime.combine(day, time(0), zone)


def status_list_url(public_base_url: str) -> str:
    return public_base_url.rstrip("/") + STATUS_LIST_PATH


def status_entry(public_base_url: str, document_id: int) -> StatusEntry:
    """Where the document with registry id ``document_id`` has its status: its index in the
    list *is* its registry id (given when the row is reserved, before anything is signed), so
    the record, the registry row and the list agree without another counter."""
    return StatusEntry(url=status_list_url(public_base_url), index=document_id)


# -- the bitstring --------------------------------------------------------------------------


def list_length(highest_index: int | None) -> int:
    """The entries a list needs for indexes up to ``highest_index``, in whole blocks."""
    needed = 0 if highest_index is None else highest_index + 1
    blocks = max(1, -(-needed // BLOCK_ENTRIES))
    length = blocks * BLOCK_ENTRIES
    if length > MAX_ENTRIES:
        raise StatusListFormatError(f"a status list holds at most {MAX_ENTRIES:,} entries")
    return length


def encode_bitstring(length: int, flagged: Iterable[tuple[int, EntryStatus]]) -> str:
    """The multibase base64url of the GZIP of ``length`` 2-bit entries, all valid except
    ``flagged`` (index, status)."""
    bits = bytearray(length * STATUS_SIZE // 8)
    for index, status in flagged:
        if not 0 <= index < length:
            raise ValueError(f"status list index {index} is outside 0..{length - 1}")
        byte, slot = divmod(index, 4)
        shift = 6 - 2 * slot
        bits[byte] = (bits[byte] & ~(0b11 << shift)) | (int(status) << shift)
    compressed = gzip.compress(bytes(bits), compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def decode_bitstring(encoded: str, length: int) -> bytes:
    if not encoded.startswith("u"):
        raise StatusListFormatError("the encoded list is not multibase base64url ('u' prefix)")
    text = encoded[1:]
    try:
        compressed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        bits = gzip.decompress(compressed)
    except (ValueError, OSError, EOFError) as exc:
        raise StatusListFormatError(f"the encoded list cannot be decoded: {exc}") from None
    if len(bits) * 8 != length * STATUS_SIZE:
        raise StatusListFormatError(
            f"the encoded list holds {len(bits) * 8 // STATUS_SIZE} entries, not the {length} "
            "its length says"
        )
    return bits


# -- the signed envelope --------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def status_list_payload(
    *,
    url: str,
    sequence: int,
    issued_at: datetime,
    next_update: datetime,
    length: int,
    encoded_list: str,
) -> dict[str, Any]:
    return {
        "type": PAYLOAD_TYPE,
        "version": FORMAT_VERSION,
        "url": url,
        "sequence": sequence,
        "issued_at": _timestamp(issued_at),
        "next_update": _timestamp(next_update),
        "status_size": STATUS_SIZE,
        "status_messages": STATUS_MESSAGES,
        "length": length,
        "encoded_list": encoded_list,
    }


def sign_status_list(payload: Mapping[str, Any], handle: PrivateKeyHandle, key_id: str) -> bytes:
    """The compact JWS of ``payload`` (RFC 8785 canonical JSON) signed with ``handle``."""
    algorithm = _ALGORITHMS.get(handle.algorithm)
    if algorithm is None:
        raise StatusListSignatureError(
            f"a status list is signed with an ECDSA key, not {handle.algorithm.value}"
        )
    name, size = algorithm
    header = rfc8785.dumps({"alg": name, "kid": key_id, "typ": MEDIA_TYPE})
    signing_input = f"{_b64(header)}.{_b64(rfc8785.dumps(dict(payload)))}"
    r, s = decode_dss_signature(handle.sign(signing_input.encode("ascii")))
    signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return f"{signing_input}.{_b64(signature)}".encode("ascii")


@dataclass(frozen=True)
class StatusList:
    """A verified status list."""

    url: str
    sequence: int
    issued_at: datetime
    next_update: datetime
    length: int
    key_id: str
    bits: bytes

    def status_of(self, index: int) -> EntryStatus:
        """The status of the document at ``index``; ``StatusListFormatError`` outside the list."""
        if not 0 <= index < self.length:
            raise StatusListFormatError(
                f"index {index} is outside this status list (0..{self.length - 1})"
            )
        byte, slot = divmod(index, 4)
        value = (self.bits[byte] >> (6 - 2 * slot)) & 0b11
        try:
            return EntryStatus(value)
        except ValueError:
            raise StatusListFormatError(f"index {index} has an unknown status {value}") from None

    def flagged(self) -> dict[int, EntryStatus]:
        """Every index that is not valid, with its status."""
        found: dict[int, EntryStatus] = {}
        for byte, value in enumerate(self.bits):
            if value:
                for slot in range(4):
                    if (value >> (6 - 2 * slot)) & 0b11:
                        found[byte * 4 + slot] = self.status_of(byte * 4 + slot)
        return found


TrustMaterial = Mapping[str, CertificatePublicKeyTypes]


def verify_status_list(
    data: bytes,
    trust: TrustMaterial,
    now: datetime,
    *,
    minimum_sequence: int | None = None,
    expected_url: str | None = None,
) -> StatusList:
    """Check a status list and read it, as of ``now``.

    ``trust`` maps key ids to the public keys of the signers the verifier trusts (from a
    verified trust list, or :func:`certsvc.transparency.service.trust_from_certificates`).
    ``minimum_sequence`` is the sequence of the newest list already accepted: an older one is
    refused (it may not show a later revocation). Each failed check raises its own subclass of
    :class:`StatusListError`."""
    if now.tzinfo is None:
        raise ValueError("verify_status_list needs an aware `now`")
    try:
        header = jwt.get_unverified_header(data)
    except jwt.PyJWTError as exc:
        raise StatusListFormatError(f"the status list is not a compact JWS: {exc}") from None
    if header.get("typ") != MEDIA_TYPE:
        raise StatusListFormatError(f"the JWS is a {header.get('typ')!r}, not a status list")
    key_id = header.get("kid")
    if not isinstance(key_id, str):
        raise StatusListFormatError("the status list's header names no signer (kid)")
    public_key = trust.get(key_id)
    if public_key is None:
        raise StatusListSignatureError(
            f"the status list is signed by key {key_id!r}, which is not a trusted signer"
        )
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise StatusListSignatureError(f"trusted signer {key_id} has no ECDSA key")
    algorithm = {256: "ES256", 384: "ES384"}.get(public_key.curve.key_size, "")
    try:
        raw = jwt.api_jws.decode(data, public_key, algorithms=[algorithm])
    except jwt.InvalidSignatureError:
        raise StatusListSignatureError(
            f"the status list's signature does not verify with signer {key_id}'s key (it was "
            "altered after signing, or signed by another key)"
        ) from None
    except jwt.PyJWTError as exc:
        raise StatusListSignatureError(f"the status list's signature is unusable: {exc}") from None
    try:
        payload = json.loads(raw)
    except ValueError:
        raise StatusListFormatError("the status list payload is not JSON") from None
    if not isinstance(payload, dict) or payload.get("type") != PAYLOAD_TYPE:
        raise StatusListFormatError("the payload is not a certsvc status list")
    if payload.get("version") != FORMAT_VERSION or payload.get("status_size") != STATUS_SIZE:
        raise StatusListFormatError("the status list has an unknown version or status size")
    sequence = _field(payload, "sequence", int)
    issued_at = _time(payload, "issued_at")
    next_update = _time(payload, "next_update")
    length = _field(payload, "length", int)
    url = _field(payload, "url", str)
    if now >= next_update:
        raise StatusListExpiredError(
            f"the status list is out of date: it was due to be replaced by "
            f"{next_update.isoformat()} and it is now {now.isoformat()}; fetch the current one"
        )
    if issued_at > now + CLOCK_SKEW:
        raise StatusListExpiredError(
            f"the status list was issued at {issued_at.isoformat()}, after now "
            f"({now.isoformat()}); check this machine's clock"
        )
    if minimum_sequence is not None and sequence < minimum_sequence:
        raise StatusListReplayError(
            f"the status list has sequence {sequence}, older than number {minimum_sequence} "
            "already accepted; an old list may not show a later revocation"
        )
    if expected_url is not None and url != expected_url:
        raise StatusListFormatError(f"the status list is for {url}, not {expected_url}")
    if not 0 < length <= MAX_ENTRIES or length % BLOCK_ENTRIES:
        raise StatusListFormatError(f"the status list has an impossible length {length}")
    bits = decode_bitstring(_field(payload, "encoded_list", str), length)
    return StatusList(url, sequence, issued_at, next_update, length, key_id, bits)


def _field(payload: dict[str, Any], name: str, kind: type[Any]) -> Any:
    value = payload.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise StatusListFormatError(f"the status list has no valid {name!r}")
    return value


def _time(payload: dict[str, Any], name: str) -> datetime:
    text = _field(payload, name, str)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise StatusListFormatError(f"the status list has a malformed {name!r}") from None
    if value.tzinfo is None:
        raise StatusListFormatError(f"the status list's {name!r} has no time zone")
    return value


def content_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
