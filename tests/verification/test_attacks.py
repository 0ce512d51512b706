"""The attack corpus: each case is built at test time from a freshly signed document and must
be rejected with the right verdict, by the right check, for the right reason.

Where an attack is one a naive validator falls for, the case also shows that: the signed
bytes still hash to the signed digest (pyHanko finds the signature *intact*), so only the
stricter checks — coverage, byte range, no later revision — catch it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader

from certsvc.documents import token as tokens
from certsvc.documents.factory import DocumentFactory, IssuedDocument
from certsvc.documents.render import Renderer
from certsvc.keys.certificates import fingerprint
from certsvc.keys.cose import sign1_message
from certsvc.verification.trust import TrustAnchors
from certsvc.verification.verdict import Outcome, Verdict, VerdictKind
from certsvc.verification.verifier import PDF_CHECKS, TOKEN_CHECKS, verify_pdf, verify_token
from tests.documents.conftest import BASE_URL, Chain, make_chain
from tests.verification.attacks import builders
from tests.verification.conftest import record_for

logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # failed validations log tracebacks
logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Attack:
    build: Callable[[IssuedDocument, Chain], bytes]
    kind: VerdictKind
    check: str  # the check that must fail (the only failure)
    reason: str  # words the failure's detail must contain
    digest_still_matches: bool | None = None  # a naive validator's view, where it matters


PDF_ATTACKS: dict[str, Attack] = {
    "incremental-update-changes-text": Attack(
        lambda doc, _: builders.text_added_by_update(doc.pdf),
        VerdictKind.FORGED,
        "pdf.modifications",
        "incremental update",
        digest_still_matches=True,
    ),
    "annotation-after-certification": Attack(
        lambda doc, _: builders.annotation_added(doc.pdf),
        VerdictKind.FORGED,
        "pdf.modifications",
        "changed after signing",
        digest_still_matches=True,
    ),
    "second-signature-after-certification": Attack(
        lambda doc, stranger: builders.second_signature_added(doc.pdf, stranger),
        VerdictKind.FORGED,
        "pdf.signature",
        "2 signature fields",
    ),
    "empty-signature-field-after-certification": Attack(
        lambda doc, _: builders.empty_signature_field_added(doc.pdf),
        VerdictKind.FORGED,
        "pdf.signature",
        "2 signature fields",
    ),
    "usf-byte-range-covers-less": Attack(
        lambda doc, _: builders.byte_range_shrunk(doc.pdf),
        VerdictKind.FORGED,
        "pdf.integrity",
        "signed bytes were altered",
    ),
    "usf-byte-range-points-elsewhere": Attack(
        lambda doc, _: builders.byte_range_elsewhere(doc.pdf),
        VerdictKind.FORGED,
        "pdf.byte-range",
        "not the signature's hex string",
    ),
    "unsigned-bytes-in-the-signature-padding": Attack(
        lambda doc, _: builders.padding_changed(doc.pdf),
        VerdictKind.FORGED,
        "pdf.byte-range",
        "zero padding",
        digest_still_matches=True,
    ),
    "signature-value-rewritten-in-lower-case": Attack(
        lambda doc, _: builders.signature_value_recased(doc.pdf),
        VerdictKind.FORGED,
        "pdf.byte-range",
        "upper-case hex",
        digest_still_matches=True,
    ),
    "usf-byte-range-zeroed-by-update": Attack(
        lambda doc, _: builders.byte_range_by_update(doc.pdf),
        VerdictKind.FORGED,
        "pdf.byte-range",
        "does not lie within the file",
    ),
    "usf-byte-range-removed": Attack(
        lambda doc, _: builders.byte_range_removed(doc.pdf),
        VerdictKind.FORGED,
        "pdf.signature",
        "/ByteRange",
    ),
    "usf-contents-emptied": Attack(
        lambda doc, _: builders.contents_emptied(doc.pdf),
        VerdictKind.FORGED,
        "pdf.signature",
        "signature cannot be read",
    ),
    "signature-wrapping-moved-signed-content": Attack(
        lambda doc, _: builders.signature_wrapped(doc.pdf),
        VerdictKind.FORGED,
        "pdf.byte-range",
        "not the signature's",
        digest_still_matches=True,
    ),
    "signature-wrapping-second-xref": Attack(
        lambda doc, _: builders.update_with_forged_signature_copy(doc.pdf),
        VerdictKind.FORGED,
        "pdf.modifications",
        "incremental update",
        digest_still_matches=True,
    ),
}

SHADOW_KINDS = ("hide", "replace", "hide-and-replace")


def _only_failure(verdict: Verdict) -> tuple[str, str]:
    failures = verdict.failures
    assert len(failures) == 1, failures
    return failures[0].code, failures[0].detail


def _digest_matches(pdf: bytes) -> bool:
    """What a validator that only hashes the byte range would conclude."""
    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    attrs = {a["type"].native: a["values"][0].native for a in signature.signer_info["signed_attrs"]}
    return bool(signature.compute_digest() == attrs["message_digest"])


def _assert_steps_stop_at(verdict: Verdict, plan: tuple[str, ...], failed: str) -> None:
    assert [check.code for check in verdict.checks] == list(plan)
    position = plan.index(failed)
    assert all(c.outcome is Outcome.PASSED for c in verdict.checks[:position]), verdict.checks
    assert all(c.outcome is Outcome.SKIPPED for c in verdict.checks[position + 1 :])


@pytest.mark.parametrize("name", list(PDF_ATTACKS))
def test_pdf_attack_is_rejected(
    name: str, signed: IssuedDocument, stranger: Chain, trust: TrustAnchors
) -> None:
    attack = PDF_ATTACKS[name]
    assert verify_pdf(signed.pdf, trust).kind is VerdictKind.GENUINE  # the victim was genuine
    attacked = attack.build(signed, stranger)
    assert attacked != signed.pdf
    if attack.digest_still_matches is not None:
        assert _digest_matches(attacked) is attack.digest_still_matches
    verdict = verify_pdf(attacked, trust)
    assert verdict.kind is attack.kind
    code, detail = _only_failure(verdict)
    assert code == attack.check, detail
    assert attack.reason in detail
    assert verdict.document is None  # nothing of a forgery is shown as a document's fields
    _assert_steps_stop_at(verdict, PDF_CHECKS, attack.check)


@pytest.mark.parametrize("kind", SHADOW_KINDS)
def test_shadow_attack_is_rejected(
    kind: str, factory: DocumentFactory, chain: Chain, trust: TrustAnchors
) -> None:
    """The attacker's template (an empty overlay, or an unused content stream) is signed as
    it is — and verifies, since nothing shows — then revealed by an incremental update."""
    prepared = builders.sign_prepared(factory, record_for(chain), builders.shadow_prepared(kind))
    assert verify_pdf(prepared.pdf, trust).kind is VerdictKind.GENUINE
    revealed = builders.shadow_revealed(prepared.pdf, kind)
    assert _digest_matches(revealed)  # the signed revision is untouched
    verdict = verify_pdf(revealed, trust)
    assert verdict.kind is VerdictKind.FORGED
    code, detail = _only_failure(verdict)
    assert code == "pdf.modifications"
    assert "incremental update" in detail and "difference analysis" in detail


def test_a_document_signed_by_a_self_made_key_with_the_agency_name_is_forged(
    renderer: Renderer, stranger: Chain, chain: Chain, trust: TrustAnchors
) -> None:
    forger = DocumentFactory(renderer, stranger.material(), base_url=BASE_URL)
    try:
        forged = forger.make(record_for(stranger))
    finally:
        forger.close()
    # the same agency name in the root and signer certificates, the same seal and layout
    organization = NameOID.ORGANIZATION_NAME
    assert stranger.root.subject == chain.root.subject
    assert stranger.signer.subject.get_attributes_for_oid(
        organization
    ) == chain.signer.subject.get_attributes_for_oid(organization)
    verdict = verify_pdf(forged.pdf, trust)
    assert verdict.kind is VerdictKind.FORGED
    code, detail = _only_failure(verdict)
    assert code == "pdf.chain"
    assert "does not chain to the bureau root" in detail
    # its QR token is refused too: its key id is in no trust list
    verdict = verify_token(forged.token_text, trust)
    assert verdict.kind is VerdictKind.FORGED
    code, detail = _only_failure(verdict)
    assert code == "token.key" and f"unknown key id {stranger.key_id}" in detail


def _anchors(chain: Chain, **changes: object) -> TrustAnchors:
    now = datetime.now(UTC)
    jws = builders.trust_list_jws(chain, now=now, **changes)  # type: ignore[arg-type]
    return TrustAnchors.from_jws(jws, root_fingerprint=fingerprint(chain.root), now=now)


def test_a_signer_revoked_before_the_signing_time(signed: IssuedDocument, chain: Chain) -> None:
    revoked = _anchors(chain, revoked_at=datetime.now(UTC) - timedelta(hours=1))
    for verdict, plan in (
        (verify_pdf(signed.pdf, revoked), PDF_CHECKS),
        (verify_token(signed.token_text, revoked), TOKEN_CHECKS),
    ):
        assert verdict.kind is VerdictKind.SIGNER_REVOKED
        code, detail = _only_failure(verdict)
        assert code == "signer.status"
        assert f"signer key {chain.key_id} was revoked" in detail and "key_compromise" in detail
        _assert_steps_stop_at(verdict, plan, "signer.status")


def test_a_signer_revoked_after_the_signing_time_still_verifies(renderer: Renderer) -> None:
    """Revocation is not retroactive: what the key signed before stays genuine. A token
    carries only its date, so a revocation at any hour of that day counts as before it."""
    chain = make_chain(datetime.now(UTC) - timedelta(days=3))  # signing since three days ago
    factory = DocumentFactory(renderer, chain.material(), base_url=BASE_URL)
    try:
        today = record_for(chain)
        doc = factory.make(record_for(chain, issued_on=today.issued_on - timedelta(days=1)))
    finally:
        factory.close()
    later = _anchors(chain, revoked_at=datetime.now(UTC) + timedelta(seconds=1))
    assert verify_pdf(doc.pdf, later).kind is VerdictKind.GENUINE
    # the token is dated yesterday (Beijing time): revoked a minute ago is after it
    revoked_now = _anchors(chain, revoked_at=datetime.now(UTC) - timedelta(minutes=1))
    verdict = verify_token(doc.token_text, revoked_now)
    assert verdict.kind is VerdictKind.GENUINE, verdict.failures
    assert "revoked later" in verdict.checks[TOKEN_CHECKS.index("signer.status")].detail
    # ...but the PDF was signed a moment ago, after that revocation
    assert verify_pdf(doc.pdf, revoked_now).kind is VerdictKind.SIGNER_REVOKED
    # and revoked two days ago is before yesterday's token
    revoked_before = _anchors(chain, revoked_at=datetime.now(UTC) - timedelta(days=2))
    assert verify_token(doc.token_text, revoked_before).kind is VerdictKind.SIGNER_REVOKED


def test_a_signer_retired_before_signing_signs_nothing(
    signed: IssuedDocument, chain: Chain
) -> None:
    retired = _anchors(chain, retire_at=datetime.now(UTC) - timedelta(hours=1))
    verdict = verify_pdf(signed.pdf, retired)
    assert verdict.kind is VerdictKind.FORGED
    code, detail = _only_failure(verdict)
    assert code == "signer.status" and "retired" in detail


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("holder_name", "张三"),
        ("qualification_name", "正高级工程师"),
        ("document_number", "2025-110000-GC1Z-000001A"),
        ("issued_on", datetime(2020, 1, 1).date()),
    ],
)
def test_a_token_with_an_edited_field_is_forged(
    field: str, value: object, signed: IssuedDocument, trust: TrustAnchors
) -> None:
    edited = builders.token_with_edited_field(signed.token_text, **{field: value})
    assert edited != signed.token_text
    verdict = verify_token(edited, trust)
    assert verdict.kind is VerdictKind.FORGED
    code, detail = _only_failure(verdict)
    assert code == "token.signature" and "altered after signing" in detail
    assert verdict.document is None
    _assert_steps_stop_at(verdict, TOKEN_CHECKS, "token.signature")


def test_a_token_whose_key_id_is_unknown_is_forged(
    signed: IssuedDocument, trust: TrustAnchors
) -> None:
    token, key_id = builders.token_signed_by_stranger(signed.token_text)
    verdict = verify_token(token, trust)
    assert verdict.kind is VerdictKind.FORGED
    code, detail = _only_failure(verdict)
    assert code == "token.key" and f"unknown key id {key_id}" in detail


def test_a_token_claiming_a_known_key_id_but_signed_by_another_key_is_forged(
    signed: IssuedDocument, chain: Chain, trust: TrustAnchors
) -> None:
    stolen_kid, _ = builders.token_signed_by_stranger(signed.token_text)
    # the stranger's token with the real signer's key id in its protected header
    parsed = tokens._parse(tokens.decode_token(stolen_kid))
    real_header = tokens._protected_header(bytes.fromhex(chain.key_id))
    forged = tokens.encode_token(sign1_message(real_header, parsed.payload, parsed.signature))
    verdict = verify_token(forged, trust)
    assert verdict.kind is VerdictKind.FORGED
    code, _ = _only_failure(verdict)
    assert code == "token.signature"


def test_a_pdf_carrying_another_documents_token_is_forged(
    factory: DocumentFactory, chain: Chain, signed: IssuedDocument, trust: TrustAnchors
) -> None:
    """Signed by the real key, but the attached token (valid in itself) is another
    document's: the token, the record and the registry must all agree."""
    other = record_for(chain, holder_name="李四", document_number="2025-110000-GC2Z-000777K")
    mixed = builders.signed_with_token(factory, record_for(chain), factory.make(other).token_text)
    verdict = verify_pdf(mixed, trust)
    assert verdict.kind is VerdictKind.FORGED
    code, detail = _only_failure(verdict)
    assert code == "pdf.agreement"
    assert "document number" in detail and "holder name" in detail
    assert signed.token_text not in detail


