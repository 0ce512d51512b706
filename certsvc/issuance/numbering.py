"""Document numbers: who issued what, in which year and series, with a check character.

A number reads ``2025-110000-GC2Z-000123N`` (24 characters, what a QR token carries):

====== =================================================================================
2025   the year of issue
110000 the issuing agency's administrative region code (GB/T 2260, six digits)
GC     the title series' two-letter code (:mod:`certsvc.roster.catalog`)
2      the level: 1 正高级, 2 副高级, 3 中级, 4 初级
Z      the document type: Z 证书 (certificate), T 通知书 (result notice)
000123 the candidate's sequence number within year, region, series and level; a
       candidate's certificate and notice share it
N      ISO 7064 MOD 37-2 check character over everything before it (hyphens left out),
       written straight after the sequence: every single mistyped character and every swap
       of two neighbours is caught (a pure system over the prime 37; the hybrid MOD 37,36
       misses about one swap in 200). MOD 37-2 needs a 37th symbol, ``*``, for one number in
       37; such sequence numbers are skipped, so a number is always letters, digits, hyphens
====== =================================================================================

Sequences are allocated inside the transaction that reserves the registry rows (the row of
``number_sequence`` is locked on PostgreSQL; SQLite serialises writers), and the registry's
unique index on the number is the last word: never two documents with one number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_37_2

from certsvc.documents.record import DocumentType
from certsvc.errors import InputError
from certsvc.issuance.models import NumberSequence
from certsvc.roster.catalog import Level

MAX_SEQUENCE = 999_999
TYPE_LETTERS = {DocumentType.CERTIFICATE: "Z", DocumentType.NOTICE: "T"}
_TYPES_BY_LETTER = {letter: kind for kind, letter in TYPE_LETTERS.items()}
_LEVELS_BY_CODE = {level.code: level for level in Level}
_NUMBER = re.compile(
    r"(?P<year>\d{4})-(?P<region>\d{6})-(?P<series>[A-Z]{2})(?P<level>[1-4])(?P<type>[ZT])"
    r"-(?P<sequence>\d{6})(?P<check>[0-9A-Z])"
)


@dataclass(frozen=True)
class DocumentNumber:
    year: int
    region_code: str
    series_code: str
    level: Level
    document_type: DocumentType
    sequence: int

    def __post_init__(self) -> None:
        if not 1000 <= self.year <= 9999:
            raise ValueError(f"year {self.year} is not four digits")
        if not re.fullmatch(r"\d{6}", self.region_code):
            raise ValueError(f"region code {self.region_code!r} is not six digits")
        if not re.fullmatch(r"[A-Z]{2}", self.series_code):
            raise ValueError(f"series code {self.series_code!r} is not two capital letters")
        if not 1 <= self.sequence <= MAX_SEQUENCE:
            raise ValueError(f"sequence {self.sequence} is outside 1..{MAX_SEQUENCE}")

    @property
    def body(self) -> str:
        return (
            f"{self.year}-{self.region_code}-{self.series_code}{self.level.code}"
            f"{TYPE_LETTERS[self.document_type]}-{self.sequence:06d}"
        )

    def __str__(self) -> str:
        return self.body + check_character(self.body)

    def companion(self, document_type: DocumentType) -> DocumentNumber:
        return DocumentNumber(
            self.year, self.region_code, self.series_code, self.level, document_type, self.sequence
        )


def check_character(body: str) -> str:
    """The MOD 37-2 check character of ``body`` (hyphens ignored); may be ``*``."""
    return str(mod_37_2.calc_check_digit(body.replace("-", "")))


def usable(number: DocumentNumber) -> bool:
    """False when the certificate's or the notice's number would need the check ``*``."""
    return all(check_character(number.companion(kind).body) != "*" for kind in DocumentType)


def parse_document_number(text: str) -> DocumentNumber:
    """A number as typed by a person: surrounding spaces and lower case are forgiven; a wrong
    shape or check character is an ``InputError`` saying which."""
    cleaned = text.strip().upper()
    match = _NUMBER.fullmatch(cleaned)
    if match is None:
        raise InputError(
            f"{text!r} is not a document number: expected the shape 2025-110000-GC2Z-000123N "
            "(year, region code, series, level, Z or T, sequence, check character)"
        )
    try:
        mod_37_2.validate(cleaned.replace("-", ""))
    except ValidationError:
        raise InputError(
            f"{text!r} has a wrong check character: a character was probably mistyped"
        ) from None
    return DocumentNumber(
        year=int(match["year"]),
        region_code=match["region"],
        series_code=match["series"],
        level=_LEVELS_BY_CODE[match["level"]],
        document_type=_TYPES_BY_LETTER[match["type"]],
        sequence=int(match["sequence"]),
    )


def allocate_sequences(
    session: Session, *, year: int, region_code: str, series_code: str, level: Level, count: int
) -> list[int]:
    """``count`` never-used sequence numbers, ascending, in the caller's transaction; those
    whose numbers would need the check character ``*`` are passed over."""
    if count < 1:
        raise ValueError("allocate at least one sequence number")
    key = (year, region_code, series_code, level.code)
    _ensure_sequence_row(session, year, region_code, series_code, level.code)
    row = session.exec(
        select(NumberSequence)
        .where(
            NumberSequence.year == year,
            NumberSequence.region_code == region_code,
            NumberSequence.series_code == series_code,
            NumberSequence.level_code == level.code,
        )
        .with_for_update()
    ).one()
    sequences: list[int] = []
    candidate = row.last
    while len(sequences) < count:
        candidate += 1
        if candidate > MAX_SEQUENCE:
            raise InputError(
                f"sequence numbers for {'/'.join(map(str, key))} are exhausted: "
                f"{row.last} used, {count} more asked, at most {MAX_SEQUENCE} a year"
            )
        number = DocumentNumber(
            year, region_code, series_code, level, DocumentType.CERTIFICATE, candidate
        )
        if usable(number):
            sequences.append(candidate)
    row.last = candidate
    session.add(row)
    session.flush()
    return sequences


def _ensure_sequence_row(
    session: Session, year: int, region_code: str, series_code: str, level_code: str
) -> None:
    """Create the group's sequence row unless it exists, without failing when another
    transaction creates it at the same moment (it then waits for that one, and the row lock
    taken next orders the two)."""
    values = {
        "year": year,
        "region_code": region_code,
        "series_code": series_code,
        "level_code": level_code,
        "last": 0,
    }
    table: sa.Table = NumberSequence.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    statement: sa.Executable
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(values).on_conflict_do_nothing()
    else:  # pragma: no cover - certsvc runs on PostgreSQL and SQLite
        raise NotImplementedError(f"numbering on {dialect}")
    session.execute(statement)
