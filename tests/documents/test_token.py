"""The QR token: round trips, size within a version-10-M QR code, the size budget the roster
import checks, tamper detection, strict parsing, and a cross-check against COSE_Sign1 written
independently from RFC 9052."""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import cbor2
import pytest
import segno
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from segno import consts as qr_modes

from certsvc.documents.record import DocumentRecord, DocumentType, sample_record
from certsvc.documents.token import (
    DOCUMENT_NUMBER_ALPHABET,
    LATIN_ALPHABET,
    TokenBudget,
    TokenClaims,
    TokenError,
    _cbor_size,
    _pack_symbols,
    _unpack_symbols,
    claims_from_record,
    decode_token,
    encode_token,
    qr_capacity,
    qr_matrix,
    qr_segments,
    read_unverified,
    sign_token,
    verification_url,
    verify_token,
)
from certsvc.errors import ConfigError
from certsvc.keys.certificates import key_id_for
from certsvc.keys.files import FilePrivateKey
from certsvc.roster.catalog import QUALIFICATIONS, SERIES, Level

BASE_URL = "https://zc.example.gov.cn"
PATH_BASE_URL = "https://rsj.example.gov.cn/zcps/"  # a lower-case path: byte mode
LONG_NAME = "阿卜杜热合曼·买买提艾力江"  # 13 characters
LONG_SPECIALTY = "计算机应用技术与软件工程及信息系统集成"  # 19 characters
LATIN_NAME = "MUHAMMAD ABDULLAH IBN SAYYID AL-HASHIMI RAHMAN"  # 46 characters
LONGEST_QUALIFICATION = "正高级实习指导教师"  # 技工院校教师, 9 characters
WORST_CASE = {
    "holder_name": LONG_NAME,
    "specialty": LONG_SPECIALTY,
    "series": "技工院校教师",
    "qualification_name": LONGEST_QUALIFICATION,
    "level": Level.FULL_SENIOR,
    "document_number": "-" * 24,  # the largest number the format allows
    "issued_on": date(2149, 6, 6),  # the last issue date of 3 bytes
}


class Signer:
    def __init__(self, private_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
        self.private_key = private_key
        self.handle = FilePrivateKey(private_key)
        self.public_key = self.handle.public_key
        self.key_id = key_id_for(self.public_key)

    def record(self, **changes: Any) -> DocumentRecord:
        return sample_record(signer_key_id=self.key_id, **changes)

    def issue(self, **changes: Any) -> bytes:
        return sign_token(claims_from_record(self.record(**changes)), self.handle, self.key_id)


@pytest.fixture(scope="module")
def p256() -> Signer:
    return Signer(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def other_p256() -> Signer:
    return Signer(ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="module")
def p384() -> Signer:
    return Signer(ec.generate_private_key(ec.SECP384R1()))


# --- COSE_Sign1 from RFC 9052, written here without certsvc.documents.token ---------------


def rfc9052_sign(
    private_key: ec.EllipticCurvePrivateKey,
    header: dict[int, Any],
    payload: bytes,
    unprotected: dict[int, Any] | None = None,
    tag: int = 18,
) -> bytes:
    """RFC 9052 §4.2 and §4.4: sign Sig_structure, carry r || s (§8.1.1)."""
    protected = cbor2.dumps(header, canonical=True)
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    digest = hashes.SHA384() if private_key.curve.key_size == 384 else hashes.SHA256()
    r, s = decode_dss_signature(private_key.sign(to_be_signed, ec.ECDSA(digest)))
    size = (private_key.curve.key_size + 7) // 8
    signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    message = [protected, unprotected or {}, payload, signature]
    return cbor2.dumps(cbor2.CBORTag(tag, message), canonical=True)


def rfc9052_verify(cose: bytes, public_key: ec.EllipticCurvePublicKey) -> tuple[Any, Any]:
    """Check a tagged COSE_Sign1 with ES256; return its protected header and decoded payload."""
    message = cbor2.loads(cose)
    assert message.tag == 18
    protected, unprotected, payload, signature = message.value
    header = cbor2.loads(protected)
    assert header[1] == -7 and not unprotected and len(signature) == 64
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    public_key.verify(encode_dss_signature(r, s), to_be_signed, ec.ECDSA(hashes.SHA256()))
    return header, cbor2.loads(payload)


def bijective(text: str, alphabet: str) -> int:
    """The module docstring's packing: ``text`` as a number in bijective base len(alphabet)."""
    value = 0
    for char in text:
        value = value * len(alphabet) + alphabet.index(char) + 1
    return value


def text_field(text: str, latin: bool = True) -> str | bytes | int:
    """The module docstring's rule: UTF-8 text, UTF-16BE bytes or (Latin letters only) a
    bijective base-56 number, whichever is shortest, in that order on a tie."""
    choices: list[str | bytes | int] = [text, text.encode("utf-16-be")]
    if latin and all(char in LATIN_ALPHABET for char in text):
        choices.append(bijective(text, LATIN_ALPHABET))
    return min(choices, key=lambda choice: len(cbor2.dumps(choice, canonical=True)))


def payload_of(record: DocumentRecord, replace: dict[int, Any] | None = None) -> list[Any]:
    """The payload array as the module docstring describes it, with fields ``replace``d."""
    epoch = date(1970, 1, 1)
    usual = QUALIFICATIONS[(record.series, record.level)]
    fields = [
        2,
        bijective(record.document_number, DOCUMENT_NUMBER_ALPHABET),
        {DocumentType.CERTIFICATE: 1, DocumentType.NOTICE: 2}[record.document_type],
        text_field(record.holder_name),
        [series.name for series in SERIES].index(record.series),
        {"正高级": 1, "副高级": 2, "中级": 3, "初级": 4}[record.level.value],
        usual.index(record.qualification_name)
        if record.qualification_name in usual
        else text_field(record.qualification_name, latin=False),
        text_field(record.specialty),
        (record.qualified_on - epoch).days,
        (record.issued_on - epoch).days,
    ]
    for index, value in (replace or {}).items():
        fields[index] = value
    return fields


def parts(cose: bytes) -> list[Any]:
    return list(cbor2.loads(cose).value)


def assemble(protected: bytes, payload: bytes, signature: bytes) -> bytes:
    return cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature]), canonical=True)


