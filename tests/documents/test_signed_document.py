"""A signed document end to end, judged by validators no one here wrote: pyHanko's validator
(library and command line), poppler's pdfsig, qpdf; and the attacks each must catch."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from certsvc.documents.factory import DocumentFactory, IssuedDocument
from certsvc.documents.inspect import read_contents
from certsvc.documents.record import DocumentType, sample_record
from certsvc.documents.render import Renderer, record_values
from certsvc.documents.token import decode_token, verify_token
from tests.documents.conftest import BASE_URL, Chain, in_process_tsa, tool
from tests.documents.raster import read_pnm


@pytest.fixture(scope="module", params=list(DocumentType), ids=[t.value for t in DocumentType])
def issued(request: pytest.FixtureRequest, factory: DocumentFactory) -> IssuedDocument:
    return factory.make(sample_record(document_type=request.param))


def written(tmp_path: Path, data: bytes, name: str = "doc.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def pyhanko_status(pdf: bytes, chain: Chain):  # type: ignore[no-untyped-def]
    context = ValidationContext(
        trust_roots=[
            asn1_x509.Certificate.load(chain.root.public_bytes(serialization.Encoding.DER))
        ],
        crls=[asn1_crl.CertificateList.load(chain.crl_der)],
        allow_fetching=False,
    )
    reader = PdfFileReader(io.BytesIO(pdf))
    (signature,) = reader.embedded_signatures
    return validate_pdf_signature(signature, context)


def test_pyhanko_judges_it_intact_trusted_and_unmodified(
    issued: IssuedDocument, chain: Chain
) -> None:
    status = pyhanko_status(issued.pdf, chain)
    assert status.bottom_line, status.pretty_print_details()
    assert status.intact and status.valid and status.trusted
    assert status.coverage.name == "ENTIRE_FILE"
    assert status.docmdp_ok and status.modification_level.name == "NONE"


def test_pyhanko_command_line_says_valid(
    issued: IssuedDocument, chain: Chain, tmp_path: Path
) -> None:
    root = written(tmp_path, chain.root.public_bytes(serialization.Encoding.PEM), "root.pem")
    result = tool(
        str(Path(sys.executable).parent / "pyhanko"),
        "sign",
        "validate",
        "--trust",
        root,
        "--trust-replace",
        "--soft-revocation-check",
        "--executive-summary",
        written(tmp_path, issued.pdf),
    )
    assert result.stdout.strip().endswith(":VALID"), result.stdout + result.stderr


def test_pdfsig_says_valid_trusted_and_whole(
    issued: IssuedDocument, nss_db: str, tmp_path: Path
) -> None:
    output = tool("pdfsig", "-nssdir", nss_db, written(tmp_path, issued.pdf)).stdout
    assert "Signature is Valid" in output
    assert "Certificate is Trusted" in output
    assert "Total document signed" in output


def test_qpdf_finds_no_errors(issued: IssuedDocument, tmp_path: Path) -> None:
    output = tool("qpdf", "--check", written(tmp_path, issued.pdf)).stdout
    assert "No syntax or stream encoding errors" in output


def test_every_font_is_embedded(issued: IssuedDocument, tmp_path: Path) -> None:
    rows = tool("pdffonts", written(tmp_path, issued.pdf)).stdout.splitlines()[2:]
    assert rows
    assert all(row.split()[-5] == "yes" for row in rows), rows


def test_text_extracts_back_to_the_record(
    issued: IssuedDocument, renderer: Renderer, tmp_path: Path
) -> None:
    text = tool("pdftotext", written(tmp_path, issued.pdf), "-").stdout
    flat = text.replace("\n", "").replace(" ", "")
    values = record_values(issued.record)
    printed = [box.name for box in renderer.layouts[issued.record.document_type].fields]
    assert "holder_name" in printed and "id_number" in printed
    for name in printed:
        assert values[name].replace(" ", "") in flat, name


def test_record_and_token_are_attached_and_agree(issued: IssuedDocument, chain: Chain) -> None:
    contents = read_contents(issued.pdf)
    assert contents.record == issued.record
    assert contents.token == issued.token_text
    claims = verify_token(decode_token(contents.token), chain.signer.public_key())
    assert claims.document_number == issued.record.document_number
    assert claims.key_id == chain.key_id == issued.record.signer_key_id
    assert [s.certified for s in contents.signatures] == [True]
    assert issued.qr_version <= 10


def test_seal_is_the_visible_signature(
    issued: IssuedDocument, renderer: Renderer, tmp_path: Path
) -> None:
    reader = PdfFileReader(io.BytesIO(issued.pdf))
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    (widget,) = [a.get_object() for a in page["/Annots"] if a.get_object().get("/FT") == "/Sig"]
    rect = tuple(round(float(v)) for v in widget["/Rect"])
    assert rect == renderer.seal_box(issued.record.document_type)
    assert "/AP" in widget
    # the page shows the seal's red only because the signature's appearance draws it
    rgb = subprocess.run(
        ["pdftoppm", "-r", "50", "-singlefile", str(written(tmp_path, issued.pdf))],
        capture_output=True,
        check=True,
    ).stdout
    width, height, _, pixels = read_pnm(rgb)
    seal = renderer.layouts[issued.record.document_type].seal
    scale = 50 / 72
    cx, cy = seal.x * scale, (renderer.layouts[issued.record.document_type].height - seal.y) * scale
    r = seal.radius * scale
    red = sum(
        1
        for i in range(width * height)
        if abs(i % width - cx) <= r
        and abs(i // width - cy) <= r
        and pixels[3 * i] > 150
        and pixels[3 * i + 1] < 100
        and pixels[3 * i + 2] < 100
    )
    assert red > r * r * 0.3


def test_one_changed_byte_is_detected(
    issued: IssuedDocument, chain: Chain, nss_db: str, tmp_path: Path
) -> None:
    data = bytearray(issued.pdf)
    position = data.index(b"/Author")  # inside the signed range
    data[position + 2] ^= 0x01
    tampered = bytes(data)
    status = pyhanko_status(tampered, chain)
    assert not status.intact and not status.bottom_line
    output = tool("pdfsig", "-nssdir", nss_db, written(tmp_path, tampered), check=False).stdout
    assert "Signature is Valid" not in output


def test_an_incremental_update_that_changes_text_is_detected(
    issued: IssuedDocument, chain: Chain
) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(issued.pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    forged = writer.add_object(
        generic.StreamObject(stream_data=b"BT /F1 12 Tf 100 100 Td (X) Tj ET")
    )
    contents = page["/Contents"]
    page["/Contents"] = generic.ArrayObject(
        [*(contents if isinstance(contents, generic.ArrayObject) else [contents]), forged]
    )
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    status = pyhanko_status(out.getvalue(), chain)
    assert status.intact  # the signed bytes are untouched...
    assert not status.bottom_line  # ...but the document changed after certification
    assert status.modification_level.name != "NONE" or not status.docmdp_ok


def test_an_annotation_added_after_certification_is_detected(
    issued: IssuedDocument, chain: Chain
) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(issued.pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    note = writer.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/Text"),
                generic.NameObject("/Rect"): generic.ArrayObject([generic.FloatObject(0)] * 4),
                generic.NameObject("/Contents"): generic.TextStringObject("已注销"),
            }
        )
    )
    page["/Annots"].append(note)
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    status = pyhanko_status(out.getvalue(), chain)
    assert not status.bottom_line


def test_reused_signature_container_is_right_for_every_document(
    factory: DocumentFactory, chain: Chain, nss_db: str, tmp_path: Path
) -> None:
    """The CMS template (built once, refilled per document) against pyHanko's own output and
    all three validators, over several documents from one signer."""
    reference = DocumentFactory(factory.renderer, chain.material(), base_url=BASE_URL)
    for signer in reference._signers.values():
        signer.fast = False
    try:
        slow = reference.make(sample_record(document_number="2025-110000-GC2-000001-1"))
    finally:
        reference.close()
    documents = [
        factory.make(sample_record(document_number=f"2025-110000-GC2-00000{i}-{i}"))
        for i in range(2, 6)
    ]
    slow_cms = _signed_attributes(slow.pdf)
    for issued in documents:
        status = pyhanko_status(issued.pdf, chain)
        assert status.bottom_line, status.pretty_print_details()
        path = written(tmp_path, issued.pdf, f"{issued.record.document_number}.pdf")
        assert "Total document signed" in tool("pdfsig", "-nssdir", nss_db, path).stdout
        assert "No syntax or stream encoding errors" in tool("qpdf", "--check", path).stdout
        fast_cms = _signed_attributes(issued.pdf)
        # the same attributes as pyHanko's own, but for the digest of this document
        assert set(fast_cms) == set(slow_cms)
        for name in set(slow_cms) - {"message_digest"}:
            assert fast_cms[name] == slow_cms[name], name
    digests = {_signed_attributes(d.pdf)["message_digest"] for d in documents}
    assert len(digests) == len(documents)


def _signed_attributes(pdf: bytes) -> dict[str, bytes]:
    reader = PdfFileReader(io.BytesIO(pdf))
    (signature,) = reader.embedded_signatures
    attrs = signature.signer_info["signed_attrs"]
    return {attr["type"].native: attr["values"].dump() for attr in attrs}


def test_with_a_timestamp_authority_the_signature_is_timestamped(
    renderer: Renderer, chain: Chain
) -> None:
    """B-T: an RFC 3161 signature timestamp from a TSA (pyHanko's in-process one here)."""
    import dataclasses

    timestamper = in_process_tsa(chain)
    material = dataclasses.replace(chain.material(), timestamper=timestamper)
    factory = DocumentFactory(renderer, material, base_url=BASE_URL)
    try:
        issued = factory.make(sample_record())
        assert "B-T" in factory._signers[DocumentType.CERTIFICATE].level
    finally:
        factory.close()
    status = pyhanko_status(issued.pdf, chain)
    assert status.bottom_line, status.pretty_print_details()
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.valid
