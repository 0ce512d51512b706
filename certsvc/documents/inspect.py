"""Reading a signed document back: its attachments and its signature, without judging them.

Judging — is the signature valid, trusted, unaltered, current? — is verification's job; this
module only extracts what is there, for `certsvc document inspect` and for the verifier.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader

from certsvc.documents.record import RECORD_FILENAME, TOKEN_FILENAME, DocumentRecord
from certsvc.errors import InputError


@dataclass(frozen=True)
class SignatureSummary:
    field_name: str
    signer_subject: str
    signer_serial: str
    signing_time: str | None
    covers_whole_file: bool
    certified: bool


@dataclass(frozen=True)
class DocumentContents:
    attachments: dict[str, bytes]
    signatures: list[SignatureSummary]
    revisions: int

    @property
    def record(self) -> DocumentRecord | None:
        """The attached record, checked against the record format; InputError if damaged."""
        data = self.attachments.get(RECORD_FILENAME)
        if data is None:
            return None
        try:
            return DocumentRecord.from_dict(json.loads(data))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(
                f"the attached {RECORD_FILENAME} is not a certsvc record: {type(exc).__name__}"
            ) from None

    @property
    def token(self) -> str | None:
        data = self.attachments.get(TOKEN_FILENAME)
        if data is None:
            return None
        try:
            return data.decode("ascii").strip()
        except UnicodeDecodeError:
            raise InputError(f"the attached {TOKEN_FILENAME} is not a token") from None


def open_pdf(data: bytes) -> PdfFileReader:
    if not data.startswith(b"%PDF-"):
        raise InputError("not a PDF file (it does not start with %PDF-)")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=True)
    except (PdfError, ValueError, KeyError) as exc:
        raise InputError(f"the PDF cannot be read: {exc}") from None
    if reader.encrypted:
        raise InputError("the PDF is encrypted; certsvc documents never are")
    return reader


def read_contents(data: bytes) -> DocumentContents:
    reader = open_pdf(data)
    try:
        attachments = _attachments(reader)
        signatures = [_summary(sig) for sig in reader.embedded_signatures]
    except (PdfError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"the PDF's structure cannot be read: {exc}") from None
    return DocumentContents(attachments, signatures, reader.xrefs.total_revisions)


def _attachments(reader: PdfFileReader) -> dict[str, bytes]:
    names_root = reader.root.get("/Names")
    if names_root is None:
        return {}
    tree = names_root.get_object().get("/EmbeddedFiles")
    found: dict[str, bytes] = {}
    if tree is not None:
        _walk_name_tree(tree.get_object(), found, depth=0)
    return found


def _walk_name_tree(node: Any, found: dict[str, bytes], depth: int) -> None:
    if depth > 8:
        raise InputError("the PDF's attachment tree is nested too deeply")
    entries = node.get("/Names")
    if entries is not None:
        entries = entries.get_object()
        for index in range(0, len(entries) - 1, 2):
            spec = entries[index + 1].get_object()
            found[str(entries[index])] = spec["/EF"]["/F"].get_object().data
    for kid in node.get("/Kids", generic.ArrayObject()):
        _walk_name_tree(kid.get_object(), found, depth + 1)


def _summary(signature: Any) -> SignatureSummary:
    certificate = signature.signer_cert
    signature.compute_integrity_info()
    covered = signature.coverage is not None and signature.coverage.name == "ENTIRE_FILE"
    sig_object = signature.sig_object
    signing_time = sig_object.get("/M")
    return SignatureSummary(
        field_name=str(signature.field_name),
        signer_subject=certificate.subject.human_friendly,
        signer_serial=format(certificate.serial_number, "x"),
        signing_time=str(signing_time) if signing_time is not None else None,
        covers_whole_file=covered,
        certified=signature.docmdp_level is not None,
    )