# --- round trips and sizes ----------------------------------------------------------------

RECORDS = {
    "sample": {},
    "long name": {"holder_name": LONG_NAME},
    "extension B": {"holder_name": "𠮷田𠮷"},
    "long specialty": {"specialty": LONG_SPECIALTY},
    "正高级工程师": {"qualification_name": "正高级工程师", "level": Level.FULL_SENIOR},
    "主任医师": {
        "series": "卫生技术",
        "qualification_name": "主任医师",
        "level": Level.FULL_SENIOR,
    },
    "unlisted qualification": {"qualification_name": "高级工程师（教授级）"},
    "latin name": {"holder_name": LATIN_NAME},
    "mixed-case latin name": {"holder_name": "Jean-Luc O'Neill Mc.Donald"},
    "latin specialty": {"specialty": "Java EE"},
    "notice": {
        "document_type": DocumentType.NOTICE,
        "level": Level.JUNIOR,
        "qualification_name": "助理工程师",
    },
    "worst case": WORST_CASE,
}


@pytest.mark.parametrize("changes", RECORDS.values(), ids=RECORDS.keys())
def test_round_trip_fits_version_10(p256: Signer, changes: dict[str, Any]) -> None:
    record = p256.record(**changes)
    cose = p256.issue(**changes)
    text = encode_token(cose)
    assert decode_token(text) == cose
    assert verify_token(decode_token(text), p256.public_key) == claims_from_record(record)
    assert read_unverified(cose) == (p256.key_id, claims_from_record(record))
    for base_url in (BASE_URL, PATH_BASE_URL):
        matrix, version = qr_matrix(verification_url(base_url, text))
        assert version <= 10
        assert len(matrix) == 17 + 4 * version and all(len(row) == len(matrix) for row in matrix)
        assert all(isinstance(module, bool) for row in matrix for module in row)


def test_listed_qualifications_are_numbers_and_others_text(p256: Signer) -> None:
    listed = cbor2.loads(parts(p256.issue(qualification_name="高级工程师"))[2])
    unlisted = cbor2.loads(parts(p256.issue(qualification_name="高级工程师（教授级）"))[2])
    # 工程技术 is series 4 (from 0), 副高级 level 2, 高级工程师 its first usual name
    assert (listed[4], listed[5], listed[6]) == (4, 2, 0)
    assert (
        cbor2.loads(parts(p256.issue(series="卫生技术", qualification_name="副主任护师"))[2])[6]
        == 2
    )
    assert unlisted[6] == "高级工程师（教授级）".encode("utf-16-be")


