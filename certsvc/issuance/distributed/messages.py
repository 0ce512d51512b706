"""What travels between the coordinator and the Celery workers.

A **chunk** (coordinator → worker, a Celery task's JSON argument) names a few candidates by
their batch item ids, the run they belong to, and the signer and CRL the run signs with. It
carries no record: the worker reads the reserved registry rows from the database, so whoever
can write to the broker can at most ask for documents the registry has already reserved to be
signed, never for a document of their own making.

A **reply** (worker → coordinator, a message on the run's reply queue) carries the signed PDFs
themselves: a short JSON header followed by the PDFs' bytes. At about 55 KB per PDF (110 KB a
candidate) it is far cheaper to move them through the broker than to ask for a file system
shared by every machine (see ``certsvc.issuance.distributed``).
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from typing import Any

MAGIC = b"CSR1"  # certsvc signing reply, version 1
_HEADER = struct.Struct(">4sI")
MAX_ITEMS = 1000


class MessageError(ValueError):
    """A chunk or reply that is not what certsvc sends."""


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    batch_id: int
    run: int
    item_ids: tuple[int, ...]
    signer_key_id: str
    crl_number: int
    base_url: str
    reply_to: str

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "chunk": self.chunk_id,
            "batch": self.batch_id,
            "run": self.run,
            "items": list(self.item_ids),
            "signer": self.signer_key_id,
            "crl": self.crl_number,
            "base_url": self.base_url,
            "reply_to": self.reply_to,
        }

    @classmethod
    def from_json(cls, data: Any) -> Chunk:
        try:
            if not isinstance(data, dict) or data.get("v") != 1:
                raise MessageError("not a version-1 chunk")
            items = data["items"]
            if not isinstance(items, list) or not 0 < len(items) <= MAX_ITEMS:
                raise MessageError("a chunk names 1 to 1000 items")
            chunk = cls(
                chunk_id=_text(data["chunk"]),
                batch_id=_number(data["batch"]),
                run=_number(data["run"]),
                item_ids=tuple(_number(item) for item in items),
                signer_key_id=_text(data["signer"]),
                crl_number=_number(data["crl"]),
                base_url=_text(data["base_url"]),
                reply_to=_text(data["reply_to"]),
            )
        except KeyError as missing:
            raise MessageError(f"a chunk without {missing}") from None
        return chunk


@dataclass(frozen=True)
class SignedDocument:
    document_id: int
    sha256: str
    token: str
    signer_key_id: str
    pdf: bytes


@dataclass(frozen=True)
class SignedCandidate:
    item_id: int
    documents: tuple[SignedDocument, ...] = ()
    error: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """A worker's answer to one delivery of a chunk: the candidates it signed (or could not),
    the chunk's items it did not find reserved, or an ``error`` that kept it from signing."""

    chunk_id: str
    batch_id: int
    run: int
    worker: str
    candidates: tuple[SignedCandidate, ...] = ()
    missing: tuple[int, ...] = ()
    error: str | None = None

    def encode(self) -> bytes:
        blobs: list[bytes] = []
        candidates = []
        for candidate in self.candidates:
            documents = []
            for document in candidate.documents:
                documents.append(
                    {
                        "id": document.document_id,
                        "sha256": document.sha256,
                        "size": len(document.pdf),
                        "token": document.token,
                        "signer": document.signer_key_id,
                    }
                )
                blobs.append(document.pdf)
            candidates.append(
                {
                    "item": candidate.item_id,
                    "documents": documents,
                    "error": candidate.error,
                    "timings_ms": candidate.timings_ms,
                }
            )
        header = json.dumps(
            {
                "chunk": self.chunk_id,
                "batch": self.batch_id,
                "run": self.run,
                "worker": self.worker,
                "candidates": candidates,
                "missing": list(self.missing),
                "error": self.error,
            },
            separators=(",", ":"),
        ).encode()
        return b"".join([_HEADER.pack(MAGIC, len(header)), header, *blobs])

    @classmethod
    def decode(cls, data: bytes) -> Reply:
        """The reply in ``data``; every PDF checked against the hash the worker reported."""
        if len(data) < _HEADER.size:
            raise MessageError("a reply shorter than its header")
        magic, length = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise MessageError("not a certsvc signing reply")
        view = memoryview(data)
        offset = _HEADER.size + length
        try:
            header = json.loads(bytes(view[_HEADER.size : offset]))
            candidates = []
            for candidate in header["candidates"]:
                documents = []
                for document in candidate["documents"]:
                    size = _number(document["size"])
                    pdf = bytes(view[offset : offset + size])
                    offset += size
                    sha256 = _text(document["sha256"])
                    if len(pdf) != size or hashlib.sha256(pdf).hexdigest() != sha256:
                        raise MessageError(f"document {document['id']} arrived damaged")
                    documents.append(
                        SignedDocument(
                            document_id=_number(document["id"]),
                            sha256=sha256,
                            token=_text(document["token"]),
                            signer_key_id=_text(document["signer"]),
                            pdf=pdf,
                        )
                    )
                candidates.append(
                    SignedCandidate(
                        item_id=_number(candidate["item"]),
                        documents=tuple(documents),
                        error=_optional(candidate["error"]),
                        timings_ms={
                            str(step): float(ms) for step, ms in candidate["timings_ms"].items()
                        },
                    )
                )
            reply = cls(
                chunk_id=_text(header["chunk"]),
                batch_id=_number(header["batch"]),
                run=_number(header["run"]),
                worker=_text(header["worker"]),
                candidates=tuple(candidates),
                missing=tuple(_number(item) for item in header["missing"]),
                error=_optional(header["error"]),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            if isinstance(exc, MessageError):
                raise
            raise MessageError(f"a malformed reply: {exc!r}") from None
        if offset != len(data):
            raise MessageError("a reply with bytes left over")
        return reply


def _number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MessageError(f"expected a whole number, not {value!r}")
    return value


def _optional(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise MessageError(f"expected a text or nothing, not {value!r}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 500:
        raise MessageError(f"expected a short text, not {value!r}")
    return value
