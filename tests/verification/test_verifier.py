"""The verifier on genuine documents and on bad input: offline, with a registry held in
memory (every registry answer), and with trust lists that must be refused."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from certsvc.documents.factory import IssuedDocument
from certsvc.documents.render import Renderer
from certsvc.documents.token import qr_matrix, verification_url
from certsvc.errors import KeyStoreError
from certsvc.keys.certificates import fingerprint
from certsvc.keys.files import FilePrivateKey
from certsvc.transparency import merkle
from certsvc.transparency.checkpoint import Checkpoint, sign_checkpoint
from certsvc.verification.export import EXIT_CODES, verdict_as_dict
from certsvc.verification.registry import LogEvidence, MemoryRegistry, RegistryEntry
from certsvc.verification.trust import TrustAnchors, check_fingerprint_text
from certsvc.verification.verdict import Outcome, Verdict, VerdictKind
from certsvc.verification.verifier import (
    PDF_CHECKS,
    REGISTRY_CHECKS,
    TOKEN_CHECKS,
    PdfLimits,
    token_digits,
    verify_pdf,
    verify_token,
)
from tests.documents.conftest import BASE_URL, Chain, in_process_tsa
from tests.verification.attacks.builders import trust_list_jws

logging.getLogger("pyhanko").setLevel(logging.CRITICAL)


def only_failure(verdict: Verdict) -> tuple[str, str]:
    (failure,) = verdict.failures
    return failure.code, failure.detail


# --- genuine, offline -----------------------------------------------------------------------


def test_a_genuine_pdf_offline(
    signed: IssuedDocument, signed_notice: IssuedDocument, trust: TrustAnchors
) -> None:
    for doc in (signed, signed_notice):
        verdict = verify_pdf(doc.pdf, trust)
        assert verdict.kind is VerdictKind.GENUINE and verdict.bottom_line
        assert verdict.offline
        assert [c.code for c in verdict.checks] == list(PDF_CHECKS)
        for check in verdict.checks:
            expected = Outcome.SKIPPED if check.code in REGISTRY_CHECKS else Outcome.PASSED
            assert check.outcome is expected, check
        assert verdict.document is not None
        assert verdict.document.document_number == doc.record.document_number
        assert verdict.document.holder_name == doc.record.holder_name
        assert verdict.document.agency_name == doc.record.agency_name
        assert verdict.document.signer_key_id == doc.record.signer_key_id
        assert verdict.registry is None and verdict.log is None
        assert "offline" in verdict.summary
        assert verdict.extra["sha256"] == doc.sha256


def test_a_genuine_token_offline_as_digits_or_url(
    signed: IssuedDocument, trust: TrustAnchors
) -> None:
    url = verification_url(BASE_URL, signed.token_text)
    path_url = verification_url("https://rsj.example.gov.cn/zcps", signed.token_text)
    assert url.startswith("HTTPS://ZC.EXAMPLE.GOV.CN/V/") and "/zcps/v/" in path_url
    for text in (signed.token_text, url, path_url, f"  {signed.token_text}\n"):
        verdict = verify_token(text, trust)
        assert verdict.kind is VerdictKind.GENUINE, (text, verdict.failures)
        assert [c.code for c in verdict.checks] == list(TOKEN_CHECKS)
        assert verdict.document is not None
        assert verdict.document.qualification_name == signed.record.qualification_name
        assert verdict.document.level == signed.record.level.value
    qr_matrix(url)  # the URL the verifier accepts is the one the QR code carries


def test_no_verdict_field_holds_the_identity_number(
    signed: IssuedDocument, trust: TrustAnchors
) -> None:
    id_number = signed.record.id_number
    for verdict in (verify_pdf(signed.pdf, trust), verify_token(signed.token_text, trust)):
        text = json.dumps(verdict_as_dict(verdict), ensure_ascii=False)
        assert id_number not in text
        assert id_number[-6:] not in text  # not even its end
        assert "id_number" not in text


# --- bad tokens -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("hello", "decimal digits"),
        ("12ab34", "decimal digits"),
        ("0123", "not starting with 0"),
        ("1" * 1001, "more than 1000"),
        ("123456789", "COSE_Sign1"),
        ("https://zc.example.gov.cn/v/", "decimal digits"),
        ("https://zc.example.gov.cn/other/123", "decimal digits"),
        ("٣٤٥", "decimal digits"),  # Arabic-Indic digits are not ASCII digits
        ("\x00", "decimal digits"),
    ],
)
def test_garbage_tokens_are_forged_never_an_exception(
    text: str, reason: str, trust: TrustAnchors
) -> None:
    verdict = verify_token(text, trust)
    assert verdict.kind is VerdictKind.FORGED
    code, detail = only_failure(verdict)
    assert code == "token.decode"
    assert detail.startswith("not a certsvc token") and reason in detail
    assert verdict.document is None


def test_a_token_with_extra_or_missing_digits_is_forged(
    signed: IssuedDocument, trust: TrustAnchors
) -> None:
    for text in (signed.token_text + "7", signed.token_text[:-1], signed.token_text[1:]):
        verdict = verify_token(text, trust)
        assert verdict.kind is VerdictKind.FORGED
        assert verdict.failures[0].code in {"token.decode", "token.signature"}


def test_token_digits_reads_the_verification_url() -> None:
    assert token_digits("HTTPS://ZC.EXAMPLE.GOV.CN/V/123") == "123"
    assert token_digits("https://rsj.example.gov.cn/zcps/v/456/") == "456"
    assert token_digits("/v/789") == "789"
    assert token_digits("https://x.cn/v/12?x=1") == "https://x.cn/v/12?x=1"
    assert token_digits(" 42 ") == "42"


# --- bad files --------------------------------------------------------------------------------


def test_non_pdf_and_damaged_files_are_refused_clearly(
    signed: IssuedDocument, trust: TrustAnchors
) -> None:
    cases = {
        b"": "not a PDF file",
        b"hello world": "not a PDF file",
        b"\x89PNG\r\n\x1a\n": "not a PDF file",
        b"%PDF-1.7\n" + b"\x00" * 100: "cannot be read",
        signed.pdf[:-100]: "cannot be read",  # cut short
        signed.pdf[:-5000]: "cannot be read",
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n": "cannot be read",
    }
    for data, reason in cases.items():
        verdict = verify_pdf(data, trust)
        assert verdict.kind is VerdictKind.FORGED
        code, detail = only_failure(verdict)
        assert code == "pdf.file" and reason in detail, (data[:20], detail)
    # cut at the end of the unsigned revision: a readable PDF, but no longer a signed one
    first_eof = signed.pdf.index(b"%%EOF") + len(b"%%EOF\n")
    verdict = verify_pdf(signed.pdf[:first_eof], trust)
    assert only_failure(verdict) == ("pdf.signature", "the PDF carries no signature")


def test_size_and_page_limits(signed: IssuedDocument, trust: TrustAnchors) -> None:
    verdict = verify_pdf(signed.pdf, trust, limits=PdfLimits(max_bytes=len(signed.pdf) - 1))
    code, detail = only_failure(verdict)
    assert code == "pdf.file" and "more than" in detail
    verdict = verify_pdf(signed.pdf, trust, limits=PdfLimits(max_pages=0))
    code, detail = only_failure(verdict)
    assert code == "pdf.file" and "1 pages; at most 0" in detail
    assert verify_pdf(signed.pdf, trust, limits=PdfLimits(max_bytes=len(signed.pdf))).bottom_line


def test_an_unsigned_pdf_is_refused(
    renderer: Renderer, signed: IssuedDocument, trust: TrustAnchors
) -> None:
    matrix, _ = qr_matrix(verification_url(BASE_URL, signed.token_text))
    unsigned = renderer.render(signed.record, qr_matrix=matrix, verify_url=BASE_URL)
    verdict = verify_pdf(unsigned, trust)
    code, detail = only_failure(verdict)
    assert code == "pdf.signature" and "no signature" in detail


def test_an_encrypted_pdf_is_refused(
    signed: IssuedDocument, trust: TrustAnchors, tmp_path: Path
) -> None:
    if shutil.which("qpdf") is None:
        pytest.skip("needs qpdf")
    source, target = tmp_path / "in.pdf", tmp_path / "out.pdf"
    source.write_bytes(signed.pdf)
    subprocess.run(
        ["qpdf", "--encrypt", "", "owner", "256", "--", str(source), str(target)], check=True
    )
    verdict = verify_pdf(target.read_bytes(), trust)
    code, detail = only_failure(verdict)
    assert code == "pdf.file" and "encrypted" in detail


# --- the registry's answers -------------------------------------------------------------------


def _log_evidence(chain: Chain, number: str, sha256: str) -> LogEvidence:
    """A log of three entries, the document's in the middle, and a head signed by the signer."""
    entries = [
        json.dumps(
            {"document_number": n, "document_sha256": h, "index": i, "kind": "issue"}
        ).encode()
        for i, (n, h) in enumerate([("A-1", "1" * 64), (number, sha256), ("A-3", "3" * 64)])
    ]
    tree = merkle.MemoryTree()
    for entry in entries:
        tree.append(merkle.leaf_hash(entry))
    root = merkle.root_of(merkle.leaf_hash(e) for e in entries)
    path = tuple(merkle.inclusion_path(tree, 1, 3))
    head = sign_checkpoint(
        Checkpoint("zc.example.gov.cn/log", 3, root, datetime.now(UTC).replace(microsecond=0)),
        FilePrivateKey(chain.signer_key),
        chain.key_id,
    )
    return LogEvidence(1, entries[1], 3, path, head)