WORST_CASES = {
    "13-character minority name, 19-character specialty": WORST_CASE,
    "46-character Latin name": {
        **WORST_CASE,
        "holder_name": LATIN_NAME,
        "specialty": "计算机应用技术与软件工程",
    },
}


def test_sizes_of_realistic_worst_cases(p256: Signer, capsys: pytest.CaptureFixture[str]) -> None:
    """The worst cases fit behind a base URL with a lower-case path; printed with -s."""
    lines = []
    for label, changes in WORST_CASES.items():
        claims = claims_from_record(p256.record(**changes))
        cose = sign_token(claims, p256.handle, p256.key_id)
        text = encode_token(cose)
        for base_url in (BASE_URL, PATH_BASE_URL):
            url = verification_url(base_url, text)
            _, version = qr_matrix(url)
            lines.append(
                f"{label} behind {base_url}: COSE {len(cose)} of {qr_capacity(base_url)} bytes, "
                f"token {len(text)} digits, URL {len(url)} characters, QR version {version}-M"
            )
            assert version <= 10
    claims = claims_from_record(p256.record(**WORST_CASE))
    cose = sign_token(claims, p256.handle, p256.key_id)
    text = encode_token(cose)
    url = verification_url(PATH_BASE_URL, text)
    key = p256.public_key

    def best_ms(action: Callable[[], object], repeat: int) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(repeat):
                action()
            times.append((time.perf_counter() - start) / repeat * 1000)
        return min(times)

    with capsys.disabled():
        print("\n" + "\n".join(lines))
        print(
            f"sign {best_ms(lambda: sign_token(claims, p256.handle, p256.key_id), 50):.3f} ms, "
            f"encode {best_ms(lambda: encode_token(cose), 200):.4f} ms, "
            f"decode+verify {best_ms(lambda: verify_token(decode_token(text), key), 50):.3f} ms, "
            f"qr_matrix {best_ms(lambda: qr_matrix(url), 5):.1f} ms"
        )


def test_the_identity_number_is_never_in_the_token(p256: Signer) -> None:
    record = p256.record(**WORST_CASE)
    cose = p256.issue(**WORST_CASE)
    id_number = record.id_number
    for form in (id_number, id_number[:17], id_number[6:14], id_number[-6:]):
        assert form.encode("ascii") not in cose
        assert form.encode("utf-16-be") not in cose
    _, claims = read_unverified(cose)
    for field in dataclasses.fields(TokenClaims):
        assert id_number[6:14] not in str(getattr(claims, field.name))
    assert "id" not in {field.name for field in dataclasses.fields(TokenClaims)}
    assert record.birth_date.isoformat() not in repr(claims)


# --- the size budget the roster import checks ---------------------------------------------


def budget_size(budget: TokenBudget, record: DocumentRecord) -> int:
    return budget.size(
        holder_name=record.holder_name,
        series=record.series,
        level=record.level,
        qualification_name=record.qualification_name,
        specialty=record.specialty,
        qualified_on=record.qualified_on,
    ).size


@settings(max_examples=80, deadline=None)
@given(
    name=st.one_of(st.text(min_size=1, max_size=20), st.text(LATIN_ALPHABET, max_size=60)),
    specialty=st.text(min_size=1, max_size=20),
    qualification=st.sampled_from(
        ["高级工程师", "工程师", "Senior Engineer", "高级工程师（教授级）"]
    ),
    qualified_on=st.dates(min_value=date(1971, 1, 1), max_value=date(2100, 1, 1)),
)
def test_the_budget_is_the_largest_size_a_row_can_take(
    name: str, specialty: str, qualification: str, qualified_on: date
) -> None:
    signer = _HYPOTHESIS_SIGNER
    changes: dict[str, Any] = {
        "holder_name": name,
        "specialty": specialty,
        "qualification_name": qualification,
        "qualified_on": qualified_on,
    }
    budget = TokenBudget(BASE_URL)
    expected = budget_size(budget, signer.record(**changes))
    # the longest number and the last 3-byte issue date reach it exactly; others stay under
    assert len(signer.issue(**changes, document_number="-" * 24, issued_on=date(2149, 6, 6))) == (
        expected
    )
    assert len(signer.issue(**changes, document_number="9" * 24, issued_on=qualified_on)) <= (
        expected
    )
    assert len(signer.issue(**changes)) <= expected


