"""Turning one raw roster row into a validated :class:`RosterRow`, or the list of what is wrong.

Every column is checked independently so that one pass reports every problem of a row. Checks
that need more than one column (the identity number against the birth date, the votes against
the committee) run once the columns they need are valid. Reasons never repeat any part of an
identity number, nor a value that must agree with one (see the privacy rules in DESIGN.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import TypeVar

from certsvc.errors import FieldError
from certsvc.roster.catalog import Level, Series, parse_level, parse_series
from certsvc.roster.columns import COLUMNS_BY_KEY
from certsvc.roster.identity import (
    CountryError,
    Gender,
    IdentityDocument,
    IdType,
    issuing_country,
    normalize_mobile,
    normalize_name,
    parse_gender,
    parse_id_type,
    validate_identity,
)
from certsvc.roster.reader import CellValue, RawRow

T = TypeVar("T")

MAX_TEXT = {"work_unit": 128, "committee_name": 128, "specialty": 64, "qualification_name": 64}
MAX_COUNTRY_TEXT = 16  # an ISO 3166 code has 3 letters; room for padding and a wrong guess
MIN_AGE_AT_REVIEW = 16
MAX_COUNT = 9999
"""Upper bound of committee size, members attending and votes: a review committee has tens of
members, and the bound keeps every count far inside the database's 32-bit integers."""
MAX_YEAR = 9999
# A word of a reason with this many digits or more may be an identity (or mobile) number that
# sits under the wrong column, quoted as what that column found; no reason's own text has one.
HIDDEN_FROM_DIGITS = 7
_WORD = re.compile(r"[^\W_]+")
HIDDEN = "[a number not shown]"