def _entry(doc: IssuedDocument, chain: Chain, **changes: object) -> RegistryEntry:
    entry = RegistryEntry(
        document_number=doc.record.document_number,
        document_type=doc.record.document_type.value,
        status="issued",
        issued_on=doc.record.issued_on,
        sha256=doc.sha256,
        signer_key_id=doc.record.signer_key_id,
        token=doc.token_text,
        log=_log_evidence(chain, doc.record.document_number, doc.sha256),
    )
    return dataclasses.replace(entry, **changes)  # type: ignore[arg-type]


def _registry(doc: IssuedDocument, chain: Chain, **changes: object) -> MemoryRegistry:
    return MemoryRegistry({doc.record.document_number: _entry(doc, chain, **changes)})


def test_genuine_and_current_with_the_registry(
    signed: IssuedDocument, chain: Chain, trust: TrustAnchors
) -> None:
    registry = _registry(signed, chain)
    for verdict in (
        verify_pdf(signed.pdf, trust, registry),
        verify_token(signed.token_text, trust, registry),
    ):
        assert verdict.kind is VerdictKind.GENUINE and not verdict.offline
        assert all(c.outcome is Outcome.PASSED for c in verdict.checks), verdict.checks
        assert verdict.log is not None and verdict.log.verified
        assert (verdict.log.leaf_index, verdict.log.tree_size) == (1, 3)
        assert verdict.summary == "Genuine and current: every check passed."