def test_capacity_follows_the_base_url(p256: Signer) -> None:
    assert qr_capacity(BASE_URL) == 191
    assert qr_capacity(PATH_BASE_URL) == 183
    assert qr_capacity("http://localhost:8000") == 194
    longer = qr_capacity("https://zc.example.gov.cn/" + "zcps/" * 10)
    assert longer < qr_capacity(PATH_BASE_URL)
    # a token of exactly the capacity fits version 10; one byte more needs version 11
    budget = TokenBudget(PATH_BASE_URL)
    worst = p256.record(**WORST_CASE)
    assert budget_size(budget, worst) == budget.capacity == len(p256.issue(**WORST_CASE))
    assert (
        qr_matrix(verification_url(PATH_BASE_URL, encode_token(p256.issue(**WORST_CASE))))[1] == 10
    )
    one_more = {**WORST_CASE, "specialty": LONG_SPECIALTY + "学"}
    size = budget.size(
        holder_name=LONG_NAME,
        series="技工院校教师",
        level=Level.FULL_SENIOR,
        qualification_name=LONGEST_QUALIFICATION,
        specialty=one_more["specialty"],
        qualified_on=worst.qualified_on,
    )
    assert size.size == budget.capacity + 2 and not size.fits
    assert size.fields == {"holder_name": 28, "specialty": 42, "qualification_name": 1}
    with pytest.raises(TokenError, match="needs a version-11 QR code"):
        qr_matrix(verification_url(PATH_BASE_URL, encode_token(p256.issue(**one_more))))


# --- signers ------------------------------------------------------------------------------


def test_p384_signers_cannot_make_qr_tokens(p384: Signer) -> None:
    with pytest.raises(TokenError, match=r"need an ECDSA P-256 document signer.*96 bytes"):
        p384.issue()


def test_rsa_signers_cannot_make_qr_tokens() -> None:
    signer = Signer(rsa.generate_private_key(public_exponent=65537, key_size=3072))
    with pytest.raises(TokenError, match=r"need an ECDSA P-256 document signer.*384 bytes"):
        signer.issue()


def test_signing_checks_the_key_id(p256: Signer, other_p256: Signer) -> None:
    claims = claims_from_record(p256.record())
    with pytest.raises(TokenError, match="not 16 lower-case hex digits"):
        sign_token(claims, p256.handle, p256.key_id.upper())
    with pytest.raises(TokenError, match="claims name signer"):
        sign_token(claims, p256.handle, other_p256.key_id)
    with pytest.raises(TokenError, match="signing key is not key"):
        sign_token(claims_from_record(other_p256.record()), p256.handle, other_p256.key_id)


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(min_size=1, max_size=12),
    specialty=st.text(min_size=1, max_size=8),
    qualified_on=st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 1, 1)),
)
def test_any_text_and_date_round_trip(name: str, specialty: str, qualified_on: date) -> None:
    signer = _HYPOTHESIS_SIGNER
    changes = {"holder_name": name, "specialty": specialty, "qualified_on": qualified_on}
    cose = signer.issue(**changes)
    assert verify_token(cose, signer.public_key) == claims_from_record(signer.record(**changes))


_HYPOTHESIS_SIGNER = Signer(ec.generate_private_key(ec.SECP256R1()))


# --- an independent implementation agrees --------------------------------------------------


def test_tokens_are_cose_sign1_as_rfc_9052_defines(p256: Signer) -> None:
    record = p256.record(**WORST_CASE)
    cose = p256.issue(**WORST_CASE)
    header, payload = rfc9052_verify(cose, p256.public_key)
    assert header == {1: -7, 4: bytes.fromhex(p256.key_id)}
    assert payload == payload_of(record)
    assert payload[0] == 2 and isinstance(payload[3], bytes)
    assert payload[1] == bijective(record.document_number, DOCUMENT_NUMBER_ALPHABET)
    # and the other way: a token made from the RFC alone is accepted
    made_here = rfc9052_sign(
        p256.private_key,
        {1: -7, 4: bytes.fromhex(p256.key_id)},
        cbor2.dumps(payload_of(record), canonical=True),
    )
    assert verify_token(made_here, p256.public_key) == claims_from_record(record)