def hide_long_numbers(reason: str) -> str:
    """``reason`` with every word of :data:`HIDDEN_FROM_DIGITS` digits or more left out."""

    def hide(word: re.Match[str]) -> str:
        found = word.group()
        digits = sum(char.isdigit() for char in found)
        return HIDDEN if digits >= HIDDEN_FROM_DIGITS else found

    return _WORD.sub(hide, reason)


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of one row. The reason never shows a long number (see
    :func:`hide_long_numbers`): a row whose cells slipped by one puts its identity number
    under another column, whose reason would otherwise quote it."""

    row: int
    column: str  # column key, e.g. "id_number"
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", hide_long_numbers(self.reason))

    @property
    def header(self) -> str:
        column = COLUMNS_BY_KEY.get(self.column)
        return column.header if column else self.column

    def as_dict(self) -> dict[str, object]:
        return {
            "row": self.row,
            "column": self.column,
            "header": self.header,
            "reason": self.reason,
        }

    def __str__(self) -> str:
        return f"row {self.row}, {self.header} ({self.column}): {self.reason}"


@dataclass(frozen=True, slots=True)
class SessionKey:
    year: int
    committee_name: str
    series: str
    specialty: str
    level: Level


@dataclass(frozen=True, slots=True)
class RosterRow:
    number: int
    name: str
    identity: IdentityDocument
    gender: Gender
    birth_date: date
    work_unit: str
    mobile: str
    session: SessionKey
    qualification_name: str
    committee_size: int
    review_date: date
    members_attending: int
    votes_for: int
    passed: bool
    identity_key: tuple[IdType, str, str]  # (type, issuing country, number): who this is


def passes_vote(votes_for: int, members_attending: int) -> bool:
    """At least two thirds of the members attending voted for (exact integer arithmetic)."""
    return votes_for * 3 >= members_attending * 2


def has_quorum(members_attending: int, committee_size: int) -> bool:
    """At least two thirds of the committee attended (人社部令第40号, 第二十七条)."""
    return members_attending * 3 >= committee_size * 2


class _Collector:
    def __init__(self, raw: RawRow) -> None:
        self.raw = raw
        self.errors: list[RowError] = []

    def fail(self, column: str, reason: str) -> None:
        self.errors.append(RowError(self.raw.number, column, reason))

    def failed(self, column: str) -> bool:
        return any(error.column == column for error in self.errors)

    def take(self, column: str, parse: Callable[[CellValue], T]) -> T | None:
        value = self.raw.cells.get(column)
        try:
            return parse(value)
        except FieldError as exc:
            self.fail(column, exc.reason)
            return None

    def identity(
        self, id_type: IdType, country: str | None, today: date
    ) -> IdentityDocument | None:
        """The identity document; a problem of the number blames id_number, one of the
        country id_country (unless that column has been blamed already)."""
        try:
            number = _id_number_text(self.raw.cells.get("id_number"))
            return validate_identity(id_type, number, country, today=today)
        except CountryError as exc:
            if not self.failed("id_country"):
                self.fail("id_country", exc.reason)
        except FieldError as exc:
            self.fail("id_number", exc.reason)
        return None


def parse_row(raw: RawRow, *, today: date) -> RosterRow | list[RowError]:
    """Validate one row: a :class:`RosterRow`, or every :class:`RowError` it has."""
    c = _Collector(raw)
    if raw.extra_cells:
        c.fail("row", f"has {raw.extra_cells} non-empty cell(s) to the right of the last header")
    name = c.take("name", lambda v: _cached_name(_raw(v)))
    id_type = c.take("id_type", lambda v: parse_id_type(_text(v)))
    country_text = c.take(
        "id_country", lambda v: _text(v, required=False, max_len=MAX_COUNTRY_TEXT)
    )
    if id_type is not None and country_text is not None:
        c.take("id_country", lambda _: issuing_country(id_type, country_text))
    gender = c.take("gender", lambda v: parse_gender(_text(v)))
    birth_date = c.take("birth_date", lambda v: _date(v, today=today, private=True))
    work_unit = c.take("work_unit", lambda v: _text(v, max_len=MAX_TEXT["work_unit"]))
    mobile = c.take("mobile", lambda v: normalize_mobile(_digits_text(v)))
    committee_name = c.take("committee_name", lambda v: _text(v, max_len=128))
    committee_size = c.take("committee_size", lambda v: _count(v, minimum=1))
    review_date = c.take("review_date", lambda v: _date(v, today=today))
    series: Series | None = c.take("series", lambda v: parse_series(_text(v)))
    specialty = c.take("specialty", lambda v: _text(v, max_len=64))
    level: Level | None = c.take("level", lambda v: parse_level(_text(v)))
    qualification = c.take("qualification_name", lambda v: _text(v, max_len=64))
    attending = c.take("members_attending", lambda v: _count(v, minimum=1))
    votes_for = c.take("votes_for", lambda v: _count(v, minimum=0))
    stated_result = c.take("result", _result)
    year = c.take("year", lambda v: None if _blank(v) else _count(v, minimum=1, maximum=MAX_YEAR))

    identity = c.identity(id_type, country_text or None, today) if id_type else None
    if identity is not None:
        # Neither value is shown: the one in the number is part of it, and the column's own
        # value is, in the usual case of a mistyped number, the number's true birth date.
        if birth_date is not None and identity.birth_date not in (None, birth_date):
            c.fail("birth_date", "does not match the birth date encoded in the identity number")
        if gender is not None and identity.gender not in (None, gender):
            c.fail("gender", "does not match the gender encoded in the identity number")
    if birth_date and review_date:
        if review_date <= birth_date:
            c.fail("review_date", "is not after the birth date")
        elif _age(birth_date, review_date) < MIN_AGE_AT_REVIEW:
            c.fail(
                "birth_date",
                f"the person would be younger than {MIN_AGE_AT_REVIEW} at the review date",
            )
    if (
        review_date is not None
        and year is not None
        and year not in (review_date.year - 1, review_date.year)
    ):
        c.fail(
            "year",
            f"{year} does not fit the review date {review_date.isoformat()} "
            "(expected that year or the year before)",
        )
    passed = None
    if attending is not None and votes_for is not None:
        if votes_for > attending:
            c.fail("votes_for", f"{votes_for} votes for, but only {attending} members attended")
        else:
            passed = passes_vote(votes_for, attending)
            if stated_result is not None and stated_result != passed:
                c.fail(
                    "result",
                    f"says {'通过' if stated_result else '未通过'} but "
                    f"{votes_for} of {attending} is {'at least' if passed else 'under'} "
                    "two thirds",
                )
    if attending is not None and committee_size is not None:
        if attending > committee_size:
            c.fail(
                "members_attending",
                f"{attending} attended, but the committee has only {committee_size} members",
            )
        elif not has_quorum(attending, committee_size):
            c.fail(
                "members_attending",
                f"{attending} of {committee_size} members is under the two-thirds quorum",
            )

    if c.errors:
        return c.errors
    assert name and identity and gender and birth_date and work_unit and mobile
    assert committee_name and committee_size and review_date and series and specialty
    assert level and qualification and attending and votes_for is not None
    assert passed is not None
    key = SessionKey(year or review_date.year, committee_name, series.name, specialty, level)
    return RosterRow(
        raw.number,
        name,
        identity,
        gender,
        birth_date,
        work_unit,
        mobile,
        key,
        qualification,
        committee_size,
        review_date,
        attending,
        votes_for,
        passed,
        (identity.id_type, identity.country, identity.number),
    )


def _blank(value: CellValue) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: CellValue, *, required: bool = True, max_len: int = 200) -> str:
    if _blank(value):
        if required:
            raise FieldError("is empty")
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text, problem = _clean_text(str(value))
    if problem:
        raise FieldError(problem)
    if len(text) > max_len:
        raise FieldError(f"is {len(text)} characters long; at most {max_len} allowed")
    return text


# Text a spreadsheet would run as a formula (CSV injection): '=' anything, '@' anything, and
# '+' or '-' before a letter or '(' such as +HYPERLINK(...). A mobile number "+8613800138000",
# a negative count "-1" or a lone "-" are not formulas.
_FORMULA = re.compile(r"=|@|[+\-]\s*[A-Za-z(]")
_WHITESPACE_TO_FOLD = re.compile(r"\s{2,}|[^\S ]")
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@lru_cache(maxsize=65536)
def _clean_text(raw: str) -> tuple[str, str]:
    """NFC, trimmed, inner whitespace folded; and a reason if a character is not allowed or
    the text looks like a spreadsheet formula.

    Cached: most roster cells (committee, series, work unit, dates) repeat row after row.
    """
    text = raw.strip()
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if _WHITESPACE_TO_FOLD.search(text):
        text = re.sub(r"\s+", " ", text)
    if _FORMULA.match(text):
        return text, (
            f"starts with {text[0]!r} and looks like a spreadsheet formula; formulas are not "
            "accepted (they would run when the data is exported to a spreadsheet again): "
            "enter the value itself"
        )
    if text.isascii():
        bad = _ASCII_CONTROL.search(text)
        if bad:
            return text, f"contains U+{ord(bad.group()):04X}, a control character"
        return text, ""
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Co"):
            return text, f"contains U+{ord(ch):04X}, a control or private-use character"
    return text, ""


# Names repeat across a large roster (王伟, 李静 …): validate each spelling once.
_cached_name = lru_cache(maxsize=65536)(normalize_name)


def _raw(value: CellValue) -> str:
    if _blank(value):
        raise FieldError("is empty")
    return str(value)


def _digits_text(value: CellValue) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _text(value)


def _id_number_text(value: CellValue) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise FieldError(
            "is stored as a number; spreadsheets keep only 15 significant digits, so it may "
            "already be damaged: format the column as text and enter the number again"
        )
    return _text(value, max_len=40)


# The accepted shapes of a date written as text, each exactly: a year of four digits, and a
# month and day of two digits except where the shape says M or D (one or two digits).
_DATE_SHAPES = tuple(
    re.compile(pattern)
    for pattern in (
        r"([0-9]{4})-([0-9]{2})-([0-9]{2})",  # YYYY-MM-DD
        r"([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})",  # YYYY/M/D, YYYY/MM/DD
        r"([0-9]{4})([0-9]{2})([0-9]{2})",  # YYYYMMDD
        r"([0-9]{4})\.([0-9]{2})\.([0-9]{2})",  # YYYY.MM.DD
        r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日",  # YYYY年M月D日
    )
)
_DATE_HINT = "write it as YYYY-MM-DD (also YYYY/M/D, YYYYMMDD, YYYY.MM.DD or YYYY年M月D日)"


def _date(value: CellValue, *, today: date, private: bool = False) -> date:
    """A date cell or text. ``private``: the reasons do not repeat the value (a birth date is
    part of a resident ID number)."""
    if isinstance(value, datetime):
        parsed = value.date()
    elif isinstance(value, date):
        parsed = value
    else:
        text = _text(value)
        try:
            parsed = _parse_date_text(text)
        except FieldError as exc:
            raise FieldError(exc.reason if private else f"{text!r} {exc.reason}") from None
    shown = "" if private else f"{parsed.isoformat()} "
    if parsed > today:
        raise FieldError(f"{shown}is in the future")
    if parsed.year < 1900:
        raise FieldError(f"{shown}is before 1900")
    return parsed


@lru_cache(maxsize=65536)
def _parse_date_text(text: str) -> date:
    for shape in _DATE_SHAPES:
        match = shape.fullmatch(text)
        if match is not None:
            year, month, day = (int(part) for part in match.groups())
            try:
                return date(year, month, day)
            except ValueError:
                raise FieldError(f"is not a date: there is no such day; {_DATE_HINT}") from None
    raise FieldError(f"is not a date; {_DATE_HINT}")


def _count(value: CellValue, *, minimum: int, maximum: int = MAX_COUNT) -> int:
    if isinstance(value, bool):
        raise FieldError("is not a whole number")
    if isinstance(value, float):
        if not value.is_integer():
            raise FieldError(f"{value} is not a whole number")
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        text = _text(value)
        if not re.fullmatch(r"[0-9]+", text):
            raise FieldError(f"{text!r} is not a whole number")
        # Measured as text first: int() of thousands of digits is slow or refused.
        digits = text.lstrip("0") or "0"
        number = int(digits) if len(digits) <= len(str(maximum)) else maximum + 1
    if number < minimum:
        raise FieldError(f"{number} is less than {minimum}")
    if number > maximum:
        raise FieldError(f"is more than {maximum}, the largest number this column accepts")
    return number


_RESULTS = {
    "通过": True,
    "合格": True,
    "pass": True,
    "passed": True,
    "未通过": False,
    "不通过": False,
    "不合格": False,
    "fail": False,
    "failed": False,
}


def _result(value: CellValue) -> bool | None:
    if _blank(value):
        return None
    text = _text(value)
    try:
        return _RESULTS[text.lower()]
    except KeyError:
        raise FieldError(f"{text!r} is not a result; write 通过 or 未通过") from None


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
