"""Turning one raw roster row into a validated :class:`RosterRow`, or the list of what is wrong.

Every column is checked independently so that one pass reports every problem of a row. Checks
that need more than one column (the identity number against the birth date, the votes against
the committee) run once the columns they need are valid.
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
    GENDER_LABELS,
    Gender,
    IdentityDocument,
    IdType,
    normalize_mobile,
    normalize_name,
    parse_gender,
    parse_id_type,
    validate_identity,
)
from certsvc.roster.reader import CellValue, RawRow

T = TypeVar("T")

MAX_TEXT = {"work_unit": 128, "committee_name": 128, "specialty": 64, "qualification_name": 64}
MIN_AGE_AT_REVIEW = 16


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    column: str  # column key, e.g. "id_number"
    reason: str

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

    def take(self, column: str, parse: Callable[[CellValue], T]) -> T | None:
        value = self.raw.cells.get(column)
        try:
            return parse(value)
        except FieldError as exc:
            self.fail(column, exc.reason)
            return None


def parse_row(raw: RawRow, *, today: date) -> RosterRow | list[RowError]:
    """Validate one row: a :class:`RosterRow`, or every :class:`RowError` it has."""
    c = _Collector(raw)
    if raw.extra_cells:
        c.fail("row", f"has {raw.extra_cells} non-empty cell(s) to the right of the last header")
    name = c.take("name", lambda v: _cached_name(_raw(v)))
    id_type = c.take("id_type", lambda v: parse_id_type(_text(v)))
    country = _text(raw.cells.get("id_country"), required=False)
    gender = c.take("gender", lambda v: parse_gender(_text(v)))
    birth_date = c.take("birth_date", lambda v: _date(v, today=today))
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
    year = c.take("year", lambda v: None if _blank(v) else _count(v, minimum=1))

    identity = None
    if id_type is not None:
        identity = c.take(
            "id_number",
            lambda v: validate_identity(id_type, _id_number_text(v), country or None, today=today),
        )
        if identity is None and id_type is IdType.FOREIGN_PASSPORT and not country:
            c.errors[-1] = RowError(
                raw.number,
                "id_country",
                "required for a foreign passport (ISO 3166 alpha-3, e.g. USA)",
            )
    if identity is not None:
        if birth_date is not None and identity.birth_date not in (None, birth_date):
            c.fail(
                "birth_date",
                f"{birth_date.isoformat()} does not match the birth date in "
                f"the identity number ({identity.birth_date.isoformat()})",
            )
        if gender is not None and identity.gender not in (None, gender):
            c.fail(
                "gender",
                f"{GENDER_LABELS[gender]} does not match the identity number "
                f"(which encodes {GENDER_LABELS[identity.gender]})",
            )
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


_WHITESPACE_TO_FOLD = re.compile(r"\s{2,}|[^\S ]")
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@lru_cache(maxsize=65536)
def _clean_text(raw: str) -> tuple[str, str]:
    """NFC, trimmed, inner whitespace folded; and a reason if a character is not allowed.

    Cached: most roster cells (committee, series, work unit, dates) repeat row after row.
    """
    text = raw.strip()
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if _WHITESPACE_TO_FOLD.search(text):
        text = re.sub(r"\s+", " ", text)
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


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日")


def _date(value: CellValue, *, today: date) -> date:
    if isinstance(value, datetime):
        parsed = value.date()
    elif isinstance(value, date):
        parsed = value
    else:
        parsed = _parse_date_text(_text(value))
    if parsed > today:
        raise FieldError(f"{parsed.isoformat()} is in the future")
    if parsed.year < 1900:
        raise FieldError(f"{parsed.isoformat()} is before 1900")
    return parsed


@lru_cache(maxsize=65536)
def _parse_date_text(text: str) -> date:
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise FieldError(f"{text!r} is not a date; write it as YYYY-MM-DD")


def _count(value: CellValue, *, minimum: int) -> int:
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
        if not re.fullmatch(r"[0-9]{1,6}", text):
            raise FieldError(f"{text!r} is not a whole number")
        number = int(text)
    if number < minimum:
        raise FieldError(f"{number} is less than {minimum}")
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