# --- tampering ----------------------------------------------------------------------------

EDITS = {
    "document_number": "2025-110000-GC2-000124-7",
    "document_type": DocumentType.NOTICE,
    "holder_name": "阿依古丽·买买提热",
    "series": "技工院校教师",
    "qualification_name": "正高级工程师",
    "specialty": "计算机硬件",
    "level": Level.FULL_SENIOR,
    "qualified_on": date(2025, 9, 13),
    "issued_on": date(2025, 10, 21),
}


def test_every_field_is_covered_by_an_edit() -> None:
    names = {field.name for field in dataclasses.fields(TokenClaims)}
    assert set(EDITS) == names - {"key_id"}
    assert all(getattr(sample_record(), field) != value for field, value in EDITS.items())


@pytest.mark.parametrize(("field", "value"), EDITS.items(), ids=EDITS.keys())
def test_a_single_field_edit_is_detected(p256: Signer, field: str, value: object) -> None:
    original = parts(p256.issue())
    edited_payload = parts(p256.issue(**{field: value}))[2]
    forged = assemble(original[0], edited_payload, original[3])
    assert getattr(read_unverified(forged)[1], field) == value  # a well-formed token...
    with pytest.raises(TokenError, match="signature does not verify"):
        verify_token(forged, p256.public_key)  # ...that does not verify


def test_a_flipped_byte_anywhere_is_detected(p256: Signer) -> None:
    cose = p256.issue()
    for index in range(len(cose)):
        for flip in (0x01, 0x80):
            damaged = bytearray(cose)
            damaged[index] ^= flip
            with pytest.raises(TokenError):
                verify_token(bytes(damaged), p256.public_key)


def test_a_flipped_signature_byte_fails_the_signature(p256: Signer) -> None:
    cose = p256.issue()
    for index in range(len(cose) - 64, len(cose)):
        damaged = bytearray(cose)
        damaged[index] ^= 0x40
        with pytest.raises(TokenError, match="signature does not verify"):
            verify_token(bytes(damaged), p256.public_key)


def test_another_key_does_not_verify(p256: Signer, other_p256: Signer) -> None:
    theirs = other_p256.issue()
    with pytest.raises(TokenError, match=f"names signer key {other_p256.key_id}"):
        verify_token(theirs, p256.public_key)
    ours = parts(p256.issue())
    transplanted = assemble(ours[0], ours[2], parts(theirs)[3])
    with pytest.raises(TokenError, match="signature does not verify"):
        verify_token(transplanted, p256.public_key)


def test_the_key_id_is_signed(p256: Signer, other_p256: Signer) -> None:
    _, _, payload, signature = parts(p256.issue())
    relabelled = cbor2.dumps({1: -7, 4: bytes.fromhex(other_p256.key_id)}, canonical=True)
    forged = assemble(relabelled, payload, signature)
    assert read_unverified(forged)[0] == other_p256.key_id
    with pytest.raises(TokenError, match="signature does not verify"):
        verify_token(forged, other_p256.public_key)
    with pytest.raises(TokenError, match=f"names signer key {other_p256.key_id}"):
        verify_token(forged, p256.public_key)


def test_the_algorithm_must_suit_the_key(p256: Signer, p384: Signer) -> None:
    with pytest.raises(TokenError, match="signed with ES256, which this secp384r1 key"):
        verify_token(p256.issue(), p384.public_key)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    with pytest.raises(TokenError, match="which this RSA key cannot verify"):
        verify_token(p256.issue(), rsa_key)


# --- strict parsing -----------------------------------------------------------------------


def crafted(signer: Signer, header: dict[int, Any] | None = None, **kwargs: Any) -> bytes:
    """A properly signed message that breaks one rule of the certsvc token format."""
    payload = kwargs.pop("payload", cbor2.dumps(payload_of(signer.record()), canonical=True))
    header = header if header is not None else {1: -7, 4: bytes.fromhex(signer.key_id)}
    return rfc9052_sign(signer.private_key, header, payload, **kwargs)