@pytest.mark.parametrize(
    ("changes", "kind", "code", "reason"),
    [
        ({"status": "revoked"}, VerdictKind.REVOKED, "registry.status", "revoked by the bureau"),
        (
            {
                "status": "revoked",
                "revoked_at": datetime(2026, 3, 1, 8, tzinfo=UTC),
                "revocation_reason": "upheld objection",
            },
            VerdictKind.REVOKED,
            "registry.status",
            "at 2026-03-01T08:00:00+00:00 (upheld objection)",
        ),
        (
            {"status": "superseded", "superseded_by": "2025-110000-GC2Z-000124A"},
            VerdictKind.SUPERSEDED,
            "registry.status",
            "replaced by document 2025-110000-GC2Z-000124A",
        ),
        ({"status": "reserved"}, VerdictKind.UNKNOWN, "registry.lookup", "never issued"),
        ({"status": "void"}, VerdictKind.UNKNOWN, "registry.lookup", "void"),
        ({"status": "lost"}, VerdictKind.FORGED, "registry.status", "unknown status"),
        ({"issued_on": date(2020, 1, 1)}, VerdictKind.FORGED, "registry.fields", "issue date"),
        ({"document_type": "notice"}, VerdictKind.FORGED, "registry.fields", "document type"),
        ({"signer_key_id": "0" * 16}, VerdictKind.FORGED, "registry.fields", "signer key id"),
        ({"token": "12345"}, VerdictKind.FORGED, "registry.fields", "another token"),
        ({"log": None}, VerdictKind.FORGED, "log.inclusion", "not in the transparency log"),
    ],
)
def test_every_registry_answer_gives_its_verdict(
    changes: dict[str, object],
    kind: VerdictKind,
    code: str,
    reason: str,
    signed: IssuedDocument,
    chain: Chain,
    trust: TrustAnchors,
) -> None:
    registry = _registry(signed, chain, **changes)
    for verdict in (
        verify_token(signed.token_text, trust, registry),
        verify_pdf(signed.pdf, trust, registry),
    ):
        assert verdict.kind is kind
        failed, detail = only_failure(verdict)
        assert failed == code and reason in detail, detail


def test_an_unknown_number_and_a_stored_hash_mismatch(
    signed: IssuedDocument, chain: Chain, trust: TrustAnchors
) -> None:
    verdict = verify_token(signed.token_text, trust, MemoryRegistry())
    assert verdict.kind is VerdictKind.UNKNOWN
    assert only_failure(verdict)[0] == "registry.lookup"
    assert verdict.document is not None  # well signed: what it says is shown
    verdict = verify_pdf(signed.pdf, trust, _registry(signed, chain, sha256="a" * 64))
    assert verdict.kind is VerdictKind.FORGED
    code, detail = only_failure(verdict)
    assert code == "registry.hash" and detail.startswith("stored-hash mismatch")