def test_no_single_changed_byte_leaves_a_genuine_document(
    signed: IssuedDocument, trust: TrustAnchors
) -> None:
    """Every byte of the file is either signed or the signature value itself: flip one — in
    the signed ranges, the signature container's DER (its unsigned structure, certificates,
    algorithm identifiers, versions), its zero padding, the brackets around it — and the
    document is forged (and the verifier never raises). Every 9th hex digit of the container
    and 40 random positions of the file here; a scan of every digit found none genuine."""
    import random

    pdf = signed.pdf
    _, gap_start, gap_end, _, _ = builders._byte_range(pdf)
    der_end = gap_start + 1 + 2 * (builders.der_length(pdf, gap_start))
    special = [0, 1, len(pdf) - 1, gap_start - 1, gap_start, gap_start + 1, der_end - 1, der_end]
    special += [der_end + 1, gap_end - 2, gap_end - 1, gap_end]
    rng = random.Random(20261122)  # noqa: S311 - reproducible positions, not a secret
    positions = special + list(range(gap_start + 1, der_end, 9)) + rng.sample(range(len(pdf)), 40)
    for position in positions:
        data = bytearray(pdf)
        data[position] ^= 0x01
        verdict = verify_pdf(bytes(data), trust)
        assert verdict.kind is VerdictKind.FORGED, (position, verdict.checks)
        assert len(verdict.failures) == 1