def test_rule_breaking_tokens_are_refused(p256: Signer) -> None:
    kid = bytes.fromhex(p256.key_id)
    record = p256.record()
    cases = {
        "critical": crafted(p256, {1: -7, 2: [99], 4: kid, 99: 1}),
        "unexpected header parameters": crafted(p256, {1: -7, 3: 0, 4: kid}),
        "is not ES256 .-7.": crafted(p256, {1: -257, 4: kid}),
        "signed with ES384 .-35.; certsvc tokens are ES256 .-7. only": crafted(
            p256, {1: -35, 4: kid}
        ),
        # format 1: no format number, the document number as text, the qualification as text
        "an old token .format 1.": crafted(
            p256,
            payload=cbor2.dumps(
                [
                    record.document_number,
                    1,
                    text_field(record.holder_name),
                    "高级工程师",
                    text_field(record.specialty),
                    2,
                    20343,
                    20381,
                ],
                canonical=True,
            ),
        ),
        "payload format 3 is unknown; this verifier reads 2": crafted(
            p256, payload=cbor2.dumps(payload_of(record, {0: 3}), canonical=True)
        ),
        "document number is not a packed number": crafted(
            p256,
            payload=cbor2.dumps(payload_of(record, {1: record.document_number}), canonical=True),
        ),
        "document number is empty": crafted(
            p256, payload=cbor2.dumps(payload_of(record, {1: 0}), canonical=True)
        ),
        "document number is longer than 24": crafted(
            p256, payload=cbor2.dumps(payload_of(record, {1: 37**25}), canonical=True)
        ),
        "unknown series number 30": crafted(
            p256, payload=cbor2.dumps(payload_of(record, {4: 30}), canonical=True)
        ),
        "unknown qualification number 1 for 工程技术 副高级": crafted(
            p256, payload=cbor2.dumps(payload_of(record, {6: 1}), canonical=True)
        ),
        "qualification name is not text": crafted(
            p256, payload=cbor2.dumps(payload_of(record, {6: 1.5}), canonical=True)
        ),
        "specialty is a negative number": crafted(
            p256, payload=cbor2.dumps(payload_of(record, {7: -5}), canonical=True)
        ),
        # a listed qualification written as text: signed, but not how certsvc writes it
        "deterministic encoding.": crafted(
            p256, payload=cbor2.dumps(payload_of(record, {6: "高级工程师"}), canonical=True)
        ),
        "kid. must be 8 bytes": crafted(p256, {1: -7, 4: kid[:4]}),
        "unprotected header must be empty": crafted(p256, unprotected={4: kid}),
        "tag 18": crafted(p256, tag=98),
        "has 11 items, not 10": crafted(
            p256, payload=cbor2.dumps([*payload_of(record), "110105"], canonical=True)
        ),
        "has 9 items, not 10": crafted(
            p256, payload=cbor2.dumps(payload_of(record)[:9], canonical=True)
        ),
        "payload is not an array": crafted(
            p256, payload=cbor2.dumps(dict(enumerate(payload_of(record))), canonical=True)
        ),
        "unknown level code 7": crafted(
            p256, payload=cbor2.dumps(payload_of(record, {5: 7}), canonical=True)
        ),
        "document type is not an integer": crafted(
            p256, payload=cbor2.dumps(payload_of(record, {2: True}), canonical=True)
        ),
        "holder name is not valid UTF-16": crafted(
            p256, payload=cbor2.dumps(payload_of(record, {3: b"\xd8\x00"}), canonical=True)
        ),
        "issue date is out of range": crafted(
            p256, payload=cbor2.dumps(payload_of(record, {9: 10**9}), canonical=True)
        ),
        # UTF-8 where UTF-16 is shorter: signed, but not the one encoding certsvc writes
        "deterministic encoding": crafted(
            p256, payload=cbor2.dumps(payload_of(record, {3: record.holder_name}), canonical=True)
        ),
    }
    for reason, cose in cases.items():
        with pytest.raises(TokenError, match=reason):
            verify_token(cose, p256.public_key)
        with pytest.raises(TokenError, match=f"^not a certsvc token: .*{reason}"):
            decode_token(str(int.from_bytes(cose, "big")))


