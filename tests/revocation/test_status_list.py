"""The status list on its own: encoding, signature, freshness and sequence checks."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from certsvc.keys.certificates import key_id_for
from certsvc.keys.handles import KeyAlgorithm
from certsvc.revocation.models import StatusListPublication
from certsvc.revocation.service import serving_headers
from certsvc.revocation.status_list import (
    BLOCK_ENTRIES,
    EntryStatus,
    StatusListExpiredError,
    StatusListFormatError,
    StatusListReplayError,
    StatusListSignatureError,
    encode_bitstring,
    list_length,
    sign_status_list,
    status_list_payload,
    verify_status_list,
)

ISSUED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Handle:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())

    @property
    def algorithm(self) -> KeyAlgorithm:
        return KeyAlgorithm.ECDSA_P256

    @property
    def public_key(self) -> CertificatePublicKeyTypes:
        return self.key.public_key()

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))


def _signed(
    handle: Handle,
    flagged: dict[int, EntryStatus],
    *,
    sequence: int = 3,
    length: int = BLOCK_ENTRIES,
    hours: int = 24,
) -> bytes:
    payload = status_list_payload(
        url="https://zc.example.gov.cn/status/list.jws",
        sequence=sequence,
        issued_at=ISSUED,
        next_update=ISSUED + timedelta(hours=hours),
        length=length,
        encoded_list=encode_bitstring(length, flagged.items()),
    )
    return sign_status_list(payload, handle, key_id_for(handle.public_key))


def _trust(handle: Handle) -> dict[str, CertificatePublicKeyTypes]:
    return {key_id_for(handle.public_key): handle.public_key}


NOW = ISSUED + timedelta(hours=1)


def test_every_entry_reads_back_as_written() -> None:
    rng = random.Random(5)  # noqa: S311 - reproducible indexes, not secrets
    length = 2 * BLOCK_ENTRIES
    flagged = {
        rng.randrange(length): rng.choice([EntryStatus.REVOKED, EntryStatus.SUPERSEDED])
        for _ in range(2000)
    }
    flagged.update({0: EntryStatus.REVOKED, length - 1: EntryStatus.SUPERSEDED})
    handle = Handle()
    listed = verify_status_list(_signed(handle, flagged, length=length), _trust(handle), NOW)
    assert listed.flagged() == flagged
    for index in [0, 1, 2, 3, 4, length - 2, length - 1, *rng.sample(range(length), 500)]:
        assert listed.status_of(index) is flagged.get(index, EntryStatus.VALID)
    with pytest.raises(StatusListFormatError, match="outside"):
        listed.status_of(length)


def test_lengths_grow_in_whole_blocks() -> None:
    assert list_length(None) == BLOCK_ENTRIES
    assert list_length(BLOCK_ENTRIES - 1) == BLOCK_ENTRIES
    assert list_length(BLOCK_ENTRIES) == 2 * BLOCK_ENTRIES


def _tamper(token: bytes, change: dict[str, object]) -> bytes:
    header, payload, signature = token.split(b".")
    data = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    data.update(change)
    encoded = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=")
    return b".".join([header, encoded, signature])


def test_a_flipped_bit_breaks_the_signature() -> None:
    handle = Handle()
    token = _signed(handle, {7: EntryStatus.REVOKED})
    forged = _tamper(token, {"encoded_list": encode_bitstring(BLOCK_ENTRIES, [])})
    verify_status_list(token, _trust(handle), NOW)  # the original passes
    with pytest.raises(StatusListSignatureError, match="does not verify"):
        verify_status_list(forged, _trust(handle), NOW)


def test_another_signer_is_refused() -> None:
    handle, stranger = Handle(), Handle()
    with pytest.raises(StatusListSignatureError, match="not a trusted signer"):
        verify_status_list(_signed(stranger, {}), _trust(handle), NOW)
    # a stranger claiming a trusted key id: the signature does not verify
    token = _signed(stranger, {})
    header = base64.urlsafe_b64encode(
        json.dumps(
            {"alg": "ES256", "kid": key_id_for(handle.public_key), "typ": "certsvc-status-list+jwt"}
        ).encode()
    ).rstrip(b"=")
    borrowed = b".".join([header, *token.split(b".")[1:]])
    with pytest.raises(StatusListSignatureError, match="does not verify"):
        verify_status_list(borrowed, _trust(handle), NOW)


def test_an_expired_list_is_refused() -> None:
    handle = Handle()
    token = _signed(handle, {}, hours=2)
    verify_status_list(token, _trust(handle), ISSUED + timedelta(hours=2) - timedelta(seconds=1))
    with pytest.raises(StatusListExpiredError, match="out of date"):
        verify_status_list(token, _trust(handle), ISSUED + timedelta(hours=2))
    with pytest.raises(StatusListExpiredError, match="check this machine's clock"):
        verify_status_list(token, _trust(handle), ISSUED - timedelta(hours=1))


def test_an_older_sequence_is_refused() -> None:
    handle = Handle()
    token = _signed(handle, {}, sequence=3)
    assert verify_status_list(token, _trust(handle), NOW, minimum_sequence=3).sequence == 3
    with pytest.raises(StatusListReplayError, match="older than number 4"):
        verify_status_list(token, _trust(handle), NOW, minimum_sequence=4)


def test_not_a_status_list() -> None:
    handle = Handle()
    with pytest.raises(StatusListFormatError, match="not a compact JWS"):
        verify_status_list(b"hello", _trust(handle), NOW)
    other = jwt.encode({"a": 1}, handle.key, algorithm="ES256", headers={"kid": "x"})
    with pytest.raises(StatusListFormatError, match="not a status list"):
        verify_status_list(other.encode(), _trust(handle), NOW)


def test_an_rsa_or_unknown_handle_cannot_sign() -> None:
    handle = Handle()
    payload = status_list_payload(
        url="u",
        sequence=1,
        issued_at=ISSUED,
        next_update=ISSUED + timedelta(hours=1),
        length=BLOCK_ENTRIES,
        encoded_list=encode_bitstring(BLOCK_ENTRIES, []),
    )

    class Rsa(Handle):
        @property
        def algorithm(self) -> KeyAlgorithm:
            return KeyAlgorithm.RSA_3072

    with pytest.raises(StatusListSignatureError, match="ECDSA"):
        sign_status_list(payload, Rsa(), "k")
    with pytest.raises(ValueError, match="outside"):
        encode_bitstring(BLOCK_ENTRIES, [(BLOCK_ENTRIES, EntryStatus.REVOKED)])
    assert sign_status_list(payload, handle, "k").count(b".") == 2


def test_serving_headers_never_let_a_cache_outlive_the_list() -> None:
    publication = StatusListPublication(
        sequence=1,
        issued_at=ISSUED,
        next_update=ISSUED + timedelta(hours=2),
        length=BLOCK_ENTRIES,
        flagged=0,
        key_id="k",
        content=b"x",
        sha256="ab" * 32,
        created_by="t",
    )
    fresh = serving_headers(publication, ISSUED)
    # a few minutes at most, so that a new list reaches verifiers within one refresh
    assert fresh["Cache-Control"] == "public, max-age=300, must-revalidate"
    assert fresh["ETag"] == f'"{"ab" * 32}"'
    assert fresh["Content-Type"] == "application/certsvc-status-list+jwt"
    assert fresh["Last-Modified"] == "Mon, 05 Jan 2026 09:00:00 GMT"
    late = serving_headers(publication, ISSUED + timedelta(hours=1, minutes=56))
    assert late["Cache-Control"].startswith("public, max-age=60,")
    assert serving_headers(publication, ISSUED + timedelta(hours=3))["Cache-Control"].startswith(
        "public, max-age=0,"
    )
