"""From a record to a signed document: token, QR code, page, signature.

``DocumentFactory`` is built once per process (or batch worker) from a prepared renderer and
the agency's signing material; everything that does not change between documents — fonts,
layouts, the key, the seal appearance, the pyHanko signer — is prepared there. ``make`` is the
per-document work, timed step by step for the benchmark.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass

from certsvc.documents.record import DocumentRecord, DocumentType
from certsvc.documents.render import Renderer
from certsvc.documents.sign import DocumentSigner, SigningMaterial
from certsvc.documents.token import (
    claims_from_record,
    encode_token,
    qr_matrix,
    sign_token,
    verification_url,
)
from certsvc.errors import StateError

VERIFY_PATH = "/verify"


@dataclass(frozen=True)
class IssuedDocument:
    record: DocumentRecord
    pdf: bytes
    token_text: str
    qr_version: int
    sha256: str
    timings_ms: dict[str, float]


class DocumentFactory:
    def __init__(self, renderer: Renderer, material: SigningMaterial, *, base_url: str) -> None:
        self.renderer = renderer
        self.material = material
        self.base_url = base_url.rstrip("/")
        agency = material.signer_name
        self._signers = {
            kind: DocumentSigner(
                material,
                seal_appearance=renderer.seal_appearance(kind, agency),
                seal_box=renderer.seal_box(kind),
            )
            for kind in DocumentType
        }

    @property
    def level(self) -> str:
        """The PAdES level the documents reach (see :attr:`DocumentSigner.level`)."""
        return self._signers[DocumentType.CERTIFICATE].level

    @property
    def verify_page(self) -> str:
        return self.base_url + VERIFY_PATH

    def prepare(self, record: DocumentRecord) -> DocumentRecord:
        """The record as this factory will sign it: with this signer's key id. A record of
        another agency is refused: its page would carry this agency's seal and signature."""
        if self.material.agency_code and record.agency_code != self.material.agency_code:
            raise StateError(
                f"record {record.document_number} is issued by agency {record.agency_code}, "
                f"but the signer {self.material.key_id} belongs to {self.material.agency_code}"
            )
        if self.material.signer_name and record.agency_name != self.material.signer_name:
            raise StateError(
                f"record {record.document_number} names the agency {record.agency_name!r}, "
                f"but the signer belongs to {self.material.signer_name!r}"
            )
        return dataclasses.replace(record, signer_key_id=self.material.key_id)

    def make(self, record: DocumentRecord) -> IssuedDocument:
        record = self.prepare(record)
        started = time.perf_counter()
        cose = sign_token(claims_from_record(record), self.material.handle, self.material.key_id)
        token_text = encode_token(cose)
        matrix, version = qr_matrix(verification_url(self.base_url, token_text))
        qr_done = time.perf_counter()
        unsigned = self.renderer.render(
            record, qr_matrix=matrix, verify_url=self.verify_page, with_seal=False
        )
        rendered = time.perf_counter()
        pdf = self._signers[record.document_type].sign(unsigned, record, token_text)
        signed = time.perf_counter()
        return IssuedDocument(
            record=record,
            pdf=pdf,
            token_text=token_text,
            qr_version=version,
            sha256=hashlib.sha256(pdf).hexdigest(),
            timings_ms={
                "qr": (qr_done - started) * 1000,
                "render": (rendered - qr_done) * 1000,
                "sign": (signed - rendered) * 1000,
            },
        )

    def close(self) -> None:
        for signer in self._signers.values():
            signer.close()