def test_malformed_token_text_is_refused(p256: Signer) -> None:
    cose = p256.issue()
    text = encode_token(cose)
    protected, _, payload, _ = parts(cose)
    cases = {
        "": "empty",
        "abc": "decimal digits",
        "12 34": "decimal digits",
        "０１２３": "decimal digits",
        "0" + text: "not starting with 0",
        "9" * 1001: "more than 1000",
        "123456789": "not a COSE_Sign1",
        text[:-1]: "",
        text[:-12]: "",
        text + "7": "",
        encode_token(cose[:-1]): "not valid CBOR",
        encode_token(cose[:40]): "not valid CBOR",
        encode_token(cose + b"\x00"): "1 extra bytes follow",
        encode_token(cose + cose): f"{len(cose)} extra bytes follow",
        str(int.from_bytes(cbor2.dumps(cbor2.CBORTag(17, parts(cose))), "big")): "tag 18",
        str(int.from_bytes(cbor2.dumps(parts(cose)), "big")): "tag 18",
        encode_token(cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload]))): "4 items",
    }
    for bad, reason in cases.items():
        with pytest.raises(TokenError, match=f"^not a certsvc token: .*{reason}"):
            decode_token(bad)
    assert decode_token(text.lower()) == cose  # digits have no case: lower case is fine
    url = verification_url(BASE_URL, text)
    assert url.lower().rsplit("/v/", 1)[1] == text
    with pytest.raises(TokenError, match="tag 18"):
        encode_token(b"\x00" + cose)


def test_random_damage_only_ever_raises_token_error(p256: Signer) -> None:
    rng = random.Random(20251020)  # noqa: S311 - reproducible damage, not secrets
    cose = p256.issue(**WORST_CASE)
    for _ in range(3000):
        damaged = bytearray(cose)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        if rng.random() < 0.3:
            damaged = damaged[: rng.randrange(1, len(damaged))]
        if damaged == cose:
            continue
        with pytest.raises(TokenError):
            verify_token(bytes(damaged), p256.public_key)
    for _ in range(1000):
        garbage = b"\xd2" + rng.randbytes(rng.randrange(0, 200))
        with pytest.raises(TokenError):
            decode_token(encode_token(garbage))


# --- the URL and the QR code --------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://zc.example.gov.cn", "HTTPS://ZC.EXAMPLE.GOV.CN/V/123"),
        ("https://zc.example.gov.cn/", "HTTPS://ZC.EXAMPLE.GOV.CN/V/123"),
        ("http://localhost:8000", "HTTP://LOCALHOST:8000/V/123"),
        ("https://zc.example.gov.cn/ZC", "HTTPS://ZC.EXAMPLE.GOV.CN/ZC/V/123"),
        ("https://zc.example.gov.cn/verify", "HTTPS://ZC.EXAMPLE.GOV.CN/verify/v/123"),
        ("https://rsj.example.gov.cn/zcps/", "HTTPS://RSJ.EXAMPLE.GOV.CN/zcps/v/123"),
        ("https://人社.example.cn", "https://人社.example.cn/V/123"),
        ("https://人社.example.cn/zc", "https://人社.example.cn/zc/v/123"),
    ],
)
def test_verification_url(base_url: str, expected: str) -> None:
    assert verification_url(base_url, "123") == expected
    assert qr_matrix(expected)[1] <= 3


def test_qr_segments_keep_the_path_apart() -> None:
    a, b, n = qr_modes.MODE_ALPHANUMERIC, qr_modes.MODE_BYTE, qr_modes.MODE_NUMERIC
    assert qr_segments("HTTPS://RSJ.EXAMPLE.GOV.CN/zcps/v/123") == [
        ("HTTPS://RSJ.EXAMPLE.GOV.CN/", a),
        ("zcps/v/", b),
        ("123", n),
    ]
    assert qr_segments("HTTPS://ZC.EXAMPLE.GOV.CN/V/123") == [
        ("HTTPS://ZC.EXAMPLE.GOV.CN/V/", a),
        ("123", n),
    ]
    # too short an alphanumeric start is not worth a segment of its own
    assert qr_segments("HTTP:x/v/1") == [("HTTP:x/v/", b), ("1", n)]
    assert qr_segments("https://人社.example.cn/V/1") == [
        ("https://人社.example.cn/V/", b),
        ("1", n),
    ]


def test_verification_url_refuses_bad_input() -> None:
    for base_url in ("ftp://zc.example.gov.cn", "zc.example.gov.cn", "https://x.cn/?a=1"):
        with pytest.raises(ConfigError, match="public base URL"):
            verification_url(base_url, "123")
    with pytest.raises(TokenError, match="decimal digits"):
        verification_url(BASE_URL, "ABC")


