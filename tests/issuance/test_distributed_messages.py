"""Chunks and replies as they travel through the broker: strict in what they accept."""

from __future__ import annotations

import hashlib

import pytest

from certsvc.issuance.distributed.messages import (
    Chunk,
    MessageError,
    Reply,
    SignedCandidate,
    SignedDocument,
)

CHUNK = Chunk("c1", 3, 2, (10, 11), "k1", 4, "https://zc.example.gov.cn", "q.replies.batch-3")


def _document(document_id: int, pdf: bytes) -> SignedDocument:
    return SignedDocument(document_id, hashlib.sha256(pdf).hexdigest(), "tok", "k1", pdf)


REPLY = Reply(
    "c1",
    3,
    2,
    "certsvc-1@host",
    candidates=(
        SignedCandidate(
            10, (_document(20, b"%PDF-one"), _document(21, b"%PDF-two")), None, {"sign": 2.5}
        ),
        SignedCandidate(11, error="the name does not fit"),
    ),
)


def test_a_chunk_survives_json() -> None:
    assert Chunk.from_json(CHUNK.to_json()) == CHUNK


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"v": 2}, "version-1"),
        ({"items": []}, "1 to 1000"),
        ({"items": ["10"]}, "whole number"),
        ({"run": -1}, "whole number"),
        ({"signer": ""}, "short text"),
    ],
)
def test_a_malformed_chunk_is_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(MessageError, match=message):
        Chunk.from_json({**CHUNK.to_json(), **change})
    with pytest.raises(MessageError, match="without"):
        Chunk.from_json({k: v for k, v in CHUNK.to_json().items() if k != "batch"})


def test_a_reply_carries_the_pdfs_byte_for_byte() -> None:
    assert Reply.decode(REPLY.encode()) == REPLY


def test_a_damaged_or_foreign_reply_is_refused() -> None:
    data = REPLY.encode()
    damaged = data[:-3] + b"XYZ"
    with pytest.raises(MessageError, match="arrived damaged"):
        Reply.decode(damaged)
    with pytest.raises(MessageError, match="left over"):
        Reply.decode(data + b"x")
    with pytest.raises(MessageError, match="not a certsvc"):
        Reply.decode(b"PK\x03\x04" + data[4:])
    with pytest.raises(MessageError):
        Reply.decode(data[:30])