def test_log_evidence_that_does_not_hold(
    signed: IssuedDocument, chain: Chain, stranger: Chain, trust: TrustAnchors
) -> None:
    good = _log_evidence(chain, signed.record.document_number, signed.sha256)
    other = _log_evidence(stranger, signed.record.document_number, signed.sha256)
    wrong_entry = _log_evidence(chain, "SOMETHING-ELSE", signed.sha256)
    cases = {
        "bad path": (dataclasses.replace(good, path=(b"\x00" * 32,)), "does not verify"),
        "moved": (dataclasses.replace(good, leaf_index=0), "not this document's"),
        "other document": (wrong_entry, "not this document's"),
        "foreign head": (other, "not in the list"),
        "no head": (dataclasses.replace(good, tree_head=None), "no signed tree head"),
        "other size": (dataclasses.replace(good, tree_size=4), "covers 3 entries, not 4"),
        "damaged head": (dataclasses.replace(good, tree_head=b"\x00"), "does not verify"),
    }
    for name, (evidence, reason) in cases.items():
        verdict = verify_token(signed.token_text, trust, _registry(signed, chain, log=evidence))
        assert verdict.kind is VerdictKind.FORGED, name
        code, detail = only_failure(verdict)
        assert code == "log.inclusion" and reason in detail, (name, detail)
    pending = dataclasses.replace(good, tree_size=None, path=(), tree_head=None)
    verdict = verify_token(signed.token_text, trust, _registry(signed, chain, log=pending))
    assert verdict.kind is VerdictKind.GENUINE
    assert verdict.checks[-1].outcome is Outcome.SKIPPED
    assert "not signed yet" in verdict.checks[-1].detail


# --- trust anchors ----------------------------------------------------------------------------


def test_trust_anchors_refuse_a_list_they_should_not_trust(
    chain: Chain, stranger: Chain, trust_jws: bytes
) -> None:
    now = datetime.now(UTC)
    anchors = TrustAnchors.from_jws(trust_jws, root_fingerprint=fingerprint(chain.root), now=now)
    assert anchors.root_fingerprint == fingerprint(chain.root)
    assert set(anchors.signers) == {chain.key_id}
    assert anchors.certificate_der(chain.key_id) == chain.signer.public_bytes(
        serialization.Encoding.DER
    )
    assert anchors.certificate_der("0" * 16) is None
    with pytest.raises(KeyStoreError, match="not by the pinned root"):
        TrustAnchors.from_jws(trust_jws, root_fingerprint=fingerprint(stranger.root), now=now)
    with pytest.raises(KeyStoreError, match="out of date"):
        TrustAnchors.from_jws(
            trust_jws, root_fingerprint=fingerprint(chain.root), now=now + timedelta(days=31)
        )
    with pytest.raises(KeyStoreError, match="older than"):
        TrustAnchors.from_jws(
            trust_jws, root_fingerprint=fingerprint(chain.root), now=now, minimum_sequence=2
        )
    # a list signed by another root that names our signer is still another root's list
    foreign = trust_list_jws(stranger, now=now)
    with pytest.raises(KeyStoreError):
        TrustAnchors.from_jws(foreign, root_fingerprint=fingerprint(chain.root), now=now)


def test_fingerprint_text_is_normalised_or_refused(chain: Chain) -> None:
    value = fingerprint(chain.root)
    spaced = ":".join(value[i : i + 2] for i in range(0, 64, 2)).upper()
    assert check_fingerprint_text(spaced) == value
    for bad in ("", "abc", value[:-1], value[:-1] + "g"):
        with pytest.raises(KeyStoreError, match="64 hex digits"):
            check_fingerprint_text(bad)


def test_exit_codes_are_distinct_and_zero_only_for_genuine() -> None:
    assert EXIT_CODES[VerdictKind.GENUINE] == 0
    others = [code for kind, code in EXIT_CODES.items() if kind is not VerdictKind.GENUINE]
    assert len(set(others)) == len(others) == len(VerdictKind) - 1 and 0 not in others


def test_a_timestamped_document_is_judged_at_its_timestamp(
    renderer: Renderer, chain: Chain, trust: TrustAnchors, signed: IssuedDocument
) -> None:
    """B-T (a TSA under the bureau root, pyHanko's in-process one): the signer's status is
    taken at the timestamp, not at the time the signature states."""

    from certsvc.documents.factory import DocumentFactory
    from tests.verification.conftest import record_for

    timestamper = in_process_tsa(chain)
    material = dataclasses.replace(chain.material(), timestamper=timestamper)
    factory = DocumentFactory(renderer, material, base_url=BASE_URL)
    try:
        doc = factory.make(record_for(chain))
    finally:
        factory.close()
    verdict = verify_pdf(doc.pdf, trust)
    assert verdict.kind is VerdictKind.GENUINE, verdict.failures
    status = verdict.checks[PDF_CHECKS.index("signer.status")]
    assert f"key {chain.key_id} (active); document timestamped at " in status.detail
    # without a timestamp, the time the signature states is what there is
    plain = verify_pdf(signed.pdf, trust)
    assert "; document signed at " in plain.checks[PDF_CHECKS.index("signer.status")].detail