def test_qr_code_modes_and_limit(p256: Signer) -> None:
    text = encode_token(p256.issue(**WORST_CASE))
    assert qr_matrix(verification_url(BASE_URL, text))[1] == 10
    # a lower-case path goes in a byte segment of its own: the worst case still fits
    assert qr_matrix(verification_url(PATH_BASE_URL, text))[1] == 10
    # had the whole head gone in byte mode, it would not have
    with pytest.raises(segno.DataOverflowError):
        segno.make(
            [(verification_url(PATH_BASE_URL, text).lower(), qr_modes.MODE_BYTE)],  # type: ignore[arg-type]
            error="m",
            version=10,
            boost_error=False,
        )
    too_long = p256.issue(holder_name="阿" * 40)
    with pytest.raises(TokenError, match=r"needs a version-1\d QR code; at most version 10"):
        qr_matrix(verification_url(BASE_URL, encode_token(too_long)))
    with pytest.raises(TokenError, match="no URL"):
        qr_matrix("")


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("2025-110000-GC2-000123-78", "1 to 24 characters"),
        ("2025-110000-gc2-000123-7", "of 0-9, A-Z and '-'"),
        ("", "1 to 24 characters"),
        ("京2025-000123", "of 0-9, A-Z and '-'"),
    ],
)
def test_document_numbers_the_format_cannot_carry_are_refused(
    p256: Signer, number: str, reason: str
) -> None:
    with pytest.raises(TokenError, match=f"document number .* {reason}"):
        p256.issue(document_number=number)


def test_series_and_qualification_positions_are_fixed() -> None:
    """They are in tokens: the catalogue is append only (see certsvc.roster.catalog)."""
    names = [series.name for series in SERIES]
    assert names[:5] == ["高等学校教师", "哲学社会科学研究", "自然科学研究", "卫生技术", "工程技术"]
    assert names.index("中小学教师") == 21 and len(names) == 30
    assert QUALIFICATIONS[("卫生技术", Level.DEPUTY_SENIOR)][:4] == (
        "副主任医师",
        "副主任药师",
        "副主任护师",
        "副主任技师",
    )
    assert QUALIFICATIONS[("工程技术", Level.JUNIOR)] == ("助理工程师", "技术员")
    assert QUALIFICATIONS[("中小学教师", Level.INTERMEDIATE)] == ("一级教师",)


@pytest.mark.parametrize(
    "item",
    [
        "",
        "a" * 23,
        "a" * 24,
        "张" * 85,
        "张" * 86,
        "x" * 70_000,
        b"",
        b"\x00" * 255,
        b"\x00" * 256,
        0,
        23,
        24,
        255,
        256,
        65_535,
        65_536,
        2**32 - 1,
        2**32,
        2**64 - 1,
        2**64,
        2**71,
        56**40,
    ],
)
def test_cbor_sizes_are_what_the_encoder_writes(item: str | bytes | int) -> None:
    assert _cbor_size(item) == len(cbor2.dumps(item, canonical=True))


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300), st.integers(min_value=0)))
@settings(max_examples=300, deadline=None)
def test_cbor_sizes_match_the_encoder_for_any_item(item: str | bytes | int) -> None:
    assert _cbor_size(item) == len(cbor2.dumps(item, canonical=True))


@pytest.mark.parametrize("alphabet", [DOCUMENT_NUMBER_ALPHABET, LATIN_ALPHABET, "ab"])
def test_packed_texts_up_to_the_limit_unpack_and_longer_ones_are_refused(alphabet: str) -> None:
    limit = 5
    longest = alphabet[-1] * limit
    assert _unpack_symbols(_pack_symbols(longest, alphabet), alphabet, "text", limit) == longest
    shortest_too_long = alphabet[0] * (limit + 1)
    assert _pack_symbols(shortest_too_long, alphabet) == _pack_symbols(longest, alphabet) + 1
    with pytest.raises(TokenError, match="longer than 5 characters"):
        _unpack_symbols(_pack_symbols(shortest_too_long, alphabet), alphabet, "text", limit)
    with pytest.raises(TokenError, match="negative"):
        _unpack_symbols(-1, alphabet, "text", limit)
    generator = random.Random(alphabet)  # noqa: S311 - test data, not secrets
    for _ in range(200):
        text = "".join(generator.choices(alphabet, k=generator.randint(0, limit)))
        assert _unpack_symbols(_pack_symbols(text, alphabet), alphabet, "text", limit) == text
