"""Document numbers: shape, check character, typo detection, allocation."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from certsvc.db.database import Database
from certsvc.documents.record import DocumentType
from certsvc.errors import InputError
from certsvc.issuance.models import NumberSequence
from certsvc.issuance.numbering import (
    MAX_SEQUENCE,
    DocumentNumber,
    allocate_sequences,
    parse_document_number,
    usable,
)
from certsvc.roster.catalog import Level

SAMPLE = DocumentNumber(2025, "110000", "GC", Level.DEPUTY_SENIOR, DocumentType.CERTIFICATE, 123)
ALPHABET = string.digits + string.ascii_uppercase


def test_a_number_reads_as_documented() -> None:
    text = str(SAMPLE)
    assert text.startswith("2025-110000-GC2Z-000123")
    assert len(text) == 24
    assert parse_document_number(text) == SAMPLE
    notice = SAMPLE.companion(DocumentType.NOTICE)
    assert str(notice).startswith("2025-110000-GC2T-000123")
    assert parse_document_number(str(notice)).document_type is DocumentType.NOTICE


def test_typed_numbers_are_forgiven_spaces_and_lower_case() -> None:
    assert parse_document_number(f"  {str(SAMPLE).lower()} ") == SAMPLE


@given(
    sequence=st.integers(1, MAX_SEQUENCE),
    level=st.sampled_from(list(Level)),
    kind=st.sampled_from(list(DocumentType)),
    position=st.integers(0, 23),
    replacement=st.sampled_from(ALPHABET),
)
def test_every_single_character_typo_is_caught(
    sequence: int, level: Level, kind: DocumentType, position: int, replacement: str
) -> None:
    text = str(DocumentNumber(2025, "110000", "GC", level, kind, sequence))
    if text[position] == "-" or text[position] == replacement:
        return
    typo = text[:position] + replacement + text[position + 1 :]
    with pytest.raises(InputError):
        parse_document_number(typo)


@given(sequence=st.integers(1, MAX_SEQUENCE), position=st.integers(0, 22))
def test_every_swap_of_adjacent_characters_is_caught(sequence: int, position: int) -> None:
    text = str(DocumentNumber(2025, "110000", "GC", Level.JUNIOR, DocumentType.NOTICE, sequence))
    a, b = text[position], text[position + 1]
    if a == b or "-" in (a, b):
        return
    swapped = text[:position] + b + a + text[position + 2 :]
    with pytest.raises(InputError):
        parse_document_number(swapped)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not a document number"),
        ("2025-110000-GC2-0001237", "not a document number"),  # no type letter
        ("2025-110000-GC5Z-0001237", "not a document number"),  # level 5
        ("2025-110000-GC2X-0001237", "not a document number"),  # type X
        ("2025-11000-GC2Z-0001237", "not a document number"),  # region 5 digits
        ("2025-110000-GC2Z-000123", "not a document number"),  # no check character
        ("2025-110000-GC2Z-000123-7", "not a document number"),  # a hyphen before it
        ("2025—110000—GC2Z—0001237", "not a document number"),  # em dashes
    ],
)
def test_malformed_numbers_are_refused_with_the_expected_shape(text: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason) as caught:
        parse_document_number(text)
    assert "2025-110000-GC2Z-000123N" in str(caught.value)


def test_a_wrong_check_character_is_named() -> None:
    text = str(SAMPLE)
    wrong = text[:-1] + ("0" if text[-1] != "0" else "1")
    with pytest.raises(InputError, match="wrong check character"):
        parse_document_number(wrong)


@pytest.mark.parametrize(
    "fields",
    [
        {"year": 25},
        {"region_code": "11000A"},
        {"series_code": "gc"},
        {"sequence": 0},
        {"sequence": MAX_SEQUENCE + 1},
    ],
)
def test_impossible_numbers_cannot_be_made(fields: dict[str, object]) -> None:
    values: dict[str, object] = {
        "year": 2025,
        "region_code": "110000",
        "series_code": "GC",
        "level": Level.DEPUTY_SENIOR,
        "document_type": DocumentType.CERTIFICATE,
        "sequence": 1,
    }
    values.update(fields)
    with pytest.raises(ValueError, match=r"year|region|series|sequence"):
        DocumentNumber(**values)  # type: ignore[arg-type]


def test_sequences_are_consecutive_per_group_and_never_reused(db: Database) -> None:
    group = {"year": 2025, "region_code": "110000", "series_code": "GC", "level": Level.JUNIOR}
    with db.session() as session:
        first = allocate_sequences(session, count=3, **group)  # type: ignore[arg-type]
        other = allocate_sequences(  # another level: its own sequence
            session,
            year=2025,
            region_code="110000",
            series_code="GC",
            level=Level.INTERMEDIATE,
            count=2,
        )
    with db.session() as session:
        second = allocate_sequences(session, count=2, **group)  # type: ignore[arg-type]
    assert first == _usable(3, start=1, level=Level.JUNIOR)
    assert other == _usable(2, start=1, level=Level.INTERMEDIATE)
    assert second == _usable(2, start=first[-1] + 1, level=Level.JUNIOR)
    try:
        with db.session() as session:
            allocate_sequences(session, count=10, **group)  # type: ignore[arg-type]
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    with db.session() as session:
        third = allocate_sequences(session, count=1, **group)  # type: ignore[arg-type]
        rows = session.exec(select(NumberSequence)).all()
    assert third == _usable(1, start=second[-1] + 1, level=Level.JUNIOR)
    assert sorted(row.last for row in rows) == sorted([other[-1], third[-1]])


def _usable(count: int, *, start: int, level: Level) -> list[int]:
    """The first ``count`` sequences from ``start`` whose numbers need no ``*``."""
    found = []
    sequence = start
    while len(found) < count:
        number = DocumentNumber(2025, "110000", "GC", level, DocumentType.CERTIFICATE, sequence)
        if usable(number):
            found.append(sequence)
        sequence += 1
    return found


def test_sequences_whose_check_would_be_a_star_are_skipped(db: Database) -> None:
    group = {"year": 2025, "region_code": "110000", "series_code": "WS", "level": Level.JUNIOR}
    with db.session() as session:
        sequences = allocate_sequences(session, count=200, **group)  # type: ignore[arg-type]
    numbers = [
        DocumentNumber(2025, "110000", "WS", Level.JUNIOR, kind, sequence)
        for sequence in sequences
        for kind in DocumentType
    ]
    assert all("*" not in str(number) for number in numbers)
    assert all(parse_document_number(str(number)) == number for number in numbers)
    skipped = set(range(1, sequences[-1] + 1)) - set(sequences)
    assert skipped  # about 2 in 37 are passed over; 200 numbers meet some
    for sequence in skipped:
        number = DocumentNumber(
            2025, "110000", "WS", Level.JUNIOR, DocumentType.CERTIFICATE, sequence
        )
        assert not usable(number)


def test_an_exhausted_sequence_is_refused_without_allocating(db: Database) -> None:
    group = {"year": 2025, "region_code": "110000", "series_code": "KJ", "level": Level.JUNIOR}
    last_usable = max(
        s
        for s in range(MAX_SEQUENCE - 100, MAX_SEQUENCE + 1)
        if usable(DocumentNumber(2025, "110000", "KJ", Level.JUNIOR, DocumentType.NOTICE, s))
    )
    with db.session() as session:
        session.add(
            NumberSequence(
                year=2025,
                region_code="110000",
                series_code="KJ",
                level_code="4",
                last=last_usable - 1,
            )
        )
    with pytest.raises(InputError, match="exhausted"), db.session() as session:
        allocate_sequences(session, count=2, **group)  # type: ignore[arg-type]
    with db.session() as session:
        assert allocate_sequences(session, count=1, **group) == [last_usable]  # type: ignore[arg-type]
